#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import Synchronization
import SyncProtocol

/// Makes sequence numbers durable before they are used, so that no number is ever handed out
/// twice, whatever the rate of events and whenever the process dies.
public protocol SeqReserver: Sendable {
    /// Records durably that numbers below `limit` may have been handed out. Called before the
    /// first number of a new block is used; it may block for an fsync.
    func reserve(below limit: UInt64) throws
}

/// The thread-safe, non-blocking entry point for events: any thread may publish.
///
/// `publish` takes a lock for a few tens of nanoseconds to stamp the event with the next sequence
/// number and the time, and appends it to a pending batch. Only when the forwarder is idle does it
/// wake the server's event loop (one syscall); while the forwarder is busy, publishing is a plain
/// hand-off. It never waits for a viewer.
public final class EventPublisher: Sendable {
    struct Pending {
        var nextSeq: UInt64
        /// Numbers below this are durably reserved and may be handed out.
        var limit: UInt64
        var events: [SyncEvent]
        /// True while a drain is scheduled or running, so publishers need not wake the loop.
        var draining: Bool
        /// Counts `take`s, so a slot remembered by a publisher can be recognised as still pending.
        var generation: UInt64 = 0
    }

    /// Where a Progress waits in the pending batch, so a newer one from the same run can replace
    /// it before the forwarder takes it.
    struct Slot {
        var generation: UInt64
        var index: Int
    }

    private let pending: Mutex<Pending>
    private let wake: @Sendable () -> Void
    private let reserver: (any SeqReserver)?
    /// Held while a block is reserved, so one publisher writes it and the others wait for it.
    private let reserving = Mutex(())
    private let logger: Logger

    /// Numbers reserved at a time: one fsync per this many events.
    public static let reservationBlock: UInt64 = 1 << 16

    /// Pending events from which on a Progress is merged into its run's pending one (0: always).
    private let mergeBacklog: Int

    init(firstSeq: UInt64, reserver: (any SeqReserver)?, logger: Logger, mergeBacklog: Int = 0,
         wake: @escaping @Sendable () -> Void) {
        self.pending = Mutex(Pending(nextSeq: firstSeq, limit: reserver == nil ? .max : firstSeq, events: [], draining: false))
        self.mergeBacklog = mergeBacklog
        self.reserver = reserver
        self.logger = logger
        self.wake = wake
    }

    /// Reserves the next block once the current one is used up. Outside the event lock: other
    /// publishers wait on ``reserving`` only when they too have run out.
    private func reserveBlock() {
        reserving.withLock { _ in
            let next: UInt64? = pending.withLock { $0.nextSeq >= $0.limit ? $0.nextSeq : nil }
            guard let next else { return }  // another publisher did it
            let limit = next &+ Self.reservationBlock
            if let reserver {
                do {
                    try reserver.reserve(below: limit)
                } catch {
                    // Not publishing would stop every run; numbers stay unique unless the process
                    // also dies before a later reservation succeeds.
                    logger.error("cannot reserve sequence numbers: \(error)")
                }
            }
            pending.withLock { $0.limit = limit }
        }
    }

    /// Gives up the unused rest of the reserved block (a clean stop): the next start continues
    /// at ``nextSeq`` exactly.
    public func releaseReservation() throws {
        try reserving.withLock { _ in
            let next = pending.withLock { state in
                state.limit = state.nextSeq
                return state.nextSeq
            }
            try reserver?.reserve(below: next)
        }
    }

    /// Publishes one event and returns the sequence number it was given.
    @discardableResult
    public func publish(store: String, run: RunID, _ kind: SyncEvent.Kind) -> UInt64 {
        waitForForwarder()
        let (seq, mustWake) = withReservedSeq { state -> (UInt64, Bool) in
            let seq = state.nextSeq
            state.nextSeq &+= 1
            state.events.append(SyncEvent(seq: seq, time: .now(), store: store, run: run, kind: kind))
            if state.draining { return (seq, false) }
            state.draining = true
            return (seq, true)
        }
        if mustWake { wake() }
        return seq
    }

    /// Publishes a Progress, merging it into the same run's previous Progress if the forwarder is
    /// behind (``mergeBacklog`` events or more wait) and has not taken that one yet: the event keeps
    /// its sequence number and counts the callbacks it stands for. So a provider calling progress
    /// millions of times a second costs at most one pending event per run beyond the backlog, not
    /// unbounded memory, while a forwarder that keeps up forwards every call. `slot` is the
    /// caller's memory of its last pending Progress.
    func publishProgress(store: String, run: RunID, _ kind: SyncEvent.Kind, slot: inout Slot?) {
        let mustWake = pending.withLock { state -> Bool? in
            guard state.events.count >= mergeBacklog,
                  let last = slot, last.generation == state.generation, last.index < state.events.count,
                  state.events[last.index].run == run, state.events[last.index].isSupersedable
            else { return nil }
            // Merged, the event keeps the step text a newer "just move the bar" leaves out.
            if case .progress(nil, let index, let max) = kind,
               case .progress(let step?, _, _) = state.events[last.index].kind {
                state.events[last.index].kind = .progress(step: step, index: index, max: max)
            } else {
                state.events[last.index].kind = kind
            }
            state.events[last.index].time = .now()
            state.events[last.index].callbacks &+= state.events[last.index].callbacks == .max ? 0 : 1
            return false
        } ?? withReservedSeq { state -> Bool in
            slot = Slot(generation: state.generation, index: state.events.count)
            state.events.append(SyncEvent(seq: state.nextSeq, time: .now(), store: store, run: run, kind: kind))
            state.nextSeq &+= 1
            if state.draining { return false }
            state.draining = true
            return true
        }
        if mustWake { wake() }
    }

    /// Runs `body` under the event lock once a reserved number is free for it to hand out,
    /// reserving the next block first when the current one is used up.
    private func withReservedSeq<T: Sendable>(_ body: (inout Pending) -> T) -> T {
        while true {
            let result = pending.withLock { state -> T? in
                state.nextSeq < state.limit ? body(&state) : nil
            }
            if let result { return result }
            reserveBlock()
        }
    }

    /// The sequence number the next event will get.
    public var nextSeq: UInt64 { pending.withLock { $0.nextSeq } }

    /// True while the forwarder is behind: Progress published now would be merged.
    public var isBehind: Bool { pending.withLock { $0.events.count >= Swift.max(1, mergeBacklog) } }

    /// Moves up to `limit` of the oldest pending events into `batch` (which must be empty, and
    /// whose storage is reused). When there are none, marks the forwarder idle so the next
    /// publish wakes it, unless `stayBusy`. Taking a bounded share keeps one turn of the event
    /// loop short, so viewers' requests are answered while a provider floods.
    func take(into batch: inout [SyncEvent], limit: Int, stayBusy: Bool = false) {
        pending.withLock { state in
            if state.events.isEmpty {
                if !stayBusy { state.draining = false }
            } else if state.events.count <= limit {
                swap(&state.events, &batch)
                state.generation &+= 1
            } else {
                batch.append(contentsOf: state.events[..<limit])
                state.events.removeFirst(limit)
                state.generation &+= 1
            }
        }
    }

    /// Pending events past which a publisher waits for the forwarder: a provider that reports
    /// faster than events can be forwarded is slowed down instead of filling memory.
    public static let backlogLimit = 1 << 17

    /// Blocks the calling (provider) thread while the forwarder is this far behind.
    private func waitForForwarder() {
        while pending.withLock({ $0.events.count }) >= Self.backlogLimit {
            usleep(1000)
        }
    }
}
