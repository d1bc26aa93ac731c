import SyncProtocol

/// Decides which store runs when: a pure state machine the daemon drives with the clock.
///
/// Rules: one run per store at a time; at most `maxConcurrent` runs; on-demand requests start
/// before scheduled ones; a paused store is not scheduled; after a failure the store is retried
/// with exponential backoff and jitter (never later than its normal interval).
struct Scheduler {
    typealias Instant = ContinuousClock.Instant

    struct Entry {
        var interval: Duration?
        var flags: SyncFlags
        var paused = false
        /// Waiting for a login: not scheduled, not startable on demand, until ``authorized(_:now:)``.
        var authRequired = false
        var running = false
        /// When the next scheduled (or retry) run is due; nil when none is planned.
        var due: Instant?
        var dueTrigger = RunTrigger.schedule
        /// A queued on-demand request's flags.
        var demand: SyncFlags?
        /// A queued targeted run a listener asked for (push), with the scopes merged.
        var push: SyncScope?
        /// The running run is a push run: it leaves the store's schedule as it was.
        var runningPush = false
        /// Failed runs in a row.
        var failures = 0
    }

    /// What to start.
    struct Start: Equatable {
        var store: String
        var flags: SyncFlags
        var trigger: RunTrigger
        /// Set for a push run: what it is to cover.
        var scope: SyncScope?
    }

    enum Answer: Equatable {
        case queued
        case alreadyQueued
        /// Queued to follow the store's current run.
        case queuedBehindRun
        case busy
        case paused
        case authRequired
        case unknown
    }

    private(set) var entries: [String: Entry] = [:]
    var maxConcurrent: Int
    var retryAfter: Duration
    var maxBackoff: Duration
    /// No network (``Connectivity``): only on-demand runs start. A scheduled run or retry that
    /// falls due meanwhile waits, its store's failure count and backoff as they were, until
    /// ``catchUp(_:now:)`` once the network is back; a push run waits the same way.
    var offline = false

    init(maxConcurrent: Int, retryAfter: Duration, maxBackoff: Duration) {
        self.maxConcurrent = maxConcurrent
        self.retryAfter = retryAfter
        self.maxBackoff = maxBackoff
    }

    var runningCount: Int { entries.values.filter(\.running).count }

    /// Adds a store, or updates one (a change takes effect from its next run).
    mutating func configure(
        _ store: String, interval: Duration?, flags: SyncFlags, runAtStartup: Bool, paused: Bool, authRequired: Bool = false,
        now: Instant
    ) {
        if var entry = entries[store] {
            if entry.interval != interval, !entry.running, entry.failures == 0 {
                entry.due = interval.map { now + $0 }
            }
            entry.interval = interval
            entry.flags = flags
            entries[store] = entry
            return
        }
        var entry = Entry(interval: interval, flags: flags, paused: paused, authRequired: authRequired)
        if runAtStartup {
            entry.due = now
            entry.dueTrigger = .startup
        } else {
            entry.due = interval.map { now + $0 }
        }
        entries[store] = entry
    }

    mutating func remove(_ store: String) {
        entries[store] = nil
    }

    /// A person asked for a run now.
    mutating func requestNow(_ store: String, flags: SyncFlags) -> Answer {
        guard var entry = entries[store] else { return .unknown }
        if entry.paused { return .paused }
        if entry.authRequired { return .authRequired }
        if entry.running {
            // Outgoing mail only (syncd-sendmail): the message may be newer than what the current
            // run took from the outbox, so one run follows it. A person's sync joins the current run.
            guard flags.subtracting(.onDemand) == .outgoingMail else { return .busy }
            if entry.demand != nil { return .alreadyQueued }
            entry.demand = flags.union(.onDemand)
            entries[store] = entry
            return .queuedBehindRun
        }
        if entry.demand != nil { return .alreadyQueued }
        entry.demand = (flags.isEmpty ? entry.flags : flags).union(.onDemand)
        entries[store] = entry
        return .queued
    }

    /// A listener saw a change: queues a targeted run (merged with one already queued). Kept while
    /// the store runs, since the change may be newer than what the run has read. Nothing for a
    /// paused store or one waiting for a login.
    @discardableResult
    mutating func requestPush(_ store: String, scope: SyncScope) -> Bool {
        guard var entry = entries[store], !entry.paused, !entry.authRequired else { return false }
        entry.push = entry.push.map { $0.merged(with: scope) } ?? scope
        entries[store] = entry
        return true
    }

    /// After the machine woke up or the network came back: the store's next run, now (unless it
    /// runs, is paused or waits for a login), in place of its interval's.
    mutating func catchUp(_ store: String, now: Instant) {
        guard var entry = entries[store], !entry.paused, !entry.authRequired, !entry.running else { return }
        entry.due = now
        if entry.dueTrigger != .retry { entry.dueTrigger = .schedule }
        entries[store] = entry
    }

    /// Pauses a store; the caller cancels its run if it has one.
    mutating func pause(_ store: String) -> Bool {
        guard entries[store] != nil else { return false }
        entries[store]!.paused = true
        entries[store]!.demand = nil
        entries[store]!.push = nil
        return true
    }

    /// Resumes a store; a scheduled store runs soon after.
    mutating func resume(_ store: String, now: Instant) -> Bool {
        guard var entry = entries[store] else { return false }
        if entry.paused, entry.interval != nil {
            entry.due = now
            entry.dueTrigger = .schedule
        }
        entry.paused = false
        entries[store] = entry
        return true
    }

    /// Sets whether the store waits for a login. While it does, nothing is scheduled; once it
    /// no longer does (a login completed), it runs soon.
    mutating func setAuthRequired(_ store: String, _ required: Bool, now: Instant) {
        guard var entry = entries[store], entry.authRequired != required else { return }
        entry.authRequired = required
        entry.demand = nil
        if required {
            entry.due = nil
        } else {
            entry.failures = 0
            entry.due = now
            entry.dueTrigger = .schedule
        }
        entries[store] = entry
    }

    /// The runs to start now, on-demand first, within the concurrency cap. They count as running
    /// until ``finished(_:result:now:jitter:)``.
    mutating func takeDue(now: Instant) -> [Start] {
        var free = maxConcurrent - runningCount
        guard free > 0 else { return [] }
        var starts: [Start] = []
        for store in waitingLine(now: now) where free > 0 {
            var entry = entries[store]!
            if let demand = entry.demand {
                starts.append(Start(store: store, flags: demand, trigger: .onDemand))
                entry.demand = nil
                entry.due = nil
            } else if let push = entry.push, !(entry.due.map { $0 <= now } ?? false) {
                // The schedule stays: a push run covers a few folders, not the whole store.
                starts.append(Start(store: store, flags: entry.flags, trigger: .push, scope: push))
                entry.runningPush = true
            } else {
                starts.append(Start(store: store, flags: entry.flags, trigger: entry.dueTrigger))
                entry.due = nil
            }
            // Any whole run covers what a queued push asked for.
            entry.push = nil
            entry.running = true
            entries[store] = entry
            free -= 1
        }
        return starts
    }

    /// Records a finished run and plans the next: the interval after success or a cancel, a
    /// backoff retry after failure. `jitter` in 0.8...1.2 spreads retries. A refused login or a
    /// broken store config waits for the interval: retrying soon cannot fix a password, and
    /// servers lock accounts after repeated failed logins.
    mutating func finished(_ store: String, result: SyncStatus, now: Instant, jitter: Double = 1) {
        guard var entry = entries[store] else { return }
        entry.running = false
        let wasPush = entry.runningPush
        entry.runningPush = false
        if wasPush, !result.isFailure, entry.due != nil || entry.interval == nil {
            entries[store] = entry  // the interval's run is still due when it was
            return
        }
        entry.dueTrigger = .schedule
        let failed = result.isFailure && ![.cancelled, .paused, .shuttingDown].contains(result)
        if failed {
            entry.failures += 1
        } else if !result.isFailure {
            entry.failures = 0
        }
        if result == .authRequired {
            // Nothing but a person logging in helps: no run until then, however long.
            entry.authRequired = true
            entry.due = nil
            entry.demand = nil
        } else if failed, ![.authFailed, .config].contains(result) {
            if let interval = entry.interval {
                let exponent = min(entry.failures - 1, 30)
                let backoff = min(maxBackoff, retryAfter * Double(1 << exponent))
                entry.due = now + min(interval, backoff * jitter)
                entry.dueTrigger = .retry
            }
        } else {
            entry.due = entry.interval.map { now + $0 }
        }
        entries[store] = entry
    }

    /// The stores waiting for a free slot, in the order they will start: each is due (or asked
    /// for) but the concurrency cap holds it back.
    func waitingLine(now: Instant) -> [String] {
        let idle = entries.filter { !$0.value.running && !$0.value.paused && !$0.value.authRequired }
        let demanded = idle.filter { $0.value.demand != nil }.keys.sorted()
        if offline { return demanded }
        let pushed = idle.filter { $0.value.demand == nil && $0.value.push != nil }.keys.sorted()
        let scheduled = idle.filter { $0.value.demand == nil && $0.value.push == nil && ($0.value.due.map { $0 <= now } ?? false) }
            .sorted { ($0.value.due!, $0.key) < ($1.value.due!, $1.key) }.map(\.key)
        return demanded + pushed + scheduled
    }

    /// Which retry the store's next run is (1 for the first after a failure), 0 if it is not one.
    func retry(_ store: String) -> Int {
        guard let entry = entries[store], entry.dueTrigger == .retry, entry.due != nil else { return 0 }
        return entry.failures
    }

    /// When something is next due (for the daemon's sleep), nil if nothing is planned (or all of
    /// it waits for the network).
    func nextDue() -> Instant? {
        guard !offline else { return nil }
        return entries.values.filter { !$0.paused && !$0.running && !$0.authRequired }.compactMap(\.due).min()
    }

    func due(_ store: String) -> Instant? {
        guard let entry = entries[store], !entry.paused, !entry.running, !entry.authRequired else { return nil }
        if offline { return entry.demand != nil ? .now : nil }
        return entry.demand != nil || entry.push != nil ? .now : entry.due
    }
}
