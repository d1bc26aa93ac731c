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
            }
        }
    }
}
