import NIOCore
import Synchronization

/// One `/events` client's pending frames. The bridge posts without waiting; the client's response
/// writer takes everything pending in one go and writes it as one buffer, so a client that fell
/// behind catches up in a few large writes rather than one write per event.
final class ClientMailbox: Sendable {
    private struct State {
        var frames: [ByteBuffer] = []
        var waiter: CheckedContinuation<[ByteBuffer]?, Never>?
        var finished = false
    }

    private let state = Mutex(State())
    /// Frames a client may fall behind by before it is cut off.
    let limit: Int

    init(limit: Int) { self.limit = limit }

    /// Queues a frame; false when the client is over its limit, which finishes the mailbox (the
    /// client reconnects with Last-Event-ID, and what it missed comes from the ring).
    func post(_ frame: ByteBuffer) -> Bool {
        let (waiter, accepted): (CheckedContinuation<[ByteBuffer]?, Never>?, Bool) = state.withLock { state in
            if state.finished { return (nil, false) }
            if let waiter = state.waiter {
                state.waiter = nil
                return (waiter, true)
            }
            guard state.frames.count < limit else {
                state.finished = true
                state.frames = []
                return (nil, false)
            }
            state.frames.append(frame)
            return (nil, true)
        }
        waiter?.resume(returning: [frame])
        return accepted
    }

    /// Ends the stream: the writer's `next()` returns nil.
    func finish() {
        let waiter = state.withLock { state in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// Everything pending, waiting for at least one frame; nil once finished or cancelled.
    func next() async -> [ByteBuffer]? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready: [ByteBuffer]?? = state.withLock { state in
                    if !state.frames.isEmpty {
                        defer { state.frames.removeAll(keepingCapacity: true) }
                        return .some(state.frames)
                    }
                    if state.finished || Task.isCancelled { return .some(nil) }
                    state.waiter = continuation
                    return .none
                }
                if case .some(let frames) = ready { continuation.resume(returning: frames) }
            }
        } onCancel: {
            finish()
        }
    }
}
