import Foundation
import TestSupport

extension DaemonProcess {
    /// Gives the daemon one imap store `mail` on `dovecot`: alice over plain IMAP on loopback, her
    /// password in a file in the daemon's directory, the Maildir `directory/mail`; `extra` follows
    /// the store's keys (more keys, or tables after it such as `[store.mail.smtp]`).
    public func writeIMAPStore(_ dovecot: Dovecot, _ extra: String = "") throws {
        try "secret".write(toFile: directory + "/password", atomically: true, encoding: .utf8)
        try writeConfig("""
            [store.mail]
            provider = "imap"
            host = "127.0.0.1"
            port = \(dovecot.plainPort)
            security = "none"
            user = "alice"
            password = { file = "\(directory)/password" }
            maildir = "\(directory)/mail"
            \(extra)
            """)
    }
}
