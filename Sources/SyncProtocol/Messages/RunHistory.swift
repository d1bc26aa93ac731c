import NIOCore

/// One finished run, from the daemon's durable record of recent runs.
public struct RunRecord: Hashable, Sendable {
    public var store: String
    public var run: RunID
    public var flags: SyncFlags
    public var trigger: RunTrigger
    public var started: Timestamp
    public var ended: Timestamp
    public var result: SyncStatus
    /// Error callbacks of the run, split by severity.
    public var warnings: UInt32
    public var errors: UInt32

    public init(
        store: String, run: RunID, flags: SyncFlags, trigger: RunTrigger, started: Timestamp,
        ended: Timestamp, result: SyncStatus, warnings: UInt32 = 0, errors: UInt32 = 0
    ) {
        self.store = store
        self.run = run
        self.flags = flags
        self.trigger = trigger
        self.started = started
        self.ended = ended
        self.result = result
        self.warnings = warnings
        self.errors = errors
    }

    /// The run's length in seconds.
    public var duration: Double { Double(ended.rawValue &- started.rawValue) / 1_000_000 }

    func write(to buffer: inout ByteBuffer) {
        buffer.writeWireString(store)
        buffer.writeInteger(run)
        buffer.writeInteger(flags.rawValue)
        buffer.writeInteger(trigger.rawValue)
        buffer.writeTimestamp(started)
        buffer.writeTimestamp(ended)
        buffer.writeInteger(result.rawValue)
        buffer.writeInteger(warnings)
        buffer.writeInteger(errors)
    }

    static func read(from buffer: inout ByteBuffer) throws(ProtocolError) -> RunRecord {
        let store = try buffer.readWireString()
        let run: RunID = try buffer.readWireInteger()
        let flags = SyncFlags(rawValue: try buffer.readWireInteger())
        let trigger = RunTrigger(rawValue: try buffer.readWireInteger())
        let started = try buffer.readTimestamp()
        let ended = try buffer.readTimestamp()
        let result = SyncStatus(rawValue: try buffer.readWireInteger())
        let warnings: UInt32 = try buffer.readWireInteger()
        return RunRecord(
            store: store, run: run, flags: flags, trigger: trigger, started: started, ended: ended,
            result: result, warnings: warnings, errors: try buffer.readWireInteger())
    }
}

/// The answer to a runs request: recent finished runs, oldest first.
public struct RunHistory: Hashable, Sendable {
    public var requestID: UInt32
    public var runs: [RunRecord]

    public init(requestID: UInt32, runs: [RunRecord]) {
        self.requestID = requestID
        self.runs = runs
    }

    func write(to buffer: inout ByteBuffer) {
        buffer.writeInteger(requestID)
        buffer.writeInteger(UInt32(runs.count))
        for run in runs { run.write(to: &buffer) }
    }

    static func read(from buffer: inout ByteBuffer) throws(ProtocolError) -> RunHistory {
        let id: UInt32 = try buffer.readWireInteger()
        let count = Int(try buffer.readWireInteger(as: UInt32.self))
        // A record takes at least 43 bytes, so a lying count fails before allocating.
        guard count <= buffer.readableBytes / 43 else { throw .truncatedPayload }
        var runs: [RunRecord] = []
        runs.reserveCapacity(count)
        for _ in 0..<count { runs.append(try RunRecord.read(from: &buffer)) }
        return RunHistory(requestID: id, runs: runs)
    }
}
