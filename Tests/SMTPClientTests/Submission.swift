import Foundation
import Logging
import MailServers
import NIOPosix
import SMTPClient
import XCTest

/// What the SMTP client tests share: a client configured for a test's ``Postfix``, message files
/// in a directory of the test's own.
struct Submission {
    let postfix: Postfix
    let directory: String

    init(_ postfix: Postfix) throws {
        self.postfix = postfix
        directory = postfix.directory + "/messages"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    static let alice = SMTPLogin.password(user: "alice", password: "secret")

    func server(_ security: SMTPServer.Security = .starttls, caFile: String? = nil, timeout: Duration = .seconds(10)) -> SMTPServer {
        SMTPServer(host: "localhost", port: security == .tls ? postfix.tlsPort : postfix.submissionPort, security: security,
                   caFile: caFile ?? postfix.caFile, timeout: timeout, heloName: "client.example.test")
    }

    func connect(_ security: SMTPServer.Security = .starttls, login: SMTPLogin? = alice, timeout: Duration = .seconds(10)) async throws -> SMTPConnection {
        try await SMTPConnection.connect(to: server(security, timeout: timeout), login: login,
                                         group: MultiThreadedEventLoopGroup.singleton, logger: Self.logger)
    }

    static var logger: Logger {
        var logger = Logger(label: "smtp-test")
        logger.logLevel = ProcessInfo.processInfo.environment["SMTP_TEST_DEBUG"] != nil ? .trace : .info
        return logger
    }

    /// Writes a message file with LF line ends, as a Maildir holds it; returns its path.
    func message(subject: String, body: String, from: String = "alice@example.test", to: String = "bob@example.test") throws -> String {
        let path = directory + "/\(UInt32.random(in: 0...UInt32.max)).eml"
        let text = "From: \(from)\nTo: \(to)\nSubject: \(subject)\nMessage-ID: <\(UUID().uuidString)@example.test>\n\n" + body
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The body of a message as a reader fetches it over IMAP: what follows the first empty line.
    static func body(_ message: Data) -> Data {
        guard let blank = message.range(of: Data("\r\n\r\n".utf8)) else { return Data() }
        return message[blank.upperBound...]
    }

    /// `text` with every LF made CRLF, as it travels and as IMAP returns it.
    static func crlf(_ text: Data) -> Data {
        var out = Data(capacity: text.count + text.count / 40)
        for byte in text {
            if byte == 0x0A { out.append(0x0D) }
            out.append(byte)
        }
        return out
    }
}

/// The peak resident memory of this process (VmHWM), after resetting it to the current size.
enum PeakMemory {
    static func reset() { try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8) }

    static func kilobytes(_ field: String) -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        }
        return 0
    }
}
