import SyncProtocol

/// What the daemon does with control requests (sync-now, cancel, pause, resume, reload).
///
/// The server has already checked that the peer may control; the handler decides the rest and
/// its answer goes back to the viewer as a ``Reply``. It may take its time: the viewer's other
/// traffic goes on meanwhile.
public protocol ControlHandler: Sendable {
    func handle(_ command: Request.Command, from peer: PeerCredentials) async -> ControlResult
}

/// The outcome of a control request.
public struct ControlResult: Hashable, Sendable {
    public var status: SyncStatus
    /// For people: what happened, or what to do about the failure.
    public var message: String

    public init(_ status: SyncStatus, _ message: String) {
        self.status = status
        self.message = message
    }
}
