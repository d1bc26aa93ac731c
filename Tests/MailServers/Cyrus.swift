import Foundation
import IMAPProtocol

/// A throwaway Cyrus IMAP on loopback (tests/cyrus/cyrus.sh) with a generated mailbox: the second
/// real server of the provider's end-to-end tests. Its store is not a Maildir, so everything goes
/// over IMAP (tests/cyrus/imap.py): messages are APPENDed, and the server is read back by FETCHing
/// every message of every folder into a Maildir++ snapshot.
public final class Cyrus {
    /// How Cyrus names alice's folders: its hierarchy separator, and whether they are beside INBOX
    /// (`altnamespace: yes`, like Dovecot: "Sent") or below it (Debian's default: "INBOX.Sent").
    public struct Namespace: Sendable {
        public var separator: Character
        public var altNamespace: Bool
        /// Debian's imapd.conf: `unixhierarchysep: no`, `altnamespace: no`.
        public static let debian = Namespace(separator: ".", altNamespace: false)
        /// `unixhierarchysep: yes`, `altnamespace: no`: "INBOX/Sent".
        public static let slashBelowInbox = Namespace(separator: "/", altNamespace: false)
        /// Cyrus's own defaults since 3.0: `unixhierarchysep: yes`, `altnamespace: yes`.
        public static let upstream = Namespace(separator: "/", altNamespace: true)
    }

    public static let script = Dovecot.repository.path + "/tests/cyrus/cyrus.sh"
    public static let tool = Dovecot.repository.path + "/tests/cyrus/imap.py"
    public let directory: String
    public let plainPort: Int
    public let namespace: Namespace
    /// Capabilities Cyrus does not announce (`suppress_capabilities`), e.g. "QRESYNC CONDSTORE".
    public let suppressed: String?
    private var generated = 0

    public var label: String {
        "Cyrus (\(namespace.separator), \(namespace.altNamespace ? "altnamespace" : "INBOX\(namespace.separator)Name")\(suppressed.map { ", without \($0)" } ?? ""))"
    }

    public init(
        messages: Int, folders: String = "INBOX,Sent,Archiv/2024,Entwürfe", seed: Int = 1,
        namespace: Namespace = .debian, suppressing suppressed: String? = nil
    ) throws {
        self.namespace = namespace
        self.suppressed = suppressed
        // As Dovecot's: scripts/test finds what a run left running by the run's name, which Cyrus's
        // processes carry in their command lines (-C DIR/imapd.conf), not in their environment.
        let run = ProcessInfo.processInfo.environment["SYNCD_TEST_RUN"].map { $0 + "-" } ?? ""
        directory = "/tmp/cyrus-\(run)\(UInt32.random(in: 0...UInt32.max))"
        plainPort = Dovecot.freePort()
        let prefix = ProcessInfo.processInfo.environment["CYRUS_PREFIX"] ?? "/var/cache/syncd-tests/cyrus"
        guard FileManager.default.isExecutableFile(atPath: prefix + "/usr/lib/cyrus/bin/master") else {
            throw DovecotError("Cyrus is not unpacked in \(prefix): run scripts/test (or tests/cyrus/cyrus.sh setup)")
        }
        try Dovecot.run(Self.script, [
            "start", directory, "\(plainPort)", String(namespace.separator), namespace.altNamespace ? "yes" : "no",
        ] + (suppressed.map { [$0] } ?? []))
        if messages > 0 { try generate(messages: messages, folders: folders, seed: seed) }
    }

    deinit {
        _ = try? Dovecot.run(Self.script, ["stop", directory])
        try? FileManager.default.removeItem(atPath: directory)
    }

    public func port(security: String) -> Int { plainPort }

    @discardableResult
    private func tool(_ arguments: [String]) throws -> String {
        try Dovecot.run("/usr/bin/env", ["python3", Self.tool, "--port", "\(plainPort)"] + arguments)
    }

    public func generate(messages: Int, folders: String, seed: Int) throws {
        try tool(["populate", "--messages", "\(messages)", "--first", "\(generated)", "--folders", folders, "--seed", "\(seed)"])
        generated += messages
    }

    public func snapshot() throws -> String {
        let path = directory + "/snapshot"
        try? FileManager.default.removeItem(atPath: path)
        try tool(["dump", path])
        return path
    }

    public func mailboxName(_ folder: String) -> String {
        guard folder != "INBOX" else { return "INBOX" }
        let name = folder.replacingOccurrences(of: "/", with: String(namespace.separator))
        return String(decoding: MailboxName(namespace.altNamespace ? name : "INBOX\(namespace.separator)\(name)").bytes, as: UTF8.self)
    }

    public func localName(_ folder: String) -> String {
        folder == "INBOX" || namespace.altNamespace ? folder : "INBOX/" + folder
    }

    public func deleteFolder(_ folder: String) throws { try tool(["delete", folder]) }

    public func denyRead(_ folder: String) throws -> Bool {
        try tool(["deny-read", folder])
        return true
    }

    public func allowRead(_ folder: String) throws { try tool(["allow-read", folder]) }

    /// Cyrus keeps a folder's UIDVALIDITY for its life: the admin deletes alice's mailboxes and
    /// they are made again with the same messages, flags and dates.
    public func renumber() throws { try tool(["renumber"]) }

    /// Kills the imapd processes (one per connection) of this Cyrus: those in its master's session.
    public var connectionCutter: @Sendable () -> Void {
        { [pidFile = directory + "/cyrus.pid"] in Dovecot.killProcesses(named: "imapd", inSessionOf: pidFile) }
    }
}
