import Synchronization

/// The server's folders that `push` names: what the listener watches, against what runs and
/// NOTIFY's mailbox events find there. A folder created or deleted on the server after the
/// listener started makes the listener list again, so that it is pushed from then on.
final class PushedFolders: Sendable {
    private struct State {
        var watching: Set<String>?
        var wake: AsyncStream<Void>.Continuation?
    }

    private let state = Mutex(State())

    /// The listener watches `folders`; the stream yields once what the server has differs.
    func watch(_ folders: Set<String>) -> AsyncStream<Void> {
        let (stream, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let replaced = state.withLock { state in
            defer { state.watching = folders; state.wake = wake }
            return state.wake
        }
        replaced?.finish()
        return stream
    }

    /// The pushed folders a run listed: wakes the listener when it watches others.
    func listed(_ folders: Set<String>) {
        state.withLock { state in
            guard let watching = state.watching, watching != folders else { return }
            state.wake?.yield()
        }
    }

    /// The server said a folder was created, deleted or renamed.
    func serverChanged() {
        _ = state.withLock { $0.wake?.yield() }
    }

    /// Nobody watches (the listener stopped): runs' lists wake nothing.
    func stopWatching() {
        let replaced = state.withLock { state in
            defer { state.watching = nil; state.wake = nil }
            return state.wake
        }
        replaced?.finish()
    }
}
