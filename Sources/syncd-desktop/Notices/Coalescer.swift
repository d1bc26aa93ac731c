/// Decides when a notification goes out, so that a burst of runs or mail is one notification
/// that updates, never a storm.
///
/// Each store and topic has one slot. Its notification is shown at most once per `window`; what
/// arrives in between is merged into the slot (counts add up) and shown when the window ends, as
/// a replacement of the notification on screen (same id). Once the server says the notification
/// closed, the next one starts counting afresh. A pure state machine: the caller passes the time
/// and carries out what it returns.
struct Coalescer {
    typealias Instant = ContinuousClock.Instant

    struct Slot {
        var content: NoticeContent
        /// The id of this slot's notification on screen; 0 when none (or it closed).
        var notificationID: UInt32 = 0
        var lastShown: Instant?
        /// Merged content waits for the end of the window.
        var pending = false
    }

    let window: Duration
    private(set) var slots: [NoticeKey: Slot] = [:]

    init(window: Duration) { self.window = window }

    /// Takes new content for `key`. Returns true when it is to be shown now (then call
    /// ``shown(_:id:)``); otherwise it waits for ``due(at:)``.
    mutating func offer(_ key: NoticeKey, _ content: NoticeContent, at now: Instant) -> Bool {
        if var slot = slots[key] {
            let onScreen = slot.notificationID != 0 || slot.pending
            slot.content = onScreen ? slot.content.merged(with: content) : content
            if let last = slot.lastShown, now < last + window {
                slot.pending = true
                slots[key] = slot
                return false
            }
            slot.pending = false
            slot.lastShown = now
            slots[key] = slot
            return true
        }
        slots[key] = Slot(content: content, lastShown: now)
        return true
    }

    /// The slots whose window ended with merged content waiting: show them now.
    mutating func due(at now: Instant) -> [NoticeKey] {
        var keys: [NoticeKey] = []
        for (key, slot) in slots where slot.pending {
            if let last = slot.lastShown, now < last + window { continue }
            slots[key]?.pending = false
            slots[key]?.lastShown = now
            keys.append(key)
        }
        return keys.sorted { ($0.store, $0.topic.rawValue) < ($1.store, $1.topic.rawValue) }
    }

    /// When ``due(at:)`` next has something, nil when nothing waits.
    var nextDue: Instant? {
        slots.values.filter(\.pending).compactMap { $0.lastShown.map { $0 + window } }.min()
    }

    func content(_ key: NoticeKey) -> NoticeContent? { slots[key]?.content }

    /// The id a new notification for `key` replaces (0: none).
    func replacing(_ key: NoticeKey) -> UInt32 { slots[key]?.notificationID ?? 0 }

    /// The server showed `key`'s notification as `id`.
    mutating func shown(_ key: NoticeKey, id: UInt32) {
        slots[key]?.notificationID = id
    }

    /// The notification `id` closed: the next one for its slot is new, with fresh counts.
    mutating func closed(id: UInt32) {
        guard id != 0, let key = key(for: id) else { return }
        slots[key]?.notificationID = 0
    }

    /// Withdraws `key`'s content (e.g. the login it asked for happened). Returns the id on screen.
    mutating func withdraw(_ key: NoticeKey) -> UInt32 {
        let id = slots[key]?.notificationID ?? 0
        slots[key]?.notificationID = 0
        slots[key]?.pending = false
        return id
    }

    func key(for id: UInt32) -> NoticeKey? {
        slots.first { $0.value.notificationID == id }?.key
    }
}
