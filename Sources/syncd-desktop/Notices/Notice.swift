import SyncProtocol

/// What a desktop notification is about: one per store and topic is on screen at a time.
struct NoticeKey: Hashable, Sendable {
    enum Topic: String, Hashable, Sendable {
        case newMail, failure, login
    }
    var store: String
    var topic: Topic
}

/// The facts a notification shows, merged while it is on screen or waiting to be shown.
enum NoticeContent: Hashable, Sendable {
    /// New mail: how many since the notification appeared, the newest few summaries, the folders.
    case newMail(count: UInt32, summaries: [NewMessages.Summary], folders: [String])
    /// Failed runs since the notification appeared; the latest one's result and first error.
    case failure(count: Int, result: SyncStatus, message: String?)
    /// The store waits for `syncctl login`; `instructions` once a Login was asked for.
    case login(instructions: String?)

    /// This content with `newer` folded in: counts add up, the newest facts win.
    func merged(with newer: NoticeContent) -> NoticeContent {
        switch (self, newer) {
        case let (.newMail(count, summaries, folders), .newMail(more, newSummaries, newFolders)):
            let allFolders = folders + newFolders.filter { !folders.contains($0) }
            return .newMail(count: count &+ more, summaries: Array((summaries + newSummaries).suffix(NewMessages.maxSummaries)), folders: allFolders)
        case let (.failure(count, _, _), .failure(more, result, message)):
            return .failure(count: count + more, result: result, message: message)
        default:
            return newer
        }
    }
}

/// A button (or the click on the notification itself, `default`) and what it does.
enum NoticeAction: String, Hashable, Sendable {
    case open, sync, login

    var label: String {
        switch self {
        case .open: return "Open"
        case .sync: return "Sync now"
        case .login: return "Log in"
        }
    }
}

/// A notification ready for org.freedesktop.Notifications.Notify.
struct Notice: Hashable, Sendable {
    enum Urgency: UInt8, Sendable { case low = 0, normal = 1, critical = 2 }

    var summary: String
    var body: String
    var urgency: Urgency
    /// Offered when the server has the "actions" capability; the first is also the default (a click).
    var actions: [NoticeAction]
    /// The freedesktop category, e.g. `email.arrived`.
    var category: String

    /// The text and actions for `content` about `store`.
    init(_ content: NoticeContent, store: String) {
        switch content {
        case let .newMail(count, summaries, folders):
            summary = NoticeText.newMailSummary(count: count, summaries: summaries)
            body = NoticeText.newMailBody(count: count, summaries: summaries, store: store, folders: folders)
            urgency = .normal
            actions = [.open]
            category = "email.arrived"
        case let .failure(count, result, message):
            summary = "Sync of \(store) failed" + (count > 1 ? " (\(count) times)" : "")
            body = NoticeText.failureBody(result: result, message: message)
            urgency = .normal
            actions = [.sync]
            category = "transfer.error"
        case let .login(instructions):
            summary = "\(store) needs a login"
            body = instructions ?? "Run: syncctl login \(store)"
            urgency = .critical
            actions = instructions == nil ? [.login] : []
            category = "network.error"
        }
    }
}
