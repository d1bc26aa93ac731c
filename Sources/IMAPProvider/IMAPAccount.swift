import NIOSSL
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
    public var user: String
    public var password: SecretSource
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

    static let keys = [
        "host", "port", "security", "allow_plaintext", "user", "password", "ca_file", "maildir", "layout",
        "include", "exclude", "fetch_batch", "timeout", "headers_only", "expunge", "max_delete_share", "max_delete_min",
    ]

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
        guard let password = try options.secret("password") else { throw options.error("password", "is required") }
        self.password = password
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
        timeout = try options.duration("timeout", default: .seconds(60))
        headersOnly = try options.bool("headers_only", default: false)
        expunge = try options.bool("expunge", default: true)
        maxDeleteShare = try options.int("max_delete_share", default: 50, range: 0...100)
        maxDeleteMin = try options.int("max_delete_min", default: 20, range: 0...1_000_000)
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// Whether the folder is to be synced, by `include` then `exclude`.
    public func wants(_ folder: String) -> Bool {
        include.contains { Glob.matches($0, folder) } && !exclude.contains { Glob.matches($0, folder) }
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
