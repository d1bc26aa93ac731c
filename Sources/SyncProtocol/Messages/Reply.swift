import NIOCore

/// The answer to a request other than subscribe and status, and to any refused request.
public struct Reply: Hashable, Sendable {
    public var requestID: UInt32
    public var status: SyncStatus
    /// What happened, for people: "sync of mail queued", "permission denied: ...".
    public var message: String

    public init(requestID: UInt32, status: SyncStatus, message: String) {
        self.requestID = requestID
        self.status = status
        self.message = message
    }

    func write(to buffer: inout ByteBuffer) {
        buffer.writeInteger(requestID)
        buffer.writeInteger(status.rawValue)
        buffer.writeWireString(message)
    }

    static func read(from buffer: inout ByteBuffer) throws(ProtocolError) -> Reply {
        let id: UInt32 = try buffer.readWireInteger()
        let status = SyncStatus(rawValue: try buffer.readWireInteger())
        return Reply(requestID: id, status: status, message: try buffer.readWireString())
    }
}

/// The answer to a subscribe request: how the event stream that follows begins.
public struct Subscribed: Hashable, Sendable {
    public var requestID: UInt32
    public var start: Start

    public init(requestID: UInt32, start: Start) {
        self.requestID = requestID
        self.start = start
    }

    public enum Start: Hashable, Sendable {
        /// A ``Snapshot`` frame follows, then events after its `seq`.
        case snapshot
        /// Events after `since` follow at once, replayed; nothing was missed.
        case replay(since: UInt64)
        /// The viewer asked for events after `since`, but the oldest the server still holds is
        /// `oldest`: events in between are lost to this viewer. A ``Snapshot`` follows, then
        /// events after its `seq`.
        case resync(since: UInt64, oldest: UInt64)
    }

    func write(to buffer: inout ByteBuffer) {
        buffer.writeInteger(requestID)
        switch start {
        case .snapshot:
            buffer.writeInteger(UInt8(0))
            buffer.writeInteger(UInt64(0))
            buffer.writeInteger(UInt64(0))
        case .replay(let since):
            buffer.writeInteger(UInt8(1))
            buffer.writeInteger(since)
            buffer.writeInteger(UInt64(0))
        case .resync(let since, let oldest):
            buffer.writeInteger(UInt8(2))
            buffer.writeInteger(since)
            buffer.writeInteger(oldest)
        }
    }

    static func read(from buffer: inout ByteBuffer) throws(ProtocolError) -> Subscribed {
        let id: UInt32 = try buffer.readWireInteger()
        let mode: UInt8 = try buffer.readWireInteger()
        let since: UInt64 = try buffer.readWireInteger()
        let oldest: UInt64 = try buffer.readWireInteger()
        switch mode {
        case 0: return Subscribed(requestID: id, start: .snapshot)
        case 1: return Subscribed(requestID: id, start: .replay(since: since))
        case 2: return Subscribed(requestID: id, start: .resync(since: since, oldest: oldest))
        default: throw .invalidField("subscribe start mode \(mode)")
        }
    }
}

/// The answer to a status request.
public struct StatusReply: Hashable, Sendable {
    public var requestID: UInt32
    public var snapshot: Snapshot
    /// The server's viewers; nil from servers before 0.5, which do not send them.
    public var viewers: ViewerCounts?

    public init(requestID: UInt32, snapshot: Snapshot, viewers: ViewerCounts? = nil) {
        self.requestID = requestID
        self.snapshot = snapshot
        self.viewers = viewers
    }

    func write(to buffer: inout ByteBuffer) {
        buffer.writeInteger(requestID)
        snapshot.write(to: &buffer)
        // After every section of the snapshot, so a reader before 0.5 ignores it (§9).
        viewers?.write(to: &buffer)
    }

    static func read(from buffer: inout ByteBuffer) throws(ProtocolError) -> StatusReply {
        let id: UInt32 = try buffer.readWireInteger()
        let snapshot = try Snapshot.read(from: &buffer)
        let viewers = buffer.readableBytes > 0 ? try ViewerCounts.read(from: &buffer) : nil
        return StatusReply(requestID: id, snapshot: snapshot, viewers: viewers)
    }
}

/// How many viewers a server has, as a status request finds them: what an operator needs to
/// tell "nobody is watching" from "someone is watching and too slow to keep up".
public struct ViewerCounts: Hashable, Sendable {
    /// Connections subscribed to events at the time of the answer (the asking connection is one
    /// only if it subscribed).
    public var watching: UInt32
    /// Viewers disconnected as too slow (Goodbye `too-slow`) since the server started.
    public var droppedAsTooSlow: UInt64

    public init(watching: UInt32, droppedAsTooSlow: UInt64) {
        self.watching = watching
        self.droppedAsTooSlow = droppedAsTooSlow
    }

    func write(to buffer: inout ByteBuffer) {
        buffer.writeInteger(watching)
        buffer.writeInteger(droppedAsTooSlow)
    }

    static func read(from buffer: inout ByteBuffer) throws(ProtocolError) -> ViewerCounts {
        let watching: UInt32 = try buffer.readWireInteger()
        return ViewerCounts(watching: watching, droppedAsTooSlow: try buffer.readWireInteger())
    }
}
