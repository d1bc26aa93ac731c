#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Maildir
@testable import Outbox
import XCTest

/// Real crashes: a child process (this test bundle again, running only ``testChildProcessEntry``)
/// works on an outbox and kills itself with SIGKILL at one ``OutboxCrashPoint``. The parent then
/// takes the outbox as the next run would and checks that every message is in exactly one place.
final class OutboxCrashTests: XCTestCase {
    private static let rootKey = "OUTBOX_TEST_CHILD_ROOT"

    // MARK: The child

    /// Does nothing in a normal test run; in a child, runs the operation its environment names.
    func testChildProcessEntry() throws {
        let environment = ProcessInfo.processInfo.environment
        guard let root = environment[Self.rootKey] else { return }
        let point = OutboxCrashPoint(rawValue: environment["OUTBOX_TEST_CHILD_CRASH_AT"]!)!
        let occurrence = Int(environment["OUTBOX_TEST_CHILD_OCCURRENCE"] ?? "1")!
        let seen = SeenCounter()
        var outbox = try OutboxFixture(root: root).outbox
        outbox.crashHook = { reached in
            guard reached == point else { return }
            if seen.increment() == occurrence { kill(getpid(), SIGKILL) }
        }
        switch environment["OUTBOX_TEST_CHILD_OPERATION"] {
        case "take":
            _ = try outbox.take()
        case "sent":
            try outbox.sent(try outbox.take().messages[0], fileInto: OutboxFixture.sent)
        case "sentPartly":
            try outbox.sent(try outbox.take().messages[0], retry: ["carol@example.test"], reason: "451", fileInto: OutboxFixture.sent)
        case "failed":
            try outbox.failed(try outbox.take().messages[0], reason: "550 5.1.1 no such user")
        default:
            break
        }
        _exit(3)  // not reached: the hook kills first
    }

    /// The child's hook is called on its one thread; the counter only needs to be Sendable.
    final class SeenCounter: @unchecked Sendable {
        // Only the child's single test thread calls increment(), never concurrently.
        private var count = 0
        func increment() -> Int {
            count += 1
            return count
        }
    }

    // MARK: The parent

    private func runChild(root: String, operation: String, point: OutboxCrashPoint, occurrence: Int = 1) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        process.arguments = ["OutboxTests.OutboxCrashTests/testChildProcessEntry"]
        var environment = ProcessInfo.processInfo.environment
        environment[Self.rootKey] = root
        environment["OUTBOX_TEST_CHILD_OPERATION"] = operation
        environment["OUTBOX_TEST_CHILD_CRASH_AT"] = point.rawValue
        environment["OUTBOX_TEST_CHILD_OCCURRENCE"] = String(occurrence)
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .uncaughtSignal, "\(operation) at \(point): the child was not killed there")
        XCTAssertEqual(process.terminationStatus, SIGKILL, "\(operation) at \(point)")
    }

    func testKilledWhilePreparing_atEachStep_theMessageIsPreparedExactlyOnce() throws {
        let points: [OutboxCrashPoint] = [.sidecarTemporaryWritten, .sidecarWritten, .copyTemporaryWritten, .copyRenamed, .originalUnlinked]
        for point in points {
            let directory = try TemporaryDirectory()
            let fixture = try OutboxFixture(root: directory.path)
            try fixture.queue(sampleMessage(1), flags: "S")
            try runChild(root: directory.path, operation: "take", point: point)
            let batch = try fixture.outbox.take()
            XCTAssertEqual(batch.messages.map(\.subject), ["message 1"], "\(point)")
            XCTAssertEqual(batch.messages.first?.envelope.recipients, ["bob@example.test", "carol@example.test"], "\(point)")
            XCTAssertEqual(fixture.files("Outbox", "cur"), [], "\(point): the original is gone")
            XCTAssertEqual(fixture.files("Outbox", "sending").count, 2, "\(point): one message and its envelope: \(fixture.outboxFiles)")
            XCTAssertEqual(try fixture.outbox.depth().count, 1, "\(point)")
            let prepared = try String(contentsOfFile: batch.messages[0].path, encoding: .utf8)
            XCTAssertFalse(prepared.contains("carol"), "\(point)")
        }
    }

    func testKilledWhileFilingSent_atEachStep_oneSentCopy_andTheOutboxEmpties() throws {
        // The first sidecar write of sent() is its commit: killed before its rename, the message
        // is still to be sent (and was never attempted: no beginAttempt here).
        let cases: [(OutboxCrashPoint, committed: Bool)] = [
            (.sidecarTemporaryWritten, false), (.sentCommitted, true), (.sentFiled, true), (.preparedRemoved, true),
        ]
        for (point, committed) in cases {
            let directory = try TemporaryDirectory()
            let fixture = try OutboxFixture(root: directory.path)
            try fixture.queue(sampleMessage(1))
            let name = try XCTUnwrap(try fixture.outbox.take().messages.first?.name)
            try runChild(root: directory.path, operation: "sent", point: point)
            let batch = try fixture.outbox.take()
            if committed {
                XCTAssertEqual(batch.messages, [], "\(point)")
                XCTAssertEqual(fixture.files("Sent", "cur"), [name + ":2,S"], "\(point)")
                XCTAssertEqual(fixture.outboxFiles, [], "\(point)")
            } else {
                XCTAssertEqual(batch.messages.map(\.name), [name], "\(point)")
                XCTAssertEqual(fixture.files("Sent", "cur"), [], "\(point)")
            }
        }
    }

    func testKilledAfterAPartialSend_theSentCopyIsFiledOnce_andTheRestWaits() throws {
        for point in [OutboxCrashPoint.sentCommitted, .sentFiled] {
            let directory = try TemporaryDirectory()
            let fixture = try OutboxFixture(root: directory.path)
            try fixture.queue(sampleMessage(1))
            let name = try XCTUnwrap(try fixture.outbox.take().messages.first?.name)
            try runChild(root: directory.path, operation: "sentPartly", point: point)
            let message = try XCTUnwrap(try fixture.outbox.take().messages.first, "\(point)")
            XCTAssertEqual(message.name, name)
            XCTAssertEqual(message.envelope.recipients, ["carol@example.test"], "\(point)")
            XCTAssertTrue(message.sentCopyFiled, "\(point)")
            XCTAssertEqual(fixture.files("Sent", "cur"), [name + ":2,S"], "\(point)")
            try fixture.outbox.sent(message, fileInto: OutboxFixture.sent)
            XCTAssertEqual(fixture.files("Sent", "cur"), [name + ":2,S"], "\(point): still one copy")
            XCTAssertEqual(fixture.outboxFiles, [], "\(point)")
        }
    }

    func testKilledWhileFilingFailed_atEachStep_oneFailedCopy_andTheOutboxEmpties() throws {
        for point in [OutboxCrashPoint.failedCommitted, .failedFiled, .preparedRemoved] {
            let directory = try TemporaryDirectory()
            let fixture = try OutboxFixture(root: directory.path)
            try fixture.queue(sampleMessage(1))
            let name = try XCTUnwrap(try fixture.outbox.take().messages.first?.name)
            try runChild(root: directory.path, operation: "failed", point: point)
            XCTAssertEqual(try fixture.outbox.take().messages, [], "\(point)")
            XCTAssertEqual(fixture.files("Failed", "cur"), [name + ":2,"], "\(point)")
            XCTAssertTrue(try fixture.read("Failed", "cur", name + ":2,").contains("X-Syncd-Send-Error: 550 5.1.1 no such user\n"), "\(point)")
            XCTAssertEqual(fixture.outboxFiles, [], "\(point)")
        }
    }

    func testAPreparedMessageWithoutItsEnvelope_goesBackToTheQueue() throws {
        let directory = try TemporaryDirectory()
        let fixture = try OutboxFixture(root: directory.path)
        try fixture.queue(sampleMessage(1))
        let message = try XCTUnwrap(try fixture.outbox.take().messages.first)
        unlink(message.path + ".envelope")
        let again = try fixture.outbox.take().messages
        XCTAssertEqual(again.count, 1)
        XCTAssertEqual(again.first?.subject, "message 1")
        XCTAssertEqual(fixture.files("Outbox", "sending").count, 2)
    }
}
