import Foundation
import IMAPProtocol
import MailServers

/// A real IMAP server a test starts on loopback (``Dovecot``, ``Cyrus``), with what the
/// provider's end-to-end tests need to change it and to read it back; stopped when released.
///
/// Folder names given to it are the tests' generic ones, "/"-separated and decoded ("Sent",
/// "Archiv/2024", "Entwürfe"); each server says how they look on its side (``mailboxName(_:)``) and
/// in what syncd makes of them (``localName(_:)``).
protocol IMAPTestServer: AnyObject {
    /// For messages: "Dovecot", "Cyrus (separator ., INBOX.Name)" and so on.
    var label: String { get }
    var plainPort: Int { get }
    /// The port to configure for `security` ("none", "tls", "starttls"); a server without TLS
    /// returns its plain port.
    func port(security: String) -> Int
    /// Adds generated messages (tests/dovecot/make-mailbox.py's) to `folders`, creating them.
    func generate(messages: Int, folders: String, seed: Int) throws
    /// A Maildir++ tree (folder components in modified UTF-7, "." between them) holding every
    /// message the server has now, with its flags: read by ``MailboxContents`` and the header checks.
    func snapshot() throws -> String
    /// The folder's name in the server's own syntax (modified UTF-7), for commands such as `SELECT`.
    func mailboxName(_ folder: String) -> String
    /// The folder as syncd names it locally (``MailboxContents`` keys, "/" between levels).
    func localName(_ folder: String) -> String
    /// Deletes a folder and its messages, as another client or an administrator would.
    func deleteFolder(_ folder: String) throws
    /// Makes the folder unreadable for alice (listed, but its SELECT and STATUS fail); `false` if
    /// this server cannot (Dovecot run as root ignores permission bits).
    func denyRead(_ folder: String) throws -> Bool
    func allowRead(_ folder: String) throws
    /// Gives INBOX (and maybe the other folders) a new UIDVALIDITY with the same messages and flags.
    func renumber() throws
    /// Kills the server processes that serve logged-in connections when called (from any task):
    /// they drop mid-command, as when a server restarts. The server goes on accepting new ones.
    var connectionCutter: @Sendable () -> Void { get }
}

extension IMAPTestServer {
    /// What the server has, by folder (``localName(_:)`` names) and Message-ID.
    func contents() throws -> MailboxContents {
        try MailboxContents(maildirPlusPlus: snapshot()) { (try? MailboxName.decode($0)) ?? $0 }
    }
}

extension Dovecot: IMAPTestServer {
    var label: String { "Dovecot" }

    func port(security: String) -> Int { security == "tls" ? tlsPort : plainPort }

    /// Dovecot's own Maildir: the server's state as it is, no copy.
    func snapshot() throws -> String { mailbox }

    func mailboxName(_ folder: String) -> String {  // separator "/", no prefix
        String(decoding: MailboxName(folder).bytes, as: UTF8.self)
    }

    func localName(_ folder: String) -> String { folder }

    private func folderDirectory(_ folder: String) -> String {
        folder == "INBOX" ? mailbox : mailbox + "/." + String(decoding: MailboxName(folder.replacingOccurrences(of: "/", with: ".")).bytes, as: UTF8.self)
    }

    func deleteFolder(_ folder: String) throws {
        try run("/bin/rm", ["-rf", folderDirectory(folder)])
    }

    func denyRead(_ folder: String) throws -> Bool {
        try run("/bin/chmod", ["000", folderDirectory(folder) + "/cur"])
        return getuid() != 0
    }

    func allowRead(_ folder: String) throws {
        try run("/bin/chmod", ["755", folderDirectory(folder) + "/cur"])
    }

    var connectionCutter: @Sendable () -> Void { { Dovecot.killIMAPProcesses() } }

    /// Drops INBOX's UID list and indexes while Dovecot is stopped: it numbers the messages anew.
    func renumber() throws {
        try restart {
            for file in try FileManager.default.contentsOfDirectory(atPath: mailbox) where file.hasPrefix("dovecot") {
                try FileManager.default.removeItem(atPath: mailbox + "/" + file)
            }
        }
    }
}

extension Cyrus: IMAPTestServer {}
