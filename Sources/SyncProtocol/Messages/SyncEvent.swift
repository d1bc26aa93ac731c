import NIOCore

/// Identifies one run of one store; unique for the life of the daemon's state directory.
public typealias RunID = UInt64

/// One callback invocation (or store change) as every viewer sees it.
///
/// `seq` is global and strictly increasing across all stores. `run` is 0 for events that belong to
/// no run (``Kind/storeChanged``, ``Kind/storeRemoved``).
public struct SyncEvent: Hashable, Sendable {
    public var seq: UInt64
    public var time: Timestamp
    public var store: String
    public var run: RunID
    public var kind: Kind
    /// How many provider callbacks this event stands for: 1, except for a Progress into which
    /// the daemon merged the Progress callbacks that came faster than it forwards them.
    public var callbacks: UInt32

    public init(seq: UInt64, time: Timestamp, store: String, run: RunID, kind: Kind, callbacks: UInt32 = 1) {
        self.seq = seq
        self.time = time
        self.store = store
        self.run = run
        self.kind = kind
        self.callbacks = callbacks
    }

    public enum Kind: Hashable, Sendable {
        /// `SynchronizeInBackground` began a run.
        case runStarted(flags: SyncFlags, trigger: RunTrigger)
        /// `IMAPISyncProgressCallback::Progress`. A nil step means "just move the bar".
        case progress(step: String?, index: UInt32, max: UInt32)
        /// `IMAPISyncProgressCallback::Error`: a warning (severity clear) or an error; the run may go on.
        case error(code: SyncStatus, message: String)
        /// `IMAPISyncProgressCallback::Done`: the run's final status, exactly once per run.
        case done(result: SyncStatus)
        /// The store's standing facts changed (added, paused, stalled, rescheduled, ...).
        case storeChanged(StoreInfo)
        /// The store left the configuration.
        case storeRemoved
        /// A run delivered new mail to one folder (sent after its Done, added in 0.4).
        case newMessages(NewMessages)
    }

    /// True for events a slow viewer may lose to a newer event of the same kind and run:
    /// only Progress, since a viewer needs just the latest bar.
    public var isSupersedable: Bool {
        if case .progress = kind { return true }
        return false
    }

    var messageType: MessageType {
        switch kind {
        case .runStarted: return .runStarted
        case .progress: return .progress
        case .error: return .error
        case .done: return .done
        case .storeChanged: return .storeChanged
        case .storeRemoved: return .storeRemoved
        case .newMessages: return .newMessages
        }
    }

    func writePayload(to buffer: inout ByteBuffer) {
        buffer.writeInteger(seq)
        buffer.writeInteger(time.rawValue)
        buffer.writeInteger(run)
        buffer.writeWireString(store)
        switch kind {
        case .runStarted(let flags, let trigger):
            buffer.writeInteger(flags.rawValue)
            buffer.writeInteger(trigger.rawValue)
        case .progress(let step, let index, let max):
            buffer.writeInteger(index)
            buffer.writeInteger(max)
            buffer.writeOptionalWireString(step)
            buffer.writeInteger(callbacks)
        case .error(let code, let message):
            buffer.writeInteger(code.rawValue)
            buffer.writeWireString(message)
        case .done(let result):
            buffer.writeInteger(result.rawValue)
        case .storeChanged(let info):
            info.write(to: &buffer)
            info.writeSchedule(to: &buffer)
            info.writePush(to: &buffer)
        case .storeRemoved:
            break
        case .newMessages(let news):
            news.write(to: &buffer)
        }
    }

    static func read(_ type: MessageType, from buffer: inout ByteBuffer) throws(ProtocolError) -> SyncEvent {
        let seq = try buffer.readWireInteger(as: UInt64.self)
        let time = try buffer.readTimestamp()
        let run = try buffer.readWireInteger(as: RunID.self)
        let store = try buffer.readWireString()
        let kind: Kind
        var callbacks: UInt32 = 1
        switch type {
        case .runStarted:
            kind = .runStarted(
                flags: SyncFlags(rawValue: try buffer.readWireInteger()),
                trigger: RunTrigger(rawValue: try buffer.readWireInteger()))
        case .progress:
            let index: UInt32 = try buffer.readWireInteger()
            let max: UInt32 = try buffer.readWireInteger()
            kind = .progress(step: try buffer.readOptionalWireString(), index: index, max: max)
            // Absent from servers before 0.2.
            if buffer.readableBytes >= 4 { callbacks = try buffer.readWireInteger() }
        case .error:
            let code = SyncStatus(rawValue: try buffer.readWireInteger())
            kind = .error(code: code, message: try buffer.readWireString())
        case .done:
            kind = .done(result: SyncStatus(rawValue: try buffer.readWireInteger()))
        case .storeChanged:
            var info = try StoreInfo.read(from: &buffer)
            // Absent from servers before 0.2.
            if buffer.readableBytes > 0 { try info.readSchedule(from: &buffer) }
            // Absent from servers before 0.4.
            if buffer.readableBytes > 0 { try info.readPush(from: &buffer) }
            kind = .storeChanged(info)
        case .storeRemoved:
            kind = .storeRemoved
        case .newMessages:
            kind = .newMessages(try NewMessages.read(from: &buffer))
        default:
            throw .invalidField("message type \(type) is not an event")
        }
        return SyncEvent(seq: seq, time: time, store: store, run: run, kind: kind, callbacks: callbacks)
    }
}
