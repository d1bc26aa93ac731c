import NIOCore

/// The standing facts about a store that do not come from its current run.
public struct StoreInfo: Hashable, Sendable {
    /// The provider hosting the store (`imap`, `exec`, `synthetic`, ...).
    public var provider: String
    /// Paused stores are not scheduled.
    public var paused: Bool
    /// The current run reported nothing for longer than the stall limit.
    public var stalled: Bool
    /// Result of the last finished run, nil if it never ran.
    public var lastResult: SyncStatus?
    /// When the last run finished.
    public var lastRunEnded: Timestamp?
    /// When a run last finished without failure (ok or warning).
    public var lastSuccess: Timestamp?
    /// When the scheduler plans the next run, nil if none is planned.
    public var nextRun: Timestamp?

    public init(
        provider: String, paused: Bool = false, stalled: Bool = false, lastResult: SyncStatus? = nil,
        lastRunEnded: Timestamp? = nil, lastSuccess: Timestamp? = nil, nextRun: Timestamp? = nil
    ) {
        self.provider = provider
        self.paused = paused
        self.stalled = stalled
        self.lastResult = lastResult
        self.lastRunEnded = lastRunEnded
        self.lastSuccess = lastSuccess
        self.nextRun = nextRun
    }

    private enum Bits {
        static let paused: UInt8 = 0x01
        static let stalled: UInt8 = 0x02
        static let hasLastResult: UInt8 = 0x04
    }

    func write(to buffer: inout ByteBuffer) {
        buffer.writeWireString(provider)
        var bits: UInt8 = 0
        if paused { bits |= Bits.paused }
        if stalled { bits |= Bits.stalled }
        if lastResult != nil { bits |= Bits.hasLastResult }
        buffer.writeInteger(bits)
        buffer.writeInteger(lastResult?.rawValue ?? 0)
        buffer.writeTimestamp(lastRunEnded)
        buffer.writeTimestamp(lastSuccess)
        buffer.writeTimestamp(nextRun)
    }

    static func read(from buffer: inout ByteBuffer) throws(ProtocolError) -> StoreInfo {
        let provider = try buffer.readWireString()
        let bits: UInt8 = try buffer.readWireInteger()
        let result = SyncStatus(rawValue: try buffer.readWireInteger())
        return StoreInfo(
            provider: provider,
            paused: bits & Bits.paused != 0,
            stalled: bits & Bits.stalled != 0,
            lastResult: bits & Bits.hasLastResult != 0 ? result : nil,
            lastRunEnded: try buffer.readOptionalTimestamp(),
            lastSuccess: try buffer.readOptionalTimestamp(),
            nextRun: try buffer.readOptionalTimestamp())
    }
}
