import SyncProtocol

/// What the daemon does with the requests the server cannot answer itself: control requests
/// (sync-now, cancel, pause, resume, reload), the error history and the run history.
///
/// For control requests the server has already checked that the peer may control; the handler
/// decides the rest and its answer goes back to the viewer as a ``Reply`` (or an ``ErrorHistory``
/// when the result carries entries). It may take its time: the viewer's other traffic goes on.
public protocol ControlHandler: Sendable {
    func handle(_ command: Request.Command, from peer: PeerCredentials) async -> ControlResult
}

/// The outcome of a control request.
public struct ControlResult: Hashable, Sendable {
    public var status: SyncStatus
    /// For people: what happened, or what to do about the failure.
    public var message: String

    /// The answer to an errors request; nil for everything else.
    public var errors: [ErrorEntry]?
    /// Older entries of that answer left out to keep it within the size cap.
    public var omitted: UInt32 = 0
    /// The answer to a runs request; nil for everything else.
    public var runs: [RunRecord]?

    public init(_ status: SyncStatus, _ message: String) {
        self.status = status
        self.message = message
    }

    public init(errors: [ErrorEntry], omitted: UInt32 = 0) {
        self.status = .ok
        self.message = ""
        self.errors = errors
        self.omitted = omitted
    }

    public init(runs: [RunRecord]) {
        self.status = .ok
        self.message = ""
        self.runs = runs
    }
}
