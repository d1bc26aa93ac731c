import Synchronization
import SyncProtocol

/// The callback a provider's sync thread calls for one run: MAPI's `IMAPISyncProgressCallback`.
///
/// Every call is a cheap hand-off to the server (see ``EventPublisher``) and safe from any thread.
/// It keeps what viewers see sane whatever the provider does: nothing is published after
/// ``done(_:)``, `done` takes effect once, and an index past max is clamped to max.
/// Unlike MAPI's `Progress`, which can only answer `S_OK`, ``progress(step:index:max:)`` answers
/// ``Verdict/cancel`` once the host asked the run to stop (as Windows SyncMgr's progress does).
public final class RunReporter: Sendable {
    public let store: String
    public let run: RunID
    private let publisher: EventPublisher
    private let cancelRequested = Atomic<Bool>(false)
    private struct State {
        /// nil while the run goes on, then its result.
        var result: SyncStatus?
        /// The run's Progress still waiting for the forwarder, which a newer one replaces.
        var progressSlot: EventPublisher.Slot?
    }

    /// Every publish happens under this lock, so nothing can be published after Done, even from
    /// another thread racing with `done`.
    private let state = Mutex(State())

    /// What the provider should do after a progress call.
    public enum Verdict: Sendable, Hashable {
        case `continue`
        case cancel
    }

    public init(store: String, run: RunID, publisher: EventPublisher) {
        self.store = store
        self.run = run
        self.publisher = publisher
    }

    /// Announces the run. Call once, before any other callback.
    public func started(flags: SyncFlags, trigger: RunTrigger) {
        publishUnlessDone(.runStarted(flags: flags, trigger: trigger))
    }

    /// Reports progress; a nil `step` keeps the previous text ("just move the bar").
    /// - Returns: ``Verdict/cancel`` once ``requestCancel()`` was called or the run is done.
    @discardableResult
    public func progress(step: String? = nil, index: UInt32, max: UInt32) -> Verdict {
        let index = max > 0 ? Swift.min(index, max) : index
        let published = state.withLock { state in
            guard state.result == nil else { return false }
            publisher.publishProgress(
                store: store, run: run, .progress(step: step, index: index, max: max), slot: &state.progressSlot)
            return true
        }
        guard published else { return .cancel }
        return isCancelRequested ? .cancel : .continue
    }

    /// Reports an error (severity bit set) or a warning (clear); the run may go on.
    public func error(_ code: SyncStatus, _ message: String) {
        publishUnlessDone(.error(code: code, message: message))
    }

    /// Reports the final result. Only the first call has an effect.
    /// - Returns: false when the run was already done.
    @discardableResult
    public func done(_ result: SyncStatus) -> Bool {
        state.withLock { state in
            guard state.result == nil else { return false }
            state.result = result
            publisher.publish(store: store, run: run, .done(result: result))
            return true
        }
    }

    /// The result published by ``done(_:)``, nil before.
    public var result: SyncStatus? { state.withLock { $0.result } }

    /// Asks the provider to stop: its next ``progress(step:index:max:)`` answers cancel.
    public func requestCancel() {
        cancelRequested.store(true, ordering: .releasing)
    }

    public var isCancelRequested: Bool { cancelRequested.load(ordering: .acquiring) }

    /// True while the server's forwarder is behind, so that Progress reported now would be merged
    /// rather than seen: a provider that reports for reporting's sake may pause.
    public var isForwarderBehind: Bool { publisher.isBehind }
    public var isFinished: Bool { state.withLock { $0.result != nil } }

    @discardableResult
    private func publishUnlessDone(_ kind: SyncEvent.Kind) -> Bool {
        state.withLock { state in
            guard state.result == nil else { return false }
            // Anything else published after a Progress must not let that Progress be replaced
            // by a later one, which would move it past this event.
            state.progressSlot = nil
            publisher.publish(store: store, run: run, kind)
            return true
        }
    }
}
