import IMAPProtocol
import Maildir
import NIOSSL
import OAuth2
import SMTPProvider
import SyncDaemon

/// One `[store.NAME]` table with `provider = "imap"`: where the account is, how to reach it
/// safely, and where its mail goes.
public struct IMAPAccount: Sendable {
    public enum Security: String, Sendable, CaseIterable {
        /// TLS from the first byte (imaps, port 993).
        case tls
        /// Plain connect, then STARTTLS before anything else (port 143).
        case starttls
        /// No encryption: only for loopback, or with `allow_plaintext = true`.
        case none
    }

    public enum Layout: String, Sendable, CaseIterable {
        /// `~/Maildir/.Sent`, `.Archive.2024`: what Dovecot and Courier use.
        case maildirPlusPlus = "maildir++"
        /// `Sent/`, `Archive/2024/`, each a Maildir: what mbsync's `SubFolders Verbatim` makes.
        case nested
    }

    public var host: String
    public var port: Int
    public var security: Security
    /// How the account logs in (`auth`).
    public enum Auth: String, Sendable, CaseIterable {
        /// `password`: AUTHENTICATE PLAIN, or LOGIN.
        case password
        /// `oauth2`: AUTHENTICATE OAUTHBEARER or XOAUTH2 with an access token, from `password`
        /// (a token helper) or from syncd's own login (`oauth2` table).
        case oauth2
    }

    /// The built-in OAuth2 client of a store (its `oauth2` table).
    public struct OAuth2Settings: Sendable {
        public var configuration: OAuth2Configuration
        public var clientSecret: SecretSource?
    }

    public var user: String
    public var auth: Auth
    /// The password, or with `auth = "oauth2"` the access token from a token helper; nil when
    /// the built-in OAuth2 client gets the tokens.
    public var password: SecretSource?
    public var oauth2: OAuth2Settings?
    /// The OAuth2 SASL mechanism to use; nil: OAUTHBEARER when offered, else XOAUTH2.
    public var saslMechanism: SASL.OAuthMechanism?
    /// Trust this CA (PEM) instead of the system's roots, e.g. for a company server.
    public var caFile: String?
    public var maildir: String
    public var layout: Layout
    /// Folder name patterns (`*` any text, `?` one character) to sync; default all.
    public var include: [String]
    /// Patterns to leave out, applied after `include`.
    public var exclude: [String]
    /// UIDs per pipelined `UID FETCH`.
    public var fetchBatch: Int
    /// Messages per `UID FETCH a:b (FLAGS)` of the flag scan on servers without CONDSTORE.
    public var flagScanWindow: Int
    /// COMPRESS=DEFLATE (RFC 4978) when the server offers it.
    public var compress: Bool
    /// The longest wait for any server answer.
    public var timeout: Duration
    /// Scheduled runs (interval, start-up) download headers only; a run asked for on demand
    /// (`syncctl sync`) downloads whole messages, including the bodies of earlier headers.
    public var headersOnly: Bool
    /// Messages deleted here are expunged on the server (UID EXPUNGE, with UIDPLUS); `false` only
    /// flags them `\Deleted` there (mbsync's `Expunge None`).
    public var expunge: Bool
    /// The safety valve: a run that would delete more than this share (percent) of a folder's
    /// messages on the server, and at least ``maxDeleteMin`` of them, deletes none there until
    /// the user confirms (``SyncFlags/allowMassDelete``).
    public var maxDeleteShare: Int
    /// See ``maxDeleteShare``.
    public var maxDeleteMin: Int
    /// Folder patterns to watch with IDLE between runs (`push`); empty: no IDLE.
    public var push: [String]
    /// The most IDLE connections the listener opens (one per pushed folder), beside the run's own.
    public var pushConnections: Int
    /// How long one IDLE lasts before DONE and a new IDLE (a keep-alive, and the proof the
    /// connection still works): under the 29 minutes of RFC 2177.
    public var pushKeepalive: Duration
    /// Use NOTIFY (RFC 5465) when the server offers it: one connection for every pushed folder.
    public var pushNotify: Bool
    /// Watch the Maildir with inotify: a change here becomes an upload run within a second.
    public var pushLocal: Bool
    /// Where the outbox goes (the `smtp` table); nil: the store does not send.
    public var smtp: SMTPSettings?

    /// The outbox and where sent and refused messages go (`outbox`, `sent_folder`, ...).
    public var sending: OutboxFolders
    public var outbox: FolderName { sending.outbox }
    public var sentFolder: FolderName { sending.sent }
    public var failedFolder: FolderName { sending.failed }
    public var saveSent: Bool { sending.saveSent }
    public var outboxPath: String { sending.outboxPath }
    public var sentPath: String { sending.sentPath }
    public var failedPath: String { sending.failedPath }
    /// The store's folders on disk, without opening (locking) the store.
    public var mailTree: MaildirTree { MaildirTree(root: maildir, layout: layout == .nested ? .nested : .maildirPlusPlus) }

    static let keys = [
        "host", "port", "security", "allow_plaintext", "user", "auth", "password", "oauth2", "sasl_mechanism", "ca_file",
        "maildir", "layout", "include", "exclude", "fetch_batch", "flag_scan_window", "compress", "timeout", "headers_only", "expunge", "max_delete_share",
        "max_delete_min", "push", "push_connections", "push_keepalive", "push_local", "push_notify",
    ] + OutboxFolders.keys + ["smtp"]

    static let oauth2Keys = ["issuer", "tenant", "client_id", "client_secret", "token_url", "device_authorization_url", "scopes"]

    init(options: ConfigSection) throws {
        host = try options.requiredString("host")
        let securityName = try options.string("security", default: Security.tls.rawValue)
        guard let security = Security(rawValue: securityName) else {
            throw options.error("security", "expected one of \(Security.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.security = security
        port = try options.int("port", default: security == .tls ? 993 : 143, range: 1...65535)
        let allowPlaintext = try options.bool("allow_plaintext", default: false)
        if security == .none, !allowPlaintext, !Self.isLoopback(host) {
            throw options.error("security", "\"none\" sends the password unencrypted; it is allowed for loopback hosts, or with allow_plaintext = true")
        }
        user = try options.requiredString("user")
        let oauth2Section = try options.section("oauth2")
        let authName = try options.string("auth", default: oauth2Section == nil ? Auth.password.rawValue : Auth.oauth2.rawValue)
        guard let auth = Auth(rawValue: authName) else {
            throw options.error("auth", "expected one of \(Auth.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.auth = auth
        password = try options.secret("password")
        if let name = try options.string("sasl_mechanism") {
            guard let mechanism = SASL.OAuthMechanism(rawValue: name.uppercased()) else {
                throw options.error("sasl_mechanism", "expected OAUTHBEARER or XOAUTH2")
            }
            guard auth == .oauth2 else { throw options.error("sasl_mechanism", "is for auth = \"oauth2\"") }
            saslMechanism = mechanism
        }
        switch (auth, password, oauth2Section) {
        case (.password, nil, _):
            throw options.error("password", "is required")
        case (.password, _, _?):
            throw options.error("oauth2", "an oauth2 table needs auth = \"oauth2\" (or no auth key)")
        case (.oauth2, _?, _?):
            throw options.error("password", "with an oauth2 table syncd gets the tokens itself; remove password (or the oauth2 table, to use a token helper)")
        case (.oauth2, nil, nil):
            throw options.error("auth", "oauth2 needs an oauth2 table (syncd's own login) or password = { command = [...] } (a token helper that prints an access token)")
        case (.oauth2, nil, let section?):
            oauth2 = try Self.oauth2Settings(section)
        default:
            break
        }
        caFile = try options.string("ca_file")
        if let caFile, !caFile.hasPrefix("/") { throw options.error("ca_file", "expected an absolute path") }
        maildir = try options.requiredString("maildir")
        guard maildir.hasPrefix("/") else { throw options.error("maildir", "expected an absolute path") }
        let layoutName = try options.string("layout", default: Layout.maildirPlusPlus.rawValue)
        guard let layout = Layout(rawValue: layoutName) else {
            throw options.error("layout", "expected one of \(Layout.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.layout = layout
        include = try options.stringArray("include") ?? ["*"]
        exclude = try options.stringArray("exclude") ?? []
        fetchBatch = try options.int("fetch_batch", default: 200, range: 1...10_000)
        flagScanWindow = try options.int("flag_scan_window", default: 5_000, range: 1...1_000_000)
        compress = try options.bool("compress", default: true)
        timeout = try options.duration("timeout", default: .seconds(60))
        headersOnly = try options.bool("headers_only", default: false)
        expunge = try options.bool("expunge", default: true)
        maxDeleteShare = try options.int("max_delete_share", default: 50, range: 0...100)
        maxDeleteMin = try options.int("max_delete_min", default: 20, range: 0...1_000_000)
        push = try options.stringArray("push") ?? ["INBOX"]
        pushConnections = try options.int("push_connections", default: 5, range: 1...100)
        pushKeepalive = try options.duration("push_keepalive", default: .seconds(600))
        guard pushKeepalive >= .seconds(1), pushKeepalive < .seconds(29 * 60) else {
            throw options.error("push_keepalive", "expected at least 1s and under 29m (servers end an IDLE after 30 minutes)")
        }
        pushLocal = try options.bool("push_local", default: true)
        pushNotify = try options.bool("push_notify", default: true)
        sending = try OutboxFolders(options: options, tree: MaildirTree(root: maildir, layout: layout == .nested ? .nested : .maildirPlusPlus))
        if let section = try options.section("smtp") {
            smtp = try SMTPSettings(options: section, imap: true)
            try section.finish(expected: SMTPSettings.keys)
        }
    }

    /// `[store.NAME.oauth2]`: an issuer preset (`google`, `microsoft` with `tenant`) or the
    /// endpoints; `client_id`; `client_secret` (a secret); `scopes` replacing the preset's.
    private static func oauth2Settings(_ section: ConfigSection) throws -> OAuth2Settings {
        let clientID = try section.requiredString("client_id")
        guard !clientID.isEmpty else { throw section.error("client_id", "is empty") }
        let clientSecret = try section.secret("client_secret")
        let issuer = try section.string("issuer")
        let tenant = try section.string("tenant")
        var configuration: OAuth2Configuration
        switch issuer {
        case "google"?:
            configuration = .google(clientID: clientID)
        case "microsoft"?:
            let tenant = tenant ?? "common"
            guard !tenant.isEmpty, tenant.allSatisfy({ $0.isLetter || $0.isNumber || "-.".contains($0) }) else {
                throw section.error("tenant", "expected common, consumers, organizations, or a tenant id or domain")
            }
            configuration = .microsoft(clientID: clientID, tenant: tenant)
        case nil:
            configuration = OAuth2Configuration(tokenURL: "", deviceAuthorizationURL: "", clientID: clientID, scopes: [])
        case let other?:
            throw section.error("issuer", "unknown issuer '\(other)'; known: google, microsoft (or leave it out and give token_url and device_authorization_url)")
        }
        if tenant != nil, issuer != "microsoft" { throw section.error("tenant", "is for issuer = \"microsoft\"") }
        for (key, keyPath) in [("token_url", \OAuth2Configuration.tokenURL), ("device_authorization_url", \OAuth2Configuration.deviceAuthorizationURL)] {
            if let url = try section.string(key) {
                guard OAuth2Configuration.isAcceptable(url) else {
                    throw section.error(key, "expected an https:// URL (http:// only to a loopback address)")
                }
                configuration[keyPath: keyPath] = url
            } else if issuer == nil {
                throw section.error(key, "is required without an issuer preset (google, microsoft)")
            }
        }
        if let scopes = try section.stringArray("scopes") {
            guard !scopes.isEmpty, scopes.allSatisfy({ !$0.isEmpty && !$0.contains(" ") }) else {
                throw section.error("scopes", "expected scopes such as [\"https://mail.google.com/\"], each without spaces")
            }
            configuration.scopes = scopes
        } else if issuer == nil {
            throw section.error("scopes", "is required without an issuer preset (google, microsoft)")
        }
        try section.finish(expected: oauth2Keys)
        return OAuth2Settings(configuration: configuration, clientSecret: clientSecret)
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// Whether the folder is to be synced, by `include` then `exclude`.
    /// The outbox and the Failed folder of a store that sends are this machine's own: never synced.
    public func wants(_ folder: String) -> Bool {
        if smtp != nil, folder == outbox.description || folder == failedFolder.description { return false }
        return include.contains { Glob.matches($0, folder) } && !exclude.contains { Glob.matches($0, folder) }
    }

    /// The local name of a folder the server listed, if it is one the account syncs (its name
    /// decodes from modified UTF-7 and makes a folder name).
    func syncedFolder(_ entry: MailboxListEntry) -> FolderName? {
        guard let decoded = try? entry.name.decoded(),
              let name = try? FolderName(imapName: decoded, delimiter: entry.delimiter),
              wants(name.description)
        else { return nil }
        return name
    }

    /// The local name of a listed folder that push watches: synced, selectable and named by `push`.
    func pushedFolder(_ entry: MailboxListEntry) -> FolderName? {
        guard entry.isSelectable, let name = syncedFolder(entry), pushes(name)
        else { return nil }
        return name
    }

    func pushes(_ folder: FolderName) -> Bool {
        push.contains { Glob.matches($0, folder.description) }
    }

    /// A client TLS context that verifies the server's certificate and name against the system's
    /// roots, or against `ca_file` when given.
    func tlsContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = .fullVerification
        if let caFile {
            configuration.trustRoots = .file(caFile)
        }
        return try NIOSSLContext(configuration: configuration)
    }
}

/// Shell-style patterns for folder names: `*` any text (including the hierarchy delimiter), `?`
/// one character; everything else literal.
enum Glob {
    static func matches(_ pattern: String, _ text: String) -> Bool {
        matches(Array(pattern), Array(text))
    }

    private static func matches(_ pattern: [Character], _ text: [Character]) -> Bool {
        var p = 0, t = 0, star = -1, mark = 0
        while t < text.count {
            if p < pattern.count, pattern[p] == "?" || pattern[p] == text[t] {
                p += 1
                t += 1
            } else if p < pattern.count, pattern[p] == "*" {
                star = p
                mark = t
                p += 1
            } else if star >= 0 {
                p = star + 1
                mark += 1
                t = mark
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == "*" { p += 1 }
        return p == pattern.count
    }
}
