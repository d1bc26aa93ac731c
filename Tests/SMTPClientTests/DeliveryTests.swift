#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MailServers
import SMTPClient
import SMTPProtocol
import XCTest

/// Messages sent through a real Postfix (STARTTLS or implicit TLS, AUTH through Dovecot) and read
/// back where the recipient reads them: Dovecot's INBOX over IMAP.
final class DeliveryTests: XCTestCase {
    func testStartTLSWithPlain_deliversTheBodyByteForByte() async throws {
        let postfix = try Postfix()
        let submission = try Submission(postfix)
        let body = """
            Hello Bob,

            .a line that starts with a dot
            ..two dots
            .
            a line after one that is only a dot
            Grüße aus Köln — 8-bit UTF-8: ÄÖÜ ß €

            """
        let path = try submission.message(subject: "Grüße", body: body)
        let connection = try await submission.connect(.starttls)
        XCTAssertTrue(connection.capabilities.pipelining)
        XCTAssertTrue(connection.capabilities.eightBitMIME)
        XCTAssertTrue(connection.capabilities.enhancedStatusCodes)
        XCTAssertEqual(connection.capabilities.sizeLimit, postfix.messageSizeLimit)
        XCTAssertFalse(connection.capabilities.startTLS, "the capabilities are those after TLS")
        let delivery = try await connection.send(SMTPEnvelope(from: "alice@example.test", recipients: ["bob@example.test"]), messageFile: path)
        await connection.quit()
        XCTAssertEqual(delivery.reply.code, 250)
        XCTAssertEqual(delivery.accepted, ["bob@example.test"])
        XCTAssertTrue(delivery.rejected.isEmpty)

        XCTAssertEqual(postfix.dovecot.waitForMessages(user: "bob", count: 1), 1)
        let fetched = try postfix.dovecot.fetchInbox(user: "bob")
        XCTAssertEqual(fetched.count, 1)
        XCTAssertEqual(Submission.body(fetched[0]), Submission.crlf(Data(body.utf8)), "the body as sent, byte for byte")
        XCTAssertTrue(String(decoding: fetched[0], as: UTF8.self).contains("Subject: Grüße"))
        XCTAssertTrue(postfix.waitForLog("sasl_method=PLAIN, sasl_username=alice"), postfix.log)
        XCTAssertTrue(postfix.waitForLog("starttls=1"), postfix.log)
    }

    func testImplicitTLS_delivers() async throws {
        let postfix = try Postfix()
        let submission = try Submission(postfix)
        let path = try submission.message(subject: "over 465", body: "implicit TLS\n")
        let connection = try await submission.connect(.tls)
        let delivery = try await connection.send(SMTPEnvelope(from: "alice@example.test", recipients: ["bob@example.test"]), messageFile: path)
        await connection.quit()
        XCTAssertEqual(delivery.accepted, ["bob@example.test"])
        XCTAssertEqual(postfix.dovecot.waitForMessages(user: "bob", count: 1), 1)
        XCTAssertEqual(try postfix.dovecot.fetchInbox(user: "bob").map(Submission.body), [Data("implicit TLS\r\n".utf8)])
        XCTAssertTrue(postfix.waitForLog("disconnect from localhost[127.0.0.1] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1"), postfix.log)
    }

    func testTwoHundredMessages_goOverOneConnection() async throws {
        let postfix = try Postfix()
        let submission = try Submission(postfix)
        let count = 200
        let paths = try (1...count).map { try submission.message(subject: "message \($0)", body: "number \($0)\n") }
        let started = ContinuousClock.now
        let connection = try await submission.connect()
        for path in paths {
            let delivery = try await connection.send(
                SMTPEnvelope(from: "alice@example.test", recipients: ["bob@example.test", "alice@example.test"]), messageFile: path)
            XCTAssertEqual(delivery.accepted, ["bob@example.test", "alice@example.test"])
        }
        await connection.quit()
        print("\(count) messages on one connection (connect, STARTTLS, AUTH, quit included): \(ContinuousClock.now - started)")
        XCTAssertEqual(postfix.dovecot.waitForMessages(user: "bob", count: count, seconds: 60), count)
        XCTAssertEqual(postfix.dovecot.waitForMessages(user: "alice", count: count, seconds: 60), count)
        let bodies = try postfix.dovecot.fetchInbox(user: "bob").map { String(decoding: Submission.body($0), as: UTF8.self) }
        XCTAssertEqual(Set(bodies), Set((1...count).map { "number \($0)\r\n" }))
        XCTAssertTrue(postfix.waitForLog("mail=\(count) rcpt=\(2 * count) data=\(count) quit=1"), postfix.log)
    }

    /// A non-ASCII address goes with MAIL FROM's SMTPUTF8, which Postfix insists on for it.
    func testNonASCIISender_isSentWithSMTPUTF8() async throws {
        let postfix = try Postfix()
        let submission = try Submission(postfix)
        let path = try submission.message(subject: "unicode", body: "from Jürgen\n", from: "jürgen@example.test")
        let connection = try await submission.connect()
        XCTAssertTrue(connection.capabilities.smtpUTF8)
        let delivery = try await connection.send(SMTPEnvelope(from: "jürgen@example.test", recipients: ["bob@example.test"]), messageFile: path)
        await connection.quit()
        XCTAssertEqual(delivery.accepted, ["bob@example.test"])
        XCTAssertTrue(postfix.waitForLog("from=<jürgen@example.test>"), postfix.log)
    }

    /// Sends from several tasks on one connection wait their turn instead of mixing on the wire.
    func testConcurrentSends_takeTurns() async throws {
        let postfix = try Postfix()
        let submission = try Submission(postfix)
        let connection = try await submission.connect()
        let paths = try (1...8).map { try submission.message(subject: "parallel \($0)", body: "parallel \($0)\n") }
        let accepted = try await withThrowingTaskGroup(of: [String].self) { group in
            for path in paths {
                group.addTask {
                    try await connection.send(SMTPEnvelope(from: "alice@example.test", recipients: ["bob@example.test"]), messageFile: path).accepted
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        await connection.quit()
        XCTAssertEqual(accepted, Array(repeating: "bob@example.test", count: paths.count))
        XCTAssertEqual(postfix.dovecot.waitForMessages(user: "bob", count: paths.count), paths.count)
        let bodies = try postfix.dovecot.fetchInbox(user: "bob").map { String(decoding: Submission.body($0), as: UTF8.self) }
        XCTAssertEqual(Set(bodies), Set((1...paths.count).map { "parallel \($0)\r\n" }))
    }

    /// 20 MB streamed from its file: the body arrives whole, and the client's peak memory does not
    /// grow by anything like the message's size.
    func testTwentyMegabytes_areStreamed() async throws {
        let postfix = try Postfix()
        let submission = try Submission(postfix)
        let path = submission.directory + "/big.eml"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: nil))
        let file = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        file.write(Data("From: alice@example.test\nTo: bob@example.test\nSubject: big\n\n".utf8))
        // Lines of base64-like text, some starting with a dot, as an attachment's are.
        var line = 0
        var chunk = Data()
        var expected = Data()
        while expected.count < 20 << 20 {
            chunk.removeAll(keepingCapacity: true)
            for _ in 0..<1000 {
                line += 1
                let text = (line % 97 == 0 ? "." : "") + String(repeating: String(line, radix: 36), count: 80).prefix(76)
                chunk.append(contentsOf: text.utf8)
                chunk.append(0x0A)
                expected.append(contentsOf: text.utf8)
                expected.append(contentsOf: [0x0D, 0x0A])
            }
            file.write(chunk)
        }
        try file.close()

        let connection = try await submission.connect()
        PeakMemory.reset()
        let before = PeakMemory.kilobytes("VmRSS")
        let started = ContinuousClock.now
        let delivery = try await connection.send(SMTPEnvelope(from: "alice@example.test", recipients: ["bob@example.test"]), messageFile: path)
        let elapsed = ContinuousClock.now - started
        let peak = PeakMemory.kilobytes("VmHWM")
        await connection.quit()
        XCTAssertEqual(delivery.accepted, ["bob@example.test"])
        let growth = peak - before
        print("20 MB message: sent in \(elapsed); peak resident memory grew by \(growth) KB while sending (\(before) KB before)")
        XCTAssertLessThan(growth, 8 * 1024, "the client held the message in memory")

        XCTAssertEqual(postfix.dovecot.waitForMessages(user: "bob", count: 1, seconds: 30), 1)
        let fetched = try postfix.dovecot.fetchInbox(user: "bob")
        XCTAssertEqual(fetched.count, 1)
        let received = Submission.body(fetched[0])
        XCTAssertEqual(received.count, expected.count)
        XCTAssertTrue(received == expected, "the 20 MB body as sent")
    }
}
