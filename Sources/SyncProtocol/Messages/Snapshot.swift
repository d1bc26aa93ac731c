import NIOCore

/// Every store's state as of event `seq`: what a new viewer sees before live events.
///
/// Events with a sequence number above `seq` follow it; none at or below it do.
public struct Snapshot: Hashable, Sendable {
    public var seq: UInt64
    public var stores: [StoreStatus]

    public init(seq: UInt64, stores: [StoreStatus]) {
        self.seq = seq
        self.stores = stores
    }

    func write(to buffer: inout ByteBuffer) {
        buffer.writeInteger(seq)
        buffer.writeInteger(UInt32(stores.count))
        for store in stores { store.write(to: &buffer) }
        // The records' layout is fixed for protocol 1, so what 0.2 added follows them all.
        for store in stores { store.info.writeSchedule(to: &buffer) }
        // And what 0.4 added follows the schedules, so 0.2 and 0.3 readers never see it.
        for store in stores { store.info.writePush(to: &buffer) }
    }

    static func read(from buffer: inout ByteBuffer) throws(ProtocolError) -> Snapshot {
        let seq: UInt64 = try buffer.readWireInteger()
        let count = Int(try buffer.readWireInteger(as: UInt32.self))
        // A store entry takes at least 40 bytes, so a lying count fails before allocating.
        guard count <= buffer.readableBytes / 40 else { throw .truncatedPayload }
        var stores: [StoreStatus] = []
        stores.reserveCapacity(count)
        for _ in 0..<count { stores.append(try StoreStatus.read(from: &buffer)) }
        // Absent from servers before 0.2.
        if buffer.readableBytes > 0 {
            for index in stores.indices { try stores[index].info.readSchedule(from: &buffer) }
        }
        // Absent from servers before 0.4.
        if buffer.readableBytes > 0 {
            for index in stores.indices { try stores[index].info.readPush(from: &buffer) }
        }
        return Snapshot(seq: seq, stores: stores)
    }
}

/// One store in a ``Snapshot``.
public struct StoreStatus: Hashable, Sendable {
    public var name: String
    public var info: StoreInfo
    /// The run in progress, nil when idle.
    public var run: RunStatus?

    public init(name: String, info: StoreInfo, run: RunStatus? = nil) {
        self.name = name
        self.info = info
        self.run = run
    }

    func write(to buffer: inout ByteBuffer) {
        buffer.writeWireString(name)
        info.write(to: &buffer)
        guard let run else {
            buffer.writeInteger(RunID(0))
            return
        }
        run.write(to: &buffer)
    }

    static func read(from buffer: inout ByteBuffer) throws(ProtocolError) -> StoreStatus {
        let name = try buffer.readWireString()
        let info = try StoreInfo.read(from: &buffer)
        return StoreStatus(name: name, info: info, run: try RunStatus.read(from: &buffer))
    }
}

/// The run in progress on a store, folded from its events so far.
public struct RunStatus: Hashable, Sendable {
    public var id: RunID
    public var flags: SyncFlags
    public var trigger: RunTrigger
    public var started: Timestamp
    /// The latest Progress: step text (nil if none was ever given), index and max.
    public var step: String?
    public var index: UInt32
    public var max: UInt32
    /// Error callbacks so far in this run, split by severity.
    public var warnings: UInt32
    public var errors: UInt32

    public init(
        id: RunID, flags: SyncFlags, trigger: RunTrigger, started: Timestamp, step: String? = nil,
        index: UInt32 = 0, max: UInt32 = 0, warnings: UInt32 = 0, errors: UInt32 = 0
    ) {
        self.id = id
        self.flags = flags
        self.trigger = trigger
        self.started = started
        self.step = step
        self.index = index
        self.max = max
        self.warnings = warnings
        self.errors = errors
    }

    /// Completion in 0...1, nil when the provider gave no max.
    public var fraction: Double? {
        guard max > 0 else { return nil }
        return Swift.min(1, Double(index) / Double(max))
    }

    func write(to buffer: inout ByteBuffer) {
        buffer.writeInteger(id)
        buffer.writeInteger(flags.rawValue)
        buffer.writeInteger(trigger.rawValue)
        buffer.writeTimestamp(started)
        buffer.writeInteger(index)
        buffer.writeInteger(max)
        buffer.writeOptionalWireString(step)
        buffer.writeInteger(warnings)
        buffer.writeInteger(errors)
    }

    /// Reads a run, or nil for the 0 run id that marks an idle store.
    static func read(from buffer: inout ByteBuffer) throws(ProtocolError) -> RunStatus? {
        let id: RunID = try buffer.readWireInteger()
        guard id != 0 else { return nil }
        let flags = SyncFlags(rawValue: try buffer.readWireInteger())
        let trigger = RunTrigger(rawValue: try buffer.readWireInteger())
        let started = try buffer.readTimestamp()
        let index: UInt32 = try buffer.readWireInteger()
        let max: UInt32 = try buffer.readWireInteger()
        let step = try buffer.readOptionalWireString()
        return RunStatus(
            id: id, flags: flags, trigger: trigger, started: started, step: step, index: index,
            max: max, warnings: try buffer.readWireInteger(), errors: try buffer.readWireInteger())
    }
}
