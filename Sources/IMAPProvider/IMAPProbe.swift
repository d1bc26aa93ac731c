import IMAPProtocol
import Maildir
import SyncDaemon

/// Why a test login (``IMAPProvider/probe(_:)``) failed, in words for the person setting up the
/// account.
public struct IMAPProbeError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable {
        /// The server could not be reached (name, port, firewall).
        case connect
        /// TLS failed: an untrusted or mismatched certificate, no STARTTLS.
        case tls
        /// The server refused the login (password or token), or offers no way to log in as asked.
        case login
        /// The password or token could not be read from its source.
        case secret
        /// The server broke the protocol, went silent, or hung up.
        case server
    }

    public let kind: Kind
    public let description: String
}

extension IMAPProvider {
    /// Logs in as a run of this account would (security, `ca_file`, the password or token-helper
    /// secret read now) and lists the folders the account would sync, then logs out. Nothing
    /// is written anywhere: this is the check before an account is added to a configuration.
    ///
    /// An account whose tokens come from syncd's own OAuth2 client (an `oauth2` table) has none
    /// yet: it is only connected, secured, and checked for an OAuth2 mechanism; the result is empty.
    /// - Throws: ``IMAPProbeError``.
    public static func probe(_ account: IMAPAccount) async throws -> [String] {
        var account = account
        // A person is waiting: a silent server is reported within seconds, not a minute.
        account.timeout = min(account.timeout, .seconds(15))
        let secret: String?
        do {
            secret = try account.password.map { try $0.resolve() }
        } catch {
            throw IMAPProbeError(kind: .secret, description: "\(error)")
        }
        do {
            return try await IMAPConnection.with(account) { connection in
                let session = IMAPSession(connection)
                try await session.prepare(account)
                guard let secret else {
                    _ = try session.oauthMechanism(forced: account.saslMechanism)
                    await session.logout()
                    return []
                }
                switch account.auth {
                case .password: try await session.login(account, password: secret)
                case .oauth2: try await session.authenticate(try session.oauthMechanism(forced: account.saslMechanism), account: account, token: secret)
                }
                try await session.finishLogin()
                var folders: [String] = []
                try await session.run(.list()) { event in
                    guard case .list(let entry) = event, entry.isSelectable, let name = account.syncedFolder(entry)
                    else { return }
                    folders.append(name.description)
                }
                await session.logout()
                return folders.sorted { $0 == "INBOX" ? $1 != "INBOX" : ($1 != "INBOX" && $0 < $1) }
            }
        } catch let error as IMAPCommandError {
            switch error {
            case .authenticationFailed, .tokenRefused: throw IMAPProbeError(kind: .login, description: "\(account.host): \(error)")
            default: throw IMAPProbeError(kind: .server, description: "\(account.host): \(error)")
            }
        } catch let error as IMAPConnectionError {
            switch error {
            case .connectFailed: throw IMAPProbeError(kind: .connect, description: "\(error)")
            case .tls(let why): throw IMAPProbeError(kind: .tls, description: "\(account.host):\(account.port): \(Self.tlsWords(why))")
            default: throw IMAPProbeError(kind: .server, description: "\(account.host):\(account.port): \(error)")
            }
        }
    }

    /// BoringSSL's reasons, with what to do about the usual one.
    static func tlsWords(_ why: String) -> String {
        if why.uppercased().contains("CERTIFICATE") {
            return "TLS failed: the server's certificate is not trusted (self-signed, expired, or for another name); "
                + "give the CA that signed it (ca_file), or check the host name (\(why))"
        }
        return "TLS failed: \(why)"
    }
}
