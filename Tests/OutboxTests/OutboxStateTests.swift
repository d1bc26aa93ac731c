import Foundation
import Maildir
@testable import Outbox
import XCTest

/// The outbox's states in one process: queued → sending → sent / deferred / failed.
final class OutboxStateTests: XCTestCase {
    func testTake_preparesACopyWithoutBcc_withAMessageIDAndDate_andTheBccInTheEnvelope() throws {
        let directory = try TemporaryDirectory()
        let fixture = try OutboxFixture(root: directory.path)
        try fixture.queue(sampleMessage(1))
        let batch = try fixture.outbox.take()
        XCTAssertEqual(batch.messages.count, 1)
        XCTAssertEqual(batch.rejected, [])
        let message = try XCTUnwrap(batch.messages.first)
        XCTAssertEqual(message.state, .new)
        XCTAssertEqual(message.envelope, Envelope(from: "alice@example.test", recipients: ["bob@example.test", "carol@example.test"]))
        XCTAssertEqual(message.subject, "message 1")
        let prepared = try String(contentsOfFile: message.path, encoding: .utf8)
        XCTAssertFalse(prepared.lowercased().contains("bcc"), prepared)
        XCTAssertFalse(prepared.contains("carol"), prepared)
        XCTAssertTrue(prepared.contains("\nMessage-ID: \(message.messageID)\n"), prepared)
        XCTAssertTrue(message.messageID.hasPrefix("<") && message.messageID.hasSuffix("@example.test>"), message.messageID)
        XCTAssertNotNil(prepared.range(of: #"\nDate: [A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}\n"#, options: .regularExpression), prepared)
        XCTAssertTrue(prepared.hasSuffix("\n\nBody of message 1.\n"), prepared)
        XCTAssertEqual(message.size, prepared.utf8.count)
        XCTAssertEqual(fixture.files("Outbox", "new"), [], "the original leaves the queue")
        XCTAssertEqual(fixture.files("Outbox", "sending"), [message.name, message.name + ".envelope"])
        XCTAssertEqual(try fixture.outbox.depth().count, 1)
    }

    func testTake_keepsAnExistingMessageIDAndDate_andHonoursEnvelopeFieldsAtTheTop() throws {
        let directory = try TemporaryDirectory()
        let fixture = try OutboxFixture(root: directory.path)
        let text = "X-Syncd-Envelope-From: <bounce@example.test>\nX-Syncd-Envelope-To: dave@example.test, erin@example.test\n"
            + "From: alice@example.test\nTo: bob@example.test\nMessage-ID: <kept@example.test>\nDate: Wed, 02 Dec 2026 10:00:00 +0000\n"
            + "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\n\nhello\n"
        try fixture.queue(text)
        let message = try XCTUnwrap(try fixture.outbox.take().messages.first)
        XCTAssertEqual(message.envelope, Envelope(from: "bounce@example.test", recipients: ["dave@example.test", "erin@example.test"]))
        XCTAssertEqual(message.messageID, "<kept@example.test>")
        XCTAssertEqual(message.subject, "Grüße")
        let prepared = try String(contentsOfFile: message.path, encoding: .utf8)
        XCTAssertEqual(prepared, "From: alice@example.test\nTo: bob@example.test\nMessage-ID: <kept@example.test>\nDate: Wed, 02 Dec 2026 10:00:00 +0000\n"
            + "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\n\nhello\n")
    }

    func testSent_filesTheCopyIntoSentAsSeen_andEmptiesTheOutbox() throws {
        let directory = try TemporaryDirectory()
        let fixture = try OutboxFixture(root: directory.path)
        try fixture.queue(sampleMessage(1))
        let message = try XCTUnwrap(try fixture.outbox.take().messages.first)
        let prepared = try String(contentsOfFile: message.path, encoding: .utf8)
        try fixture.outbox.beginAttempt(message)
        try fixture.outbox.sent(message, fileInto: OutboxFixture.sent)
        XCTAssertEqual(fixture.files("Sent", "cur"), [message.name + ":2,S"])
        XCTAssertEqual(try fixture.read("Sent", "cur", message.name + ":2,S"), prepared)
        XCTAssertEqual(fixture.outboxFiles, [])
        XCTAssertEqual(try fixture.outbox.depth().count, 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory.path + "/.Sent/maildirfolder"), "a Maildir++ folder, made as the store makes them")
        XCTAssertEqual(try fixture.outbox.take().messages, [])
    }

    func testSent_withoutSavingSent_leavesNoCopy() throws {
        let directory = try TemporaryDirectory()
        let fixture = try OutboxFixture(root: directory.path, layout: .nested)
        try fixture.queue(sampleMessage(1))
        let message = try XCTUnwrap(try fixture.outbox.take().messages.first)
        try fixture.outbox.sent(message, fileInto: nil)
        XCTAssertEqual(fixture.files("Sent", "cur"), [])
        XCTAssertEqual(fixture.outboxFiles, [])
        XCTAssertTrue(fixture.outbox.path.hasSuffix("/Outbox"), "nested layout: \(fixture.outbox.path)")
    }

    func testSent_withDeferredRecipients_filesSentOnce_andKeepsTheRestForRetry() throws {
        let directory = try TemporaryDirectory()
        let fixture = try OutboxFixture(root: directory.path)
        try fixture.queue(sampleMessage(1))
        let first = try XCTUnwrap(try fixture.outbox.take().messages.first)
        try fixture.outbox.beginAttempt(first)
        try fixture.outbox.sent(first, retry: ["carol@example.test"], reason: "451 4.7.1 Greylisted", fileInto: OutboxFixture.sent)
        XCTAssertEqual(fixture.files("Sent", "cur"), [first.name + ":2,S"])
        let again = try XCTUnwrap(try fixture.outbox.take().messages.first)
        XCTAssertEqual(again.name, first.name)
        XCTAssertEqual(again.state, .deferred)
        XCTAssertEqual(again.envelope.recipients, ["carol@example.test"])
        XCTAssertEqual(again.attempts, 1)
        XCTAssertEqual(again.lastError, "451 4.7.1 Greylisted")
        XCTAssertTrue(again.sentCopyFiled)
        try fixture.outbox.sent(again, fileInto: OutboxFixture.sent)
        XCTAssertEqual(fixture.files("Sent", "cur"), [first.name + ":2,S"], "the Sent copy is filed once")
        XCTAssertEqual(fixture.outboxFiles, [])
    }

    func testDeferredAndInterrupted_comeFirst_oldestFirst() throws {
        let directory = try TemporaryDirectory()
        let fixture = try OutboxFixture(root: directory.path)
        try fixture.queue(sampleMessage(1), modified: 1_000)
        try fixture.queue(sampleMessage(2), modified: 2_000)
        try fixture.queue(sampleMessage(3), modified: 3_000)
        let batch = try fixture.outbox.take().messages
        XCTAssertEqual(batch.map(\.subject), ["message 1", "message 2", "message 3"])
        try fixture.outbox.deferred(batch[1], reason: "421 4.7.0 Try again later")
        try fixture.outbox.beginAttempt(batch[2])  // and syncd stops before its outcome
        try fixture.queue(sampleMessage(4), modified: 500)
        let next = try fixture.outbox.take().messages
        XCTAssertEqual(next.map(\.subject), ["message 3", "message 2", "message 4", "message 1"])
        XCTAssertEqual(next.map(\.state), [.interrupted, .deferred, .new, .new])
        XCTAssertEqual(next[1].attempts, 1)
        XCTAssertEqual(next[1].lastError, "421 4.7.0 Try again later")
        XCTAssertNotNil(next[1].lastAttemptAt)
        let depth = try fixture.outbox.depth()
        XCTAssertEqual(depth.count, 4)
        XCTAssertEqual(depth.oldest?.timeIntervalSince1970, 500)
    }

    func testFailed_filesACopyWithTheReply_andTheMessageLeavesTheOutbox() throws {
        let directory = try TemporaryDirectory()
        let fixture = try OutboxFixture(root: directory.path)
        try fixture.queue(sampleMessage(1))
        let message = try XCTUnwrap(try fixture.outbox.take().messages.first)
        let prepared = try String(contentsOfFile: message.path, encoding: .utf8)
        let reply = "550 5.1.1 <nobody@example.test>: Recipient address rejected"
        let copy = try fixture.outbox.failed(message, reason: reply)
        XCTAssertEqual(fixture.files("Failed", "cur"), [message.name + ":2,"])
        let text = try String(contentsOfFile: copy, encoding: .utf8)
        XCTAssertEqual(text, "X-Syncd-Envelope-From: <alice@example.test>\nX-Syncd-Envelope-To: bob@example.test, carol@example.test\n"
            + "X-Syncd-Send-Error: \(reply)\n" + prepared)
        XCTAssertEqual(fixture.outboxFiles, [])
        // Moved back into the outbox, it goes to the same recipients, without the error field.
        try fixture.queue(text)
        let retried = try XCTUnwrap(try fixture.outbox.take().messages.first)
        XCTAssertEqual(retried.envelope, message.envelope)
        XCTAssertEqual(try String(contentsOfFile: retried.path, encoding: .utf8), prepared)
    }

    func testNoRecipient_orNoSender_goesToFailedAtOnce_withTheReason() throws {
        let directory = try TemporaryDirectory()
        let fixture = try OutboxFixture(root: directory.path)
        try fixture.queue("From: alice@example.test\nTo: undisclosed-recipients:;\nSubject: nobody\n\nx\n", modified: 1)
        try fixture.queue("To: bob@example.test\nSubject: anonymous\n\nx\n", modified: 2)
        let batch = try fixture.outbox.take()
        XCTAssertEqual(batch.messages, [])
        XCTAssertEqual(batch.rejected.map(\.subject), ["nobody", "anonymous"])
        XCTAssertTrue(batch.rejected[0].reason.hasPrefix("no recipient"), batch.rejected[0].reason)
        XCTAssertTrue(batch.rejected[1].reason.hasPrefix("no sender"), batch.rejected[1].reason)
        XCTAssertEqual(fixture.files("Failed", "cur").count, 2)
        let copy = try String(contentsOfFile: batch.rejected[0].failedPath, encoding: .utf8)
        XCTAssertTrue(copy.hasPrefix("X-Syncd-Send-Error: no recipient"), copy)
        XCTAssertEqual(fixture.outboxFiles, [])
    }

    func testTrashedAndHiddenFiles_stayQueuedUntouched() throws {
        let directory = try TemporaryDirectory()
        let fixture = try OutboxFixture(root: directory.path)
        try fixture.queue(sampleMessage(1), flags: "ST")
        try fixture.queue(sampleMessage(2), name: ".hidden")
        try fixture.queue(sampleMessage(3), flags: "S")
        let batch = try fixture.outbox.take()
        XCTAssertEqual(batch.messages.map(\.subject), ["message 3"])
        XCTAssertEqual(fixture.files("Outbox", "cur").count, 1)
        XCTAssertEqual(fixture.files("Outbox", "new"), [".hidden"])
    }

    func testCRLFMessage_getsCRLFFields() throws {
        let directory = try TemporaryDirectory()
        let fixture = try OutboxFixture(root: directory.path)
        try fixture.queue("From: a@example.test\r\nTo: b@example.test\r\nBcc: c@example.test,\r\n d@example.test\r\n\r\nbody\r\n")
        let message = try XCTUnwrap(try fixture.outbox.take().messages.first)
        XCTAssertEqual(message.envelope.recipients, ["b@example.test", "c@example.test", "d@example.test"])
        let prepared = try String(contentsOfFile: message.path, encoding: .utf8)
        XCTAssertTrue(prepared.hasPrefix("From: a@example.test\r\nTo: b@example.test\r\nMessage-ID: "), prepared)
        XCTAssertTrue(prepared.hasSuffix("\r\n\r\nbody\r\n"), prepared)
        XCTAssertFalse(prepared.contains("d@example.test"), "a folded Bcc goes whole")
    }
}
