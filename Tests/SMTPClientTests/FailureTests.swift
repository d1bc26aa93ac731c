#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MailServers
import NIOPosix
import SMTPClient
import SMTPProtocol
import TestSupport
import XCTest

/// How the client fails against a real Postfix that refuses, defers, stops answering or goes
/// away, and what it tells the sender: retry later, or give up.
final class FailureTests: XCTestCase {
    private let envelope = SMTPEnvelope(from: "alice@example.test", recipients: ["bob@example.test"])

    private func expectError(
        _ body: () async throws -> Void, file: StaticString = #filePath, line: UInt = #line
    ) async -> SMTPError? {
        do {
            try await body()
            XCTFail("no error", file: file, line: line)
            return nil
        } catch let error as SMTPError {
            return error
        } catch {
            XCTFail("not an SMTPError: \(error)", file: file, line: line)
            return nil
        }
    }

    func testWrongPassword_isAuthenticationFailed_notTemporary() async throws {
        let postfix = try Postfix()
        let submission = try Submission(postfix)
        let error = await expectError {
            _ = try await submission.connect(login: .password(user: "alice", password: "wrong"))
        }
        XCTAssertEqual(error?.kind, .authenticationFailed)
        XCTAssertEqual(error?.isTemporary, false)
        XCTAssertEqual(error?.reply?.code, 535)
        XCTAssertEqual(error?.reply?.enhancedCode?.description, "5.7.8")
        XCTAssertTrue(error?.description.contains("535 5.7.8") ?? false, error?.description ?? "")
    }

    func testGreylistedRecipient_isTemporary_andTheRetryIsAccepted() async throws {
        let postfix = try Postfix()
        let submission = try Submission(postfix)
        let path = try submission.message(subject: "grey", body: "try again\n", to: "greybob@example.test")
        let grey = SMTPEnvelope(from: "alice@example.test", recipients: ["greybob@example.test"])
        let connection = try await submission.connect()
        let error = await expectError { _ = try await connection.send(grey, messageFile: path) }
        XCTAssertEqual(error?.kind, .rejected)
        XCTAssertEqual(error?.isTemporary, true)
        XCTAssertEqual(error?.reply?.code, 451)
        XCTAssertTrue(error?.description.contains("451 4.7.1") ?? false, error?.description ?? "")
        // The same connection, after its RSET, takes the retry.
        let delivery = try await connection.send(grey, messageFile: path)
        await connection.quit()
        XCTAssertEqual(delivery.accepted, ["greybob@example.test"])
        XCTAssertEqual(postfix.dovecot.waitForMessages(user: "bob", count: 1), 1)
        XCTAssertTrue(postfix.waitForLog("rset=1"), postfix.log)
    }

    func testRejectedRecipientAmongGoodOnes_theOthersGetTheMessage() async throws {
        let postfix = try Postfix()
        let submission = try Submission(postfix)
        let path = try submission.message(subject: "three", body: "to three\n")
        let connection = try await submission.connect()
        let delivery = try await connection.send(
            SMTPEnvelope(from: "alice@example.test", recipients: ["bob@example.test", "nobody@example.test", "alice@example.test"]),
            messageFile: path)
        await connection.quit()
        XCTAssertEqual(delivery.accepted, ["bob@example.test", "alice@example.test"])
        XCTAssertEqual(delivery.rejected.map(\.recipient), ["nobody@example.test"])
        XCTAssertEqual(delivery.rejected.first?.reply.code, 550)
        XCTAssertEqual(delivery.rejected.first?.reply.enhancedCode?.description, "5.1.1")
        XCTAssertEqual(postfix.dovecot.waitForMessages(user: "bob", count: 1), 1)
        XCTAssertEqual(postfix.dovecot.waitForMessages(user: "alice", count: 1), 1)
    }

    func testEveryRecipientRejected_isAnError_andTheConnectionSendsTheNext() async throws {
        let postfix = try Postfix()
        let submission = try Submission(postfix)
        let path = try submission.message(subject: "nobody", body: "to nobody\n")
        let connection = try await submission.connect()
        let permanent = await expectError {
            _ = try await connection.send(SMTPEnvelope(from: "alice@example.test", recipients: ["nobody@example.test"]), messageFile: path)
        }
        XCTAssertEqual(permanent?.kind, .rejected)
        XCTAssertEqual(permanent?.isTemporary, false)
        XCTAssertTrue(permanent?.description.contains("<nobody@example.test> 550 5.1.1") ?? false, permanent?.description ?? "")
        // One refusal a 4xx: the whole is worth another try later.
        let mixed = await expectError {
            _ = try await connection.send(
                SMTPEnvelope(from: "alice@example.test", recipients: ["nobody@example.test", "greybob@example.test"]), messageFile: path)
        }
        XCTAssertEqual(mixed?.kind, .rejected)
        XCTAssertEqual(mixed?.isTemporary, true)
        XCTAssertEqual(mixed?.reply?.code, 451)
        let delivery = try await connection.send(envelope, messageFile: path)
        await connection.quit()
        XCTAssertEqual(delivery.accepted, ["bob@example.test"])
        XCTAssertEqual(postfix.dovecot.waitForMessages(user: "bob", count: 1), 1)
    }

    func testTooLarge_isRefusedBeforeMailFrom() async throws {
        let postfix = try Postfix(messageSizeLimit: 10_000)
        let submission = try Submission(postfix)
        let path = try submission.message(subject: "large", body: String(repeating: "0123456789abcdef0123456789abcdef\n", count: 400))
        let connection = try await submission.connect()
        XCTAssertEqual(connection.capabilities.sizeLimit, 10_000)
        let error = await expectError { _ = try await connection.send(self.envelope, messageFile: path) }
        await connection.quit()
        XCTAssertEqual(error?.kind, .tooLarge)
        XCTAssertEqual(error?.sizeLimit, 10_000)
        XCTAssertEqual(error?.isTemporary, false)
        XCTAssertNil(error?.reply, "the client decided, the server was not asked")
        XCTAssertTrue(error?.description.contains("10000") ?? false, error?.description ?? "")
        // Postfix counts a session's commands when it ends: no MAIL among them.
        XCTAssertTrue(postfix.waitForLog("disconnect from localhost[127.0.0.1] ehlo=2 starttls=1 auth=1 quit=1"), postfix.log)
        XCTAssertFalse(postfix.log.contains("mail="), postfix.log)
    }

    /// A server that accepts the connection and never says anything.
    func testSilentServer_timesOutWithinTheTimeout() async throws {
        let (fd, port) = boundLoopbackSocket()
        defer { close(fd) }
        XCTAssertEqual(listen(fd, 4), 0)
        let started = ContinuousClock.now
        let error = await expectError {
            _ = try await SMTPConnection.connect(
                to: SMTPServer(host: "127.0.0.1", port: port, security: .starttls, timeout: .seconds(1)),
                login: Submission.alice, group: MultiThreadedEventLoopGroup.singleton, logger: Submission.logger)
        }
        let elapsed = ContinuousClock.now - started
        XCTAssertEqual(error?.kind, .timeout)
        XCTAssertEqual(error?.isTemporary, true)
        XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(900))
        XCTAssertLessThan(elapsed, .seconds(3), "waited \(elapsed) with a timeout of 1 s")
    }

    /// Postfix's smtpd stops (SIGSTOP) after the login: the next reply never comes, and the send
    /// ends with a timeout instead of waiting for ever.
    func testServerStopsAnsweringMidSession_timesOut() async throws {
        let postfix = try Postfix()
        let submission = try Submission(postfix)
        let path = try submission.message(subject: "stalled", body: "never answered\n")
        let connection = try await submission.connect(timeout: .seconds(1))
        let smtpd = postfix.smtpdProcesses
        XCTAssertFalse(smtpd.isEmpty)
        for pid in smtpd { kill(pid, SIGSTOP) }
        defer { for pid in smtpd { kill(pid, SIGKILL) } }
        let started = ContinuousClock.now
        let error = await expectError { _ = try await connection.send(self.envelope, messageFile: path) }
        let elapsed = ContinuousClock.now - started
        XCTAssertEqual(error?.kind, .timeout, error?.description ?? "")
        XCTAssertEqual(error?.isTemporary, true)
        XCTAssertLessThan(elapsed, .seconds(3), "waited \(elapsed) with a timeout of 1 s")
        let quitting = ContinuousClock.now
        await connection.quit()
        XCTAssertLessThan(ContinuousClock.now - quitting, .milliseconds(500), "quit waited for a server that does not answer")
    }

    /// Postfix's smtpd dies while the message streams in: the message was not taken, try again.
    func testConnectionDroppedMidData_isTemporary() async throws {
        let postfix = try Postfix(messageSizeLimit: 200 << 20)
        let submission = try Submission(postfix)
        let path = submission.directory + "/large.eml"
        let line = String(repeating: "x", count: 78) + "\n"
        var text = "From: alice@example.test\nTo: bob@example.test\nSubject: cut\n\n"
        text += String(repeating: line, count: (1 << 20) / line.utf8.count)
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: nil))
        let file = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        for _ in 0..<60 { file.write(Data(text.utf8)) }
        try file.close()
        let connection = try await submission.connect()
        let envelope = self.envelope
        let sending = Task { try await connection.send(envelope, messageFile: path) }
        // Postfix writes the incoming message to its queue as it reads it: once a megabyte of the
        // 60 is there, the transfer is under way.
        let incoming = postfix.directory + "/queue/incoming"
        let deadline = Date().addingTimeInterval(30)
        var seen = false
        while !seen, Date() < deadline {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: incoming)) ?? [] {
                let size = (try? FileManager.default.attributesOfItem(atPath: incoming + "/" + name)[.size] as? Int) ?? 0
                if size > 1 << 20 { seen = true }
            }
            if !seen { usleep(2_000) }
        }
        XCTAssertTrue(seen, "the message never reached Postfix's queue")
        let smtpd = postfix.smtpdProcesses
        XCTAssertFalse(smtpd.isEmpty)
        for pid in smtpd { kill(pid, SIGKILL) }
        let error = await expectError { _ = try await sending.value }
        XCTAssertEqual(error?.kind, .connectionClosed, error?.description ?? "")
        XCTAssertEqual(error?.isTemporary, true)
        // Later calls say the same: the connection is gone.
        let again = await expectError { _ = try await connection.send(self.envelope, messageFile: path) }
        XCTAssertEqual(again?.kind, .connectionClosed)
        await connection.quit()
        usleep(500_000)
        XCTAssertEqual(postfix.dovecot.waitForMessages(user: "bob", count: 1, seconds: 0.5), 0, "a cut message is not delivered")
    }

    /// A server that offers AUTH but no STARTTLS: the client stops before its credentials or
    /// any mail would travel in the clear.
    func testServerWithoutSTARTTLS_isRefused_beforeAnythingIsSentInTheClear() async throws {
        let postfix = try Postfix()
        let error = await expectError {
            _ = try await SMTPConnection.connect(
                to: SMTPServer(host: "localhost", port: postfix.cleartextPort, security: .starttls, caFile: postfix.caFile, timeout: .seconds(10)),
                login: Submission.alice, group: MultiThreadedEventLoopGroup.singleton, logger: Submission.logger)
        }
        XCTAssertEqual(error?.kind, .tlsUnavailable)
        XCTAssertEqual(error?.isTemporary, false)
        XCTAssertTrue(error?.description.contains("does not offer STARTTLS") ?? false, error?.description ?? "")
        XCTAssertTrue(postfix.waitForLog("disconnect from localhost[127.0.0.1] ehlo=1 commands=1"), postfix.log)
        XCTAssertFalse(postfix.log.contains("auth="), postfix.log)
    }

    func testUntrustedCertificate_isATLSError() async throws {
        let postfix = try Postfix()
        let submission = try Submission(postfix)
        for security in SMTPServer.Security.allCases {
            // Dovecot's certificate is for localhost too, but it is not the one Postfix shows.
            let error = await expectError {
                _ = try await SMTPConnection.connect(
                    to: submission.server(security, caFile: postfix.dovecot.caFile), login: Submission.alice,
                    group: MultiThreadedEventLoopGroup.singleton, logger: Submission.logger)
            }
            XCTAssertEqual(error?.kind, .tlsFailed, "\(security): \(error?.description ?? "")")
            XCTAssertEqual(error?.isTemporary, false)
            XCTAssertTrue(error?.description.contains("its certificate is not signed by a trusted CA") ?? false, error?.description ?? "")
        }
        XCTAssertFalse(postfix.log.contains("sasl_username"), "no credentials over an unverified connection")
    }
}
