import Maildir
import SMTPClient
import SyncDaemon

/// Where a store's outbox goes: an `smtp` table on an imap store, or the keys of a send-only
/// `provider = "smtp"` store. The server (host, port, security, `ca_file`, `timeout`) and how to
/// log in: `user` and `password` of its own, or the imap store's (`same_as_imap`, the default on
/// an imap store when neither is given), which includes its OAuth2 tokens.
public struct SMTPSettings: Sendable {
    public var server: SMTPServer
    /// nil: the imap store's user.
    public var user: String?
    /// nil with ``sameAsIMAP``: the imap store's password or access token.
    public var password: SecretSource?
    /// Log in as the imap store does (its user; its password, token helper or OAuth2 tokens).
    public var sameAsIMAP: Bool

    public static let keys = ["host", "port", "security", "user", "password", "same_as_imap", "ca_file", "timeout"]

    /// Reads the keys from `options` (the `smtp` table, or a send-only store's own table).
    /// - Parameter imap: whether there is an imap store whose login may be borrowed.
    public init(options: ConfigSection, imap: Bool) throws {
        let host = try options.requiredString("host")
        let securityName = try options.string("security", default: SMTPServer.Security.starttls.rawValue)
        guard let security = SMTPServer.Security(rawValue: securityName) else {
            throw options.error("security", "expected one of \(SMTPServer.Security.allCases.map(\.rawValue).joined(separator: ", ")) (SMTP is never sent unencrypted)")
        }
        let port = try options.int("port", default: security == .tls ? 465 : 587, range: 1...65535)
        let caFile = try options.string("ca_file")
        if let caFile, !caFile.hasPrefix("/") { throw options.error("ca_file", "expected an absolute path") }
        let timeout = try options.duration("timeout", default: .seconds(60))
        server = SMTPServer(host: host, port: port, security: security, caFile: caFile, timeout: timeout)
        user = try options.string("user")
        password = try options.secret("password")
        let borrows = imap && user == nil && password == nil
        sameAsIMAP = try options.bool("same_as_imap", default: borrows)
        if sameAsIMAP {
            guard imap else { throw options.error("same_as_imap", "is for the smtp table of an imap store") }
            guard password == nil else {
                throw options.error("password", "same_as_imap = true logs in with the imap store's credentials; remove password (or same_as_imap)")
            }
        } else {
            guard user != nil else { throw options.error("user", "is required (or same_as_imap = true on an imap store)") }
            guard password != nil else { throw options.error("password", "is required (or same_as_imap = true on an imap store)") }
        }
    }
}

/// Where a sending store's outbox is: what `syncd-sendmail` queues into.
public struct OutboxLocation: Sendable {
    public var tree: MaildirTree
    public var folder: FolderName
    public var failedFolder: FolderName
    /// The store's login name: the sender of a message that names none, when it is an address.
    public var user: String?

    public init(tree: MaildirTree, folder: FolderName, failedFolder: FolderName, user: String?) {
        self.tree = tree
        self.folder = folder
        self.failedFolder = failedFolder
        self.user = user
    }
}

/// A provider whose store may have an outbox (an imap store with an smtp table; an smtp store).
public protocol OutboxOwning {
    /// nil when this store sends nothing.
    var outboxLocation: OutboxLocation? { get }
}
