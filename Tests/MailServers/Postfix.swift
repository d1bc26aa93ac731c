#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A throwaway Postfix on loopback (tests/postfix/postfix.sh) as a submission server: STARTTLS
/// required on ``submissionPort``, implicit TLS on ``tlsPort``, AUTH through the Dovecot's auth,
/// delivery over LMTP into that Dovecot, where the recipients read their mail. Users alice and bob
/// (password "secret") at example.test; greybob@example.test is bob behind greylisting (451 to the
/// first RCPT of each sender, then accepted); nobody@example.test gets 550 5.1.1.
public final class Postfix {
    public let dovecot: Dovecot
    public let directory: String
    public let submissionPort: Int
    public let tlsPort: Int
    /// A careless listener: no STARTTLS, and AUTH offered in the clear.
    public let cleartextPort: Int
    /// Postfix's SIZE limit (message_size_limit).
    public let messageSizeLimit: Int
    /// The certificate the server presents (self-signed, CN localhost, SAN 127.0.0.1).
    public var caFile: String { directory + "/tls/cert.pem" }
    /// What Postfix logged so far (its maillog_file).
    public var log: String { (try? String(contentsOfFile: directory + "/maillog", encoding: .utf8)) ?? "" }
    private var pidFile: String { directory + "/postfix.pid" }
    private static let script = Dovecot.repository.path + "/tests/postfix/postfix.sh"

    /// Starts Postfix and, for it, a Dovecot of its own (with DOVECOT_POSTFIX's sockets), whose
    /// SASL mechanisms Postfix offers: `authMechanisms` as for ``Dovecot``.
    public init(messageSizeLimit: Int = 64 << 20, authMechanisms: String? = nil) throws {
        guard getuid() == 0 else { throw DovecotError("Postfix's master runs only as root: run the SMTP tests as root (CI does)") }
        guard FileManager.default.isExecutableFile(atPath: "/usr/lib/postfix/sbin/master") else {
            throw DovecotError("postfix is not installed: run scripts/test (it installs postfix)")
        }
        dovecot = try Dovecot(messages: 0, postfix: true, authMechanisms: authMechanisms)
        self.messageSizeLimit = messageSizeLimit
        // As Dovecot's: the run's name in the directory, so scripts/test finds what is left running.
        let run = ProcessInfo.processInfo.environment["SYNCD_TEST_RUN"].map { $0 + "-" } ?? ""
        directory = "/tmp/postfix-\(run)\(UInt32.random(in: 0...UInt32.max))"
        submissionPort = Dovecot.freePort()
        tlsPort = Dovecot.freePort()
        cleartextPort = Dovecot.freePort()
        try Dovecot.run(Self.script, [
            "start", directory, "\(submissionPort)", "\(tlsPort)", "\(cleartextPort)", dovecot.directory, "\(messageSizeLimit)",
        ])
    }

    deinit {
        _ = try? Dovecot.run(Self.script, ["stop", directory])
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The pids of the smtpd processes serving connections now (children of this Postfix's master).
    public var smtpdProcesses: [pid_t] { Dovecot.processes(named: "smtpd", inSessionOf: pidFile) }

    /// Waits until the log has a line containing `text` (Postfix logs a session's end once its
    /// smtpd sees the close), at most `seconds`.
    public func waitForLog(_ text: String, seconds: Double = 5) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if log.contains(text) { return true }
            usleep(50_000)
        }
        return log.contains(text)
    }
}
