import Foundation
import IMAPProtocol
import Maildir
import NIOCore
import OAuth2
import SyncDaemon
import SyncProtocol

/// The `imap` provider: an IMAP account synchronised into a Maildir.
///
/// Each run opens the local folders while it connects (TLS, STARTTLS, or plain on loopback) and
/// logs in, mirrors the folder list, then per folder that changed uploads local flag changes and
/// deletions, applies the server's flag changes and expunges, appends new local messages, and
/// downloads new messages in pipelined batches
/// committed durably (see ``IMAPSyncRun``). A failing folder reports an
/// Error and the others go on (result `partial`); a refused login is one Error and Done
/// `auth-failed`; a lost connection is Done `network`.
///
/// With `auth = "oauth2"` it logs in with an access token (OAUTHBEARER or XOAUTH2): from a token
/// helper (`password`), or from its own OAuth2 client (`oauth2` table), which refreshes the token
/// before it expires and once more when the server refuses it. A store whose refresh token is
/// refused ends its run `auth-required` and waits for `syncctl login` (``beginLogin(_:)``).
public struct IMAPProvider: StoreProvider, LoginProvider {
    public let account: IMAPAccount
    /// The pushed folders the listener watches, against those runs find on the server.
    let pushedFolders = PushedFolders()
    /// Stops a run at an upload step, for crash tests (``UploadStep``); never set in production.
    var uploadCrashHook: UploadCrashHook?

    public init(account: IMAPAccount) {
        self.account = account
    }

    /// How this run logs in.
    enum Credential: Sendable {
        case password(String)
        /// An access token from a helper: used as it is.
        case token(String)
        /// syncd's own tokens: the current access token, whether it was refreshed just now, and
        /// how to get another.
        case managed(token: String, refreshed: Bool, tokens: OAuth2Tokens)
    }

    struct NoCredentials: Error, CustomStringConvertible {
        let store: String
        var description: String { "store \(store) has no credentials" }
    }

    /// A built-in OAuth2 login that cannot go on; carries the result of the run.
    struct TokenFailure: Error {
        let failure: OAuth2Tokens.Failure
    }

    public func synchronize(_ request: SyncRequest, callback: SyncCallback) async throws -> SyncStatus {
        let credential: Credential
        do {
            credential = try await self.credential(request, callback: callback)
        } catch let error as TokenFailure {
            return report(error.failure, store: request.store, callback: callback)
        } catch {
            callback.error(.config, "\(error)")
            return .config
        }
        let store: MaildirStore
        do {
            store = try MaildirStore(root: account.maildir, layout: account.layout == .nested ? .nested : .maildirPlusPlus)
        } catch {
            callback.error(.storage, "cannot open the Maildir \(account.maildir): \(error)")
            return .storage
        }
        let sending: SendPlan?
        do {
            sending = try await sendOutbox(request, credential: credential, callback: callback)
        } catch is CancellationError {
            return .cancelled
        } catch {
            callback.error(.storage, "outbox: \(error)")
            return .storage
        }
        guard let request = receiveRequest(after: sending, request) else { return sending?.outcome.result ?? .ok }
        let sent = sending?.outcome.result ?? .ok
        // The Maildir side (recovery, the local-change scan) runs while the server handshakes.
        let uploads = request.flags.contains(.uploadContents)
        let preparing = Task { [account] in try LocalFolders(store: store, account: account, scanLocalChanges: uploads) }
        // Every folder is closed before returning, so the next run finds the store free.
        do {
            let result = try await synchronize(request, callback: callback, credential: credential, store: store, preparing: preparing)
            (try? await preparing.value)?.closeAll()
            // Receiving's failure first; else what sending left to retry.
            return result.isFailure || sent == .ok ? result : sent
        } catch {
            (try? await preparing.value)?.closeAll()
            throw error
        }
    }

    /// Reads the password or token, or gets a good access token from syncd's own OAuth2 client.
    private func credential(_ request: SyncRequest, callback: SyncCallback) async throws -> Credential {
        switch (account.auth, account.password, account.oauth2) {
        case (.password, let source?, _):
            return .password(try callback.secret(source))
        case (.oauth2, let source?, _):
            return .token(try callback.secret(source))
        case (.oauth2, nil, let settings?):
            let secret = try settings.clientSecret.map { try callback.secret($0) }
            let client = OAuth2Client(configuration: settings.configuration, clientSecret: secret, timeout: account.timeout)
            let tokens = OAuth2Tokens(client: client, file: TokenFile(stateDirectory: request.stateDirectory, store: request.store))
            do {
                let (token, refreshed) = try await tokens.accessToken()
                callback.keepSecret(token)
                if refreshed { callback.logger.info("refreshed the OAuth2 access token") }
                return .managed(token: token, refreshed: refreshed, tokens: tokens)
            } catch {
                throw TokenFailure(failure: error)
            }
        default:
            throw NoCredentials(store: request.store)
        }
    }

    /// The Error and result for a built-in OAuth2 login that could not get a token.
    private func report(_ failure: OAuth2Tokens.Failure, store: String, callback: SyncCallback) -> SyncStatus {
        switch failure {
        case .loginRequired(let why):
            callback.error(.authRequired, "\(why): run syncctl login \(store)")
            return .authRequired
        case .configuration(let why):
            callback.error(.config, "oauth2: \(why)")
            return .config
        case .unavailable(let why):
            callback.error(.network, why)
            return .network
        case .storage(let why):
            callback.error(.storage, why)
            return .storage
        }
    }

    private func synchronize(
        _ request: SyncRequest, callback: SyncCallback, credential: Credential, store: MaildirStore,
        preparing: Task<LocalFolders, any Error>
    ) async throws -> SyncStatus {
        do {
            return try await IMAPConnection.with(account) { connection in
                let session = IMAPSession(connection)
                try await session.prepare(account)
                try await logIn(session, credential, callback: callback)
                try await session.finishLogin(compress: account.compress)
                let localFolders = try await preparing.value
                let headersOnly = request.flags.contains(.headersOnly) || (account.headersOnly && request.trigger != .onDemand)
                let run = IMAPSyncRun(
                    account: account, session: session, store: store, localFolders: localFolders, callback: callback,
                    flags: request.flags, headersOnly: headersOnly, crashHook: uploadCrashHook)
                run.scope = request.scope
                let result = try await run.run()
                if let listed = run.pushedFolders { pushedFolders.listed(listed) }
                await session.logout()
                return result
            }
        } catch is CancellationError {
            return .cancelled
        } catch let error as TokenFailure {
            return report(error.failure, store: request.store, callback: callback)
        } catch let error as IMAPCommandError {
            callback.error(error.status, "\(account.host): \(error)")
            return error.status
        } catch let error as IMAPConnectionError {
            if callback.isCancelled { return .cancelled }
            callback.error(.network, "\(account.host): \(error)")
            return .network
        } catch let error as MaildirError {
            callback.error(.storage, "\(error)")
            return .storage
        }
    }

    /// Logs in. A managed token the server refuses, though it should still be good (revoked,
    /// or expired early), is refreshed once and tried again on the same connection.
    func logIn(_ session: IMAPSession, _ credential: Credential, callback: SyncCallback) async throws {
        switch credential {
        case .password(let password):
            try await session.login(account, password: password)
        case .token(let token):
            try await session.authenticate(try session.oauthMechanism(forced: account.saslMechanism), account: account, token: token)
        case .managed(let token, let refreshed, let tokens):
            let mechanism = try session.oauthMechanism(forced: account.saslMechanism)
            do {
                try await session.authenticate(mechanism, account: account, token: token)
            } catch IMAPCommandError.tokenRefused(let why) where !refreshed {
                callback.logger.notice("\(account.host) refused the access token (\(callback.redact(why))); refreshing it once")
                let fresh: String
                do {
                    fresh = try await tokens.accessToken(forceRefresh: true).token
                } catch {
                    throw TokenFailure(failure: error)
                }
                callback.keepSecret(fresh)
                try await session.authenticate(mechanism, account: account, token: fresh)
            }
        }
    }

    // MARK: Login

    public func beginLogin(_ context: LoginContext) async throws -> PendingLogin {
        guard let settings = account.oauth2 else {
            throw LoginError(.invalidArgument, account.auth == .oauth2
                ? "the store gets its access token from a helper (password = ...): log in with that helper"
                : "the store logs in with a password; a login is for auth = \"oauth2\" with an oauth2 table")
        }
        let secret: String?
        do {
            secret = try settings.clientSecret.map { try $0.resolve() }
        } catch {
            throw LoginError(.config, "oauth2.client_secret: \(error)")
        }
        let client = OAuth2Client(configuration: settings.configuration, clientSecret: secret, timeout: min(account.timeout, .seconds(20)))
        let device: DeviceAuthorization
        do {
            device = try await client.startDeviceAuthorization()
        } catch {
            throw Self.loginError(error, issuer: settings.configuration.issuer)
        }
        let tokens = OAuth2Tokens(client: client, file: TokenFile(stateDirectory: context.stateDirectory, store: context.store))
        let minutes = max(1, Int(device.expiresIn.components.seconds / 60))
        return PendingLogin(instructions: "\(device.instructions) (within \(minutes) min)") {
            let grant: TokenGrant
            do {
                grant = try await client.pollForToken(device)
            } catch let error as OAuth2Error {
                throw Self.loginError(error, issuer: settings.configuration.issuer)
            }
            do {
                try tokens.store(grant)
            } catch let error as OAuth2Tokens.Failure {
                switch error {
                case .storage(let why): throw LoginError(.storage, why)
                default: throw LoginError(.config, error.description)
                }
            }
        }
    }

    static func loginError(_ error: OAuth2Error, issuer: String?) -> LoginError {
        switch error.kind {
        case .denied: return LoginError(.authFailed, error.description)
        case .expired: return LoginError(.timeout, error.description)
        case .unavailable: return LoginError(.network, error.description)
        case .refused(code: "invalid_client"), .refused(code: "unauthorized_client"), .refused(code: "invalid_scope"):
            return LoginError(.config, OAuth2Tokens.explained(error, issuer: issuer))
        case .refused: return LoginError(.authFailed, error.description)
        }
    }
}

public struct IMAPFactory: ProviderFactory {
    public init() {}
    public let name = "imap"
    public var optionKeys: [String] { IMAPAccount.keys }

    public func makeProvider(for store: String, options: ConfigSection) throws -> any StoreProvider {
        IMAPProvider(account: try IMAPAccount(options: options))
    }
}
