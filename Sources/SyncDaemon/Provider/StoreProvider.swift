import Logging
import SyncIPC
import SyncProtocol

/// What a store provider is asked to do for one run: MAPI's `MAPISIB`.
public struct SyncRequest: Sendable {
    public var store: String
    public var run: RunID
    /// Which directions and parts to synchronise (MAPI's `ulFlags`).
    public var flags: SyncFlags
    public var trigger: RunTrigger

    public init(store: String, run: RunID, flags: SyncFlags, trigger: RunTrigger) {
        self.store = store
        self.run = run
        self.flags = flags
        self.trigger = trigger
    }
}

/// A store provider: code that synchronises one kind of store (an IMAP account, a command, ...).
///
/// One instance serves one configured store. ``synchronize(_:callback:)`` is MAPI's
/// `IMAPISync::SynchronizeInBackground`: the host calls it in a background task, and awaits or
/// cancels that task (the handle). The provider reports through `callback` and returns the result.
///
/// The host guarantees, whatever the provider does: exactly one Done per run (from the returned
/// status, a `callback.done`, a thrown error, or the host itself when it cancels or gives up on the
/// run), one run per store at a time, and that nothing the provider reports after Done reaches
/// viewers. So a provider may simply return, throw, or ignore cancellation: it only loses its say
/// in the result.
public protocol StoreProvider: Sendable {
    /// Runs one sync. Cancellation arrives both as Swift task cancellation and as
    /// ``SyncCallback/progress(step:index:max:)`` answering `.cancel`; a provider should stop
    /// within a second of either.
    ///
    /// - Returns: the run's result, as in MAPI's `Done(hr)`. Ignored if the provider already
    ///   called ``SyncCallback/done(_:)``.
    /// - Throws: anything; the host reports it as an Error and Done(`provider-failed`), or
    ///   Done(`cancelled`) for `CancellationError`.
    func synchronize(_ request: SyncRequest, callback: SyncCallback) async throws -> SyncStatus
}

/// Builds a provider for one store from its configuration section. Each provider kind has one.
public protocol ProviderFactory: Sendable {
    /// The `provider = "..."` value that selects this factory.
    var name: String { get }
    /// The store options this provider reads (besides the common `provider`, `interval`,
    /// `flags`, `run_at_startup`), for the "unknown key" error.
    var optionKeys: [String] { get }
    /// Reads and checks the store's options through `options`, whose accessors turn every
    /// mistake into an error naming file, line and key.
    func makeProvider(for store: String, options: ConfigSection) throws -> any StoreProvider
}
