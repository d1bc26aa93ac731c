import NIOCore

/// One remembered Error callback, from the daemon's durable history.
public struct ErrorEntry: Hashable, Sendable {
    public var store: String
    public var run: RunID
    public var time: Timestamp
    public var code: SyncStatus
    public var message: String

    public init(store: String, run: RunID, time: Timestamp, code: SyncStatus, message: String) {
        self.store = store
        self.run = run
        self.time = time
        self.code = code
        self.message = message
    }

    func write(to buffer: inout ByteBuffer) {
        buffer.writeWireString(store)
        buffer.writeInteger(run)
        buffer.writeTimestamp(time)
        buffer.writeInteger(code.rawValue)
        buffer.writeWireString(message)
    }

    static func read(from buffer: inout ByteBuffer) throws(ProtocolError) -> ErrorEntry {
        let store = try buffer.readWireString()
        let run: RunID = try buffer.readWireInteger()
        let time = try buffer.readTimestamp()
        let code = SyncStatus(rawValue: try buffer.readWireInteger())
        return ErrorEntry(store: store, run: run, time: time, code: code, message: try buffer.readWireString())
    }
}

/// The answer to an errors request: the history, oldest first.
public struct ErrorHistory: Hashable, Sendable {
    public var requestID: UInt32
    public var entries: [ErrorEntry]
    /// Older entries left out to keep the answer within the server's size cap (0: none).
    public var omitted: UInt32

    public init(requestID: UInt32, entries: [ErrorEntry], omitted: UInt32 = 0) {
        self.requestID = requestID
        self.entries = entries
        self.omitted = omitted
    }

    func write(to buffer: inout ByteBuffer) {
        buffer.writeInteger(requestID)
        buffer.writeInteger(UInt32(entries.count))
        for entry in entries { entry.write(to: &buffer) }
        buffer.writeInteger(omitted)
    }

    static func read(from buffer: inout ByteBuffer) throws(ProtocolError) -> ErrorHistory {
        let id: UInt32 = try buffer.readWireInteger()
        let count = Int(try buffer.readWireInteger(as: UInt32.self))
        // An entry takes at least 26 bytes, so a lying count fails before allocating.
        guard count <= buffer.readableBytes / 26 else { throw .truncatedPayload }
        var entries: [ErrorEntry] = []
        entries.reserveCapacity(count)
        for _ in 0..<count { entries.append(try ErrorEntry.read(from: &buffer)) }
        let omitted: UInt32 = buffer.readableBytes >= 4 ? try buffer.readWireInteger() : 0
        return ErrorHistory(requestID: id, entries: entries, omitted: omitted)
    }
}
