import NIOCore
import Synchronization
import SyncProtocol

/// The thread-safe, non-blocking entry point for events: any thread may publish.
///
/// `publish` takes a lock for a few tens of nanoseconds to stamp the event with the next sequence
/// number and the time, and appends it to a pending batch. Only when the forwarder is idle does it
/// wake the server's event loop (one syscall); while the forwarder is busy, publishing is a plain
/// hand-off. It never waits for a viewer.
public final class EventPublisher: Sendable {
    struct Pending {
        var nextSeq: UInt64
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

    init(firstSeq: UInt64, wake: @escaping @Sendable () -> Void) {
        self.pending = Mutex(Pending(nextSeq: firstSeq, events: [], draining: false))
        self.wake = wake
    }

    /// Publishes one event and returns the sequence number it was given.
    @discardableResult
    public func publish(store: String, run: RunID, _ kind: SyncEvent.Kind) -> UInt64 {
        let (seq, mustWake) = pending.withLock { state -> (UInt64, Bool) in
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

    /// Publishes a Progress, replacing the same run's previous Progress if the forwarder has not
    /// taken it yet (it keeps that event's sequence number). So a provider calling progress
    /// millions of times a second costs at most one pending event per run between drains, not
    /// unbounded memory. `slot` is the caller's memory of its last pending Progress.
    func publishProgress(store: String, run: RunID, _ kind: SyncEvent.Kind, slot: inout Slot?) {
        let mustWake = pending.withLock { state -> Bool in
            if let last = slot, last.generation == state.generation, last.index < state.events.count,
               state.events[last.index].run == run, state.events[last.index].isSupersedable {
                state.events[last.index].kind = kind
                state.events[last.index].time = .now()
                return false
            }
            slot = Slot(generation: state.generation, index: state.events.count)
            state.events.append(SyncEvent(seq: state.nextSeq, time: .now(), store: store, run: run, kind: kind))
            state.nextSeq &+= 1
            if state.draining { return false }
            state.draining = true
            return true
        }
        if mustWake { wake() }
    }

    /// The sequence number the next event will get.
    public var nextSeq: UInt64 { pending.withLock { $0.nextSeq } }

    /// Moves the pending events into `batch` (which must be empty, and whose storage is reused).
    /// When there are none, marks the forwarder idle so the next publish wakes it.
    func take(into batch: inout [SyncEvent]) {
        pending.withLock { state in
            if state.events.isEmpty {
                state.draining = false
            } else {
                swap(&state.events, &batch)
                state.generation &+= 1
            }
        }
    }
}
