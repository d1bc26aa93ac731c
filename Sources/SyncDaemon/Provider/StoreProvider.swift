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
    /// The daemon's state directory, where a provider may keep what it must remember of the
    /// store between runs (an OAuth2 refresh token), in files named after the store.
    public var stateDirectory: String
    /// For a run a listener asked for (trigger `push`): what it saw change. Nil: the whole store.
    public var scope: SyncScope?

    public init(store: String, run: RunID, flags: SyncFlags, trigger: RunTrigger, stateDirectory: String = "",
                scope: SyncScope? = nil) {
        self.scope = scope
        self.store = store
        self.run = run
        self.flags = flags
        self.trigger = trigger
        self.stateDirectory = stateDirectory
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

/// A provider whose store logs in with a person's help (OAuth2's device authorization grant):
/// `syncctl login STORE` asks the daemon, which calls ``beginLogin(_:)``.
///
/// A run of such a store that finds it cannot log in without a person (the refresh token was
/// refused, or there is none) returns ``SyncProtocol/SyncStatus/authRequired``: the daemon then
/// stops scheduling the store until a login completes.
public protocol LoginProvider: StoreProvider {
    /// Starts a login: asks the authorization server for the codes and returns what the user is
    /// to do, with the wait for them to do it.
    /// - Throws: ``LoginError``.
    func beginLogin(_ context: LoginContext) async throws -> PendingLogin
}

/// Where a login keeps what it obtains.
public struct LoginContext: Sendable {
    public var store: String
    public var stateDirectory: String
    public var logger: Logger

    public init(store: String, stateDirectory: String, logger: Logger) {
        self.store = store
        self.stateDirectory = stateDirectory
        self.logger = logger
    }
}

/// A login waiting for the user.
public struct PendingLogin: Sendable {
    /// What to tell the user: "open https://example.org/device and enter ABCD-EFGH".
    public var instructions: String
    /// Waits until the user approved the login and keeps what it obtained; throws
    /// ``LoginError`` when they declined, the code expired, or the server refused.
    public var completion: @Sendable () async throws -> Void

    public init(instructions: String, completion: @escaping @Sendable () async throws -> Void) {
        self.instructions = instructions
        self.completion = completion
    }
}

/// Why a login did not start or did not complete; the message never holds a secret.
public struct LoginError: Error, Sendable, CustomStringConvertible {
    public var status: SyncStatus
    public var description: String

    public init(_ status: SyncStatus, _ description: String) {
        self.status = status
        self.description = description
    }
}
