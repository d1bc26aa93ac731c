import Logging
import Synchronization
import SyncProtocol

/// What a targeted run covers: the folders a listener saw change, and whether only local changes
/// are to be uploaded (nothing new was announced by the server).
///
/// A provider that gets a scope may do more than it asks (a whole run is always correct), never less.
public struct SyncScope: Sendable, Hashable, CustomStringConvertible {
    /// The folders to synchronise, named as the provider names them (`INBOX`, `Lists/swift`).
    public var folders: Set<String>
    /// True when every change behind this run was made locally (a file in the Maildir changed):
    /// the provider may skip asking the server for news.
    public var localOnly: Bool

    public init(folders: Set<String>, localOnly: Bool = false) {
        self.folders = folders
        self.localOnly = localOnly
    }

    /// Both scopes at once: what a run must cover when two requests are coalesced into one.
    public func merged(with other: SyncScope) -> SyncScope {
        SyncScope(folders: folders.union(other.folders), localOnly: localOnly && other.localOnly)
    }

    public var description: String {
        (localOnly ? "local changes in " : "") + (folders.isEmpty ? "no folder" : folders.sorted().joined(separator: ", "))
    }
}

/// A provider that can listen for changes between runs (push): IMAP IDLE on the server's side,
/// inotify on the Maildir's.
///
/// The host calls ``listen(_:)`` in a long-lived task of its own once the store is configured and
/// not paused, and cancels it when the store is paused, changed by a reload or removed, before
/// the machine sleeps, and at shutdown. If `listen` returns or throws, the host starts it again
/// after a backoff (1 s doubling to 5 min; reset once a listener lasted a minute), so a provider
/// may simply throw on a lost connection, though one that reconnects itself can say why and when
/// through ``ListenerHost/setState(_:detail:)``.
///
/// A listener never synchronises anything itself: it asks the host for a targeted run
/// (``ListenerHost/requestRun(_:)``), which the host coalesces (requests within 100 ms become one
/// run, one run waits per store, scopes merge) and starts like an on-demand run, with trigger
/// `push`. The store's interval keeps running as a safety net.
public protocol ChangeListening: StoreProvider {
    /// Listens until cancelled. Must react to task cancellation within a second.
    func listen(_ host: ListenerHost) async throws
}

/// The host's side of a store's listener: where it asks for runs and reports how it is doing.
/// Safe to call from any task or thread.
public final class ListenerHost: Sendable {
    public let store: String
    /// Tagged with the store (`STORE=`) and `component=push`.
    public let logger: Logger
    /// The daemon's state directory (see ``SyncRequest/stateDirectory``).
    public let stateDirectory: String

    enum Event: Sendable {
        case run(SyncScope)
        case state(PushState, String?)
        case outbox(UInt32, Timestamp?)
    }

    private let sink: @Sendable (Event) -> Void
    private let activity = Mutex(Activity())

    struct Activity {
        var running = false
        var lastEnded: ContinuousClock.Instant?
    }

    init(store: String, logger: Logger, stateDirectory: String, sink: @escaping @Sendable (Event) -> Void) {
        self.store = store
        self.logger = logger
        self.stateDirectory = stateDirectory
        self.sink = sink
    }

    /// Asks for a targeted run of `scope`; returns at once. Cheap: call it for every change seen.
    public func requestRun(_ scope: SyncScope) {
        sink(.run(scope))
    }

    /// Reports the listener's state: `status` shows "push: listening (IDLE, 3 folders)",
    /// "push: reconnecting in 20s (connection reset)" for `.reconnecting` with detail
    /// "in 20s: connection reset".
    public func setState(_ state: PushState, detail: String? = nil) {
        sink(.state(state, detail))
    }

    /// Reports the store's outbox: how many messages wait to be sent, and since when the oldest
    /// waits (nil when none). Shown in `status`; the same as ``SyncCallback/setOutbox(depth:oldest:)``.
    public func setOutbox(depth: UInt32, oldest: Timestamp?) {
        sink(.outbox(depth, oldest))
    }

    /// Reads one of the store's secrets (a password), as a run would.
    public func secret(_ source: SecretSource) throws -> String {
        try source.resolve()
    }

    /// Whether a run of the store is in progress now: changes it makes to the store are its own.
    public var isRunning: Bool { activity.withLock { $0.running } }

    /// Whether a change seen now may be the store's own run's doing: a run is in progress, or one
    /// ended less than `grace` ago (its last writes may still be arriving as events).
    public func mayBeOwnChange(grace: Duration = .milliseconds(300)) -> Bool {
        activity.withLock { activity in
            activity.running || activity.lastEnded.map { ContinuousClock.now - $0 < grace } ?? false
        }
    }

    func runStarted() {
        activity.withLock { $0.running = true }
    }

    func runEnded() {
        activity.withLock {
            $0.running = false
            $0.lastEnded = .now
        }
    }
}
