import NIOCore

/// The standing facts about a store that do not come from its current run.
public struct StoreInfo: Hashable, Sendable {
    /// The provider hosting the store (`imap`, `exec`, `synthetic`, ...).
    public var provider: String
    /// Paused stores are not scheduled.
    public var paused: Bool
    /// The current run reported nothing for longer than the stall limit.
    public var stalled: Bool
    /// The store waits for a person to log in (`syncctl login STORE`) and is not scheduled
    /// meanwhile: its login was refused for good (an OAuth2 refresh token revoked), it never
    /// logged in, or a login it was asked for is under way.
    public var authRequired: Bool
    /// Result of the last finished run, nil if it never ran.
    public var lastResult: SyncStatus?
    /// When the last run finished.
    public var lastRunEnded: Timestamp?
    /// When a run last finished without failure (ok or warning).
    public var lastSuccess: Timestamp?
    /// When the scheduler plans the next run, nil if none is planned.
    public var nextRun: Timestamp?
    /// The store's place in the line of runs waiting for a free slot (`max_concurrent_runs`):
    /// 1 is next; 0 when it is not waiting.
    public var queuePlace: UInt32
    /// When the next run is a retry after failed runs, which retry it is (1 for the first);
    /// 0 when the next run is an ordinary one. ``nextRun`` says when.
    public var retry: UInt32
    /// Why the store is retrying: the failure that ended its last run, for people.
    public var retryReason: String?
    /// The configured time between scheduled runs, in seconds; 0 for a store run on demand only.
    public var interval: UInt32
    /// The configured flags of its scheduled runs (on-demand runs may ask for others).
    public var flags: SyncFlags
    /// Whether the store's provider listens for changes between runs, and how that goes.
    public var push: PushState
    /// The listener's state for people: "IDLE, 3 folders", "in 20s: connection reset".
    public var pushDetail: String?
    /// Messages waiting in the store's outbox (0 for a store without one).
    public var outboxDepth: UInt32
    /// When the oldest message waiting in the outbox was queued; nil when it is empty.
    public var outboxOldest: Timestamp?

    public init(
        provider: String, paused: Bool = false, stalled: Bool = false, authRequired: Bool = false, lastResult: SyncStatus? = nil,
        lastRunEnded: Timestamp? = nil, lastSuccess: Timestamp? = nil, nextRun: Timestamp? = nil,
        queuePlace: UInt32 = 0, retry: UInt32 = 0, retryReason: String? = nil, interval: UInt32 = 0,
        flags: SyncFlags = [], push: PushState = .notConfigured, pushDetail: String? = nil, outboxDepth: UInt32 = 0,
        outboxOldest: Timestamp? = nil
    ) {
        self.provider = provider
        self.paused = paused
        self.stalled = stalled
        self.authRequired = authRequired
        self.lastResult = lastResult
        self.lastRunEnded = lastRunEnded
        self.lastSuccess = lastSuccess
        self.nextRun = nextRun
        self.queuePlace = queuePlace
        self.retry = retry
        self.retryReason = retryReason
        self.interval = interval
        self.flags = flags
        self.push = push
        self.pushDetail = pushDetail
        self.outboxDepth = outboxDepth
        self.outboxOldest = outboxOldest
    }

    private enum Bits {
        static let paused: UInt8 = 0x01
        static let stalled: UInt8 = 0x02
        static let hasLastResult: UInt8 = 0x04
        static let authRequired: UInt8 = 0x08
    }

    /// The fields of protocol 1.0, whose layout inside a snapshot record is fixed.
    func write(to buffer: inout ByteBuffer) {
        buffer.writeWireString(provider)
        var bits: UInt8 = 0
        if paused { bits |= Bits.paused }
        if stalled { bits |= Bits.stalled }
        if lastResult != nil { bits |= Bits.hasLastResult }
        if authRequired { bits |= Bits.authRequired }
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
            authRequired: bits & Bits.authRequired != 0,
            lastResult: bits & Bits.hasLastResult != 0 ? result : nil,
            lastRunEnded: try buffer.readOptionalTimestamp(),
            lastSuccess: try buffer.readOptionalTimestamp(),
            nextRun: try buffer.readOptionalTimestamp())
    }

    /// The fields added in 0.2 (queue place, retry, interval, flags): at the end of a
    /// StoreChanged, and in a section after a snapshot's records, where older viewers ignore them.
    func writeSchedule(to buffer: inout ByteBuffer) {
        buffer.writeInteger(queuePlace)
        buffer.writeInteger(retry)
        buffer.writeOptionalWireString(retryReason)
        buffer.writeInteger(interval)
        buffer.writeInteger(flags.rawValue)
    }

    mutating func readSchedule(from buffer: inout ByteBuffer) throws(ProtocolError) {
        queuePlace = try buffer.readWireInteger()
        retry = try buffer.readWireInteger()
        retryReason = try buffer.readOptionalWireString()
        interval = try buffer.readWireInteger()
        flags = SyncFlags(rawValue: try buffer.readWireInteger())
    }

    /// The fields added in 0.4 (push state and detail, outbox depth and oldest): after the 0.2
    /// fields of a StoreChanged, and in a section of their own after a snapshot's schedules.
    func writePush(to buffer: inout ByteBuffer) {
        buffer.writeInteger(push.rawValue)
        buffer.writeOptionalWireString(pushDetail)
        buffer.writeInteger(outboxDepth)
        buffer.writeTimestamp(outboxOldest)
    }

    mutating func readPush(from buffer: inout ByteBuffer) throws(ProtocolError) {
        push = PushState(rawValue: try buffer.readWireInteger())
        pushDetail = try buffer.readOptionalWireString()
        outboxDepth = try buffer.readWireInteger()
        outboxOldest = try buffer.readOptionalTimestamp()
    }
}

/// How a store's listener for changes between runs (push) is doing. Unknown values from a newer
/// peer are kept as they are.
public struct PushState: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The store has no listener: its provider offers none, or push is off in its config.
    public static let notConfigured = PushState(rawValue: 0)
    /// Listening: a change becomes a run within about a second.
    public static let listening = PushState(rawValue: 1)
    /// The listener lost its connection and waits to reconnect (the detail says when and why).
    public static let reconnecting = PushState(rawValue: 2)
    /// The server offers nothing to listen with (no IDLE): the interval alone syncs the store.
    public static let notOffered = PushState(rawValue: 3)
    /// No network: the daemon saw its default route go. No listener runs and no scheduled run or
    /// retry starts (none is counted) until a route is back; every store shows it, listener or not.
    public static let offline = PushState(rawValue: 4)

    public var description: String {
        switch self {
        case .notConfigured: return "off"
        case .listening: return "listening"
        case .reconnecting: return "reconnecting"
        case .notOffered: return "not offered by server"
        case .offline: return "offline"
        default: return "push-\(rawValue)"
        }
    }
}
