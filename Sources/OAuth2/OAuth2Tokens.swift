import Foundation

/// One store's OAuth2 tokens in use: hands out an access token that is still good, refreshing it
/// through the token endpoint when it is about to expire (or when asked, after a server refused
/// it), and keeps what the server issued in the store's ``TokenFile``.
public struct OAuth2Tokens: Sendable {
    public let client: OAuth2Client
    public let file: TokenFile

    public init(client: OAuth2Client, file: TokenFile) {
        self.client = client
        self.file = file
    }

    /// Why no access token could be had.
    public enum Failure: Error, Sendable, CustomStringConvertible {
        /// Only a new login helps: none yet, the refresh token was refused, or the configuration
        /// now names another server or client.
        case loginRequired(String)
        /// The client registration is wrong (`invalid_client`, `unauthorized_client`, `invalid_scope`).
        case configuration(String)
        /// The server could not be asked (network, HTTP errors); trying later may work.
        case unavailable(String)
        /// The token file cannot be read or written.
        case storage(String)

        public var description: String {
            switch self {
            case .loginRequired(let text), .configuration(let text), .unavailable(let text), .storage(let text): return text
            }
        }
    }

    /// An access token good for a while: the stored one, or, when it is about to expire, when
    /// there is none, or with `forceRefresh`, a new one from the refresh token.
    /// - Returns: the token, and whether it was refreshed just now.
    public func accessToken(forceRefresh: Bool = false, now: Date = Date()) async throws(Failure) -> (token: String, refreshed: Bool) {
        let clock = now.timeIntervalSince1970
        let before = try load()
        if !forceRefresh, let token = before.usableAccessToken(now: clock, margin: Self.margin(before)) {
            return (token, false)
        }
        // One refresh at a time per store (a run, the push listeners, a probe): a server that
        // rotates refresh tokens takes each once, and refuses the second refresh sent with it,
        // which would cost the login.
        let lock: Int32
        do { lock = try await file.lockForRefresh() } catch is CancellationError {
            throw .unavailable("cancelled")
        } catch {
            throw .storage("\(error)")
        }
        defer { file.unlock(lock) }
        let tokens = try load()
        if tokens.issuedAt != before.issuedAt, let token = tokens.usableAccessToken(now: clock, margin: 0) {
            // Refreshed by another while this one waited for the lock.
            return (token, true)
        }
        // In a task of its own, which the caller's cancellation does not reach: a refresh the
        // server has answered must be saved, or the rotated refresh token is lost with it.
        let refresh = Task { [client, file, tokens] () async -> Result<String, Failure> in
            var tokens = tokens
            let grant: TokenGrant
            do throws(OAuth2Error) {
                grant = try await client.refresh(tokens.refreshToken)
            } catch {
                switch error.kind {
                case .refused(code: "invalid_grant"):
                    // Revoked, expired or replaced: never send it again.
                    file.remove()
                    return .failure(.loginRequired("the refresh token was refused (\(error.description))"))
                case .refused(code: "invalid_client"), .refused(code: "unauthorized_client"), .refused(code: "invalid_scope"):
                    return .failure(.configuration(Self.explained(error, issuer: client.configuration.issuer)))
                default:
                    return .failure(.unavailable("cannot refresh the access token: \(error)"))
                }
            }
            tokens.accessToken = grant.accessToken
            tokens.expiresAt = grant.expiresIn.map { clock + Double($0) }
            tokens.issuedAt = clock
            if let rotated = grant.refreshToken, !rotated.isEmpty { tokens.refreshToken = rotated }
            if let scope = grant.scope { tokens.scope = scope }
            do { try file.save(tokens) } catch { return .failure(.storage("\(error)")) }
            return .success(grant.accessToken)
        }
        return (try await refresh.value.get(), true)
    }

    /// The stored tokens, if they belong to the configured server and client.
    private func load() throws(Failure) -> StoredTokens {
        let stored: StoredTokens?
        do { stored = try file.load() } catch { throw .storage("\(error)") }
        guard let tokens = stored else { throw .loginRequired("not logged in yet") }
        guard tokens.tokenURL == client.configuration.tokenURL, tokens.clientID == client.configuration.clientID else {
            throw .loginRequired("the login was made with another token endpoint or client id than the configuration names now")
        }
        return tokens
    }

    /// Keeps the tokens of a completed login.
    public func store(_ grant: TokenGrant, now: Date = Date()) throws(Failure) {
        guard let refreshToken = grant.refreshToken, !refreshToken.isEmpty else {
            let hint = client.configuration.issuer == "microsoft" ? " (is offline_access among the scopes?)" : ""
            throw .configuration("the server issued no refresh token\(hint)")
        }
        let clock = now.timeIntervalSince1970
        let tokens = StoredTokens(
            refreshToken: refreshToken, accessToken: grant.accessToken, expiresAt: grant.expiresIn.map { clock + Double($0) },
            issuedAt: clock, tokenURL: client.configuration.tokenURL, clientID: client.configuration.clientID, scope: grant.scope, loggedIn: clock)
        do { try file.save(tokens) } catch { throw .storage("\(error)") }
    }

    /// Refresh this long before expiry: a minute, or a quarter of the token's lifetime when that
    /// is shorter (a test server's tokens may live seconds).
    static func margin(_ tokens: StoredTokens) -> Double {
        guard let expiresAt = tokens.expiresAt else { return 60 }
        let lifetime = max(0, expiresAt - (tokens.issuedAt ?? tokens.loggedIn))
        return min(60, lifetime / 4)
    }

    /// A registration error, with what to check.
    public static func explained(_ error: OAuth2Error, issuer: String?) -> String {
        switch (error.kind, issuer) {
        case (.refused(code: "invalid_scope"), "google"):
            return "\(error.description) (Google allows its device login only for a few scopes, and not for Gmail's https://mail.google.com/; see the README for the token-helper route)"
        case (.refused(code: "invalid_client"), _):
            return "\(error.description) (check client_id and client_secret)"
        case (.refused(code: "unauthorized_client"), "microsoft"):
            return "\(error.description) (turn on \"Allow public client flows\" in the app registration)"
        default:
            return error.description
        }
    }
}
