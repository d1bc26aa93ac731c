#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Maildir
@testable import Outbox
import SyncIPC
import SyncProtocol
import TestSupport
import XCTest

/// The built syncd-sendmail, as mutt, git send-email and cron run it.
final class SendmailTests: XCTestCase {
    private var directory: TemporaryDirectory!
    private var binary: String!
    private var configPath: String { directory.path + "/syncd.toml" }
    private var maildir: String { directory.path + "/Mail" }
    /// Nobody listens here: the "syncd is not running" case.
    private var deadSocket: String { directory.path + "/none.sock" }

    override func setUpWithError() throws {
        directory = try TemporaryDirectory()
        binary = try builtProduct("syncd-sendmail")
        try Self.config(maildir: maildir).write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    override func tearDown() {
        directory = nil
    }

    /// An imap store that sends, whose servers do not exist: a run fails to connect, which is all
    /// a test of the request needs.
    static func config(maildir: String, name: String = "mail", user: String = "alice@example.test", extra: String = "") -> String {
        """
        [store.\(name)]
        provider = "imap"
        host = "127.0.0.1"
        port = \(freeLoopbackPort())
        security = "none"
        user = "\(user)"
        password = { file = "/dev/null" }
        maildir = "\(maildir)"
        run_at_startup = false

        [store.\(name).smtp]
        host = "127.0.0.1"
        port = \(freeLoopbackPort())

        """ + extra
    }

    private func sendmail(_ arguments: [String], input: String, socket: String? = nil) throws -> (status: Int32, stderr: String, maxRSSKiB: Int) {
        let file = directory.path + "/input-\(UInt32.random(in: 0...UInt32.max))"
        try input.write(toFile: file, atomically: false, encoding: .utf8)
        return try runSendmail(binary, ["--config", configPath, "--socket", socket ?? deadSocket] + arguments, input: file)
    }

    private var outbox: Outbox {
        get throws {
            try Outbox(tree: MaildirTree(root: maildir, layout: .maildirPlusPlus), folder: FolderName(["Outbox"]), failedFolder: FolderName(["Failed"]))
        }
    }

    private func queued() throws -> [String] {
        let new = try outbox.path + "/new"
        return try FileManager.default.contentsOfDirectory(atPath: new).sorted().map {
            try String(contentsOfFile: new + "/" + $0, encoding: .utf8)
        }
    }

    func testDashT_queuesTheMessageAsItIs_andTheEnvelopeComesFromItsHeader() throws {
        let message = sampleMessage(1) + "Cc: not a header: in the body\n"
        let result = try sendmail(["-t"], input: message)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("syncd is not running"), result.stderr)
        XCTAssertTrue(result.stderr.contains("goes at syncd's next run of 'mail'"), result.stderr)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        XCTAssertEqual(try queued(), [message])
        let taken = try XCTUnwrap(try outbox.take().messages.first)
        XCTAssertEqual(taken.envelope, Envelope(from: "alice@example.test", recipients: ["bob@example.test", "carol@example.test"]))
        XCTAssertFalse(try String(contentsOfFile: taken.path, encoding: .utf8).contains("carol"), "no Bcc on the wire")
    }

    func testRecipientsAsArguments_writeTheEnvelope_andOnlyThoseGetIt() throws {
        let result = try sendmail(["-oi", "--", "dave@example.test", "Erin <erin@example.test>"], input: sampleMessage(1))
        XCTAssertEqual(result.status, 0, result.stderr)
        let file = try XCTUnwrap(try queued().first)
        XCTAssertTrue(file.hasPrefix("X-Syncd-Envelope-From: <alice@example.test>\nX-Syncd-Envelope-To: dave@example.test, erin@example.test\nFrom: Alice"), file)
        let taken = try XCTUnwrap(try outbox.take().messages.first)
        XCTAssertEqual(taken.envelope, Envelope(from: "alice@example.test", recipients: ["dave@example.test", "erin@example.test"]))
        XCTAssertFalse(try String(contentsOfFile: taken.path, encoding: .utf8).contains("X-Syncd"), "envelope fields never go out")
    }

    func testDashF_setsTheSender_withTAddsTheHeaderRecipients_andFSuppliesAMissingFrom() throws {
        var result = try sendmail(["-fbounce@example.test", "-t", "frank@example.test"], input: sampleMessage(1))
        XCTAssertEqual(result.status, 0, result.stderr)
        var taken = try XCTUnwrap(try outbox.take().messages.first)
        XCTAssertEqual(taken.envelope, Envelope(from: "bounce@example.test", recipients: ["frank@example.test", "bob@example.test", "carol@example.test"]))
        try outbox.sent(taken, fileInto: nil)

        result = try sendmail(["-f", "alice@example.test", "-F", "Alice Liddell", "bob@example.test"], input: "Subject: no From\n\nhi\n")
        XCTAssertEqual(result.status, 0, result.stderr)
        taken = try XCTUnwrap(try outbox.take().messages.first)
        let text = try String(contentsOfFile: taken.path, encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("From: Alice Liddell <alice@example.test>\nSubject: no From\n"), text)
    }

    func testALineOfOnlyADot_endsTheMessage_unlessDashI() throws {
        let message = "From: alice@example.test\r\nTo: bob@example.test\r\n\r\nfirst\r\n..\r\n.\r\nafter the dot\r\n"
        var result = try sendmail(["-t"], input: message)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(try queued(), ["From: alice@example.test\nTo: bob@example.test\n\nfirst\n..\n"], "CRLF becomes LF; the dot ends it")
        try outbox.sent(try XCTUnwrap(try outbox.take().messages.first), fileInto: nil)

        result = try sendmail(["-t", "-i"], input: message)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(try queued(), ["From: alice@example.test\nTo: bob@example.test\n\nfirst\n..\n.\nafter the dot\n"])
        try outbox.sent(try XCTUnwrap(try outbox.take().messages.first), fileInto: nil)

        result = try sendmail(["-t"], input: "From: alice@example.test\nTo: bob@example.test\n\nno newline at the end\n.")
        XCTAssertEqual(try queued(), ["From: alice@example.test\nTo: bob@example.test\n\nno newline at the end\n"])
    }

    func testA30MBMessage_isStreamed_andArrivesWhole() throws {
        let small = try sendmail(["-t"], input: sampleMessage(0))
        XCTAssertEqual(small.status, 0, small.stderr)
        try outbox.sent(try XCTUnwrap(try outbox.take().messages.first), fileInto: nil)

        var body = ""
        body.reserveCapacity(31 << 20)
        var line = 0
        while body.utf8.count < 30 << 20 {
            body += "line \(line) of a large attachment, base64-like: QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\n"
            line += 1
        }
        let message = sampleMessage(1, body: body)
        let large = try sendmail(["-t"], input: message)
        XCTAssertEqual(large.status, 0, large.stderr)
        let stored = try XCTUnwrap(try queued().first)
        XCTAssertEqual(stored.utf8.count, message.utf8.count)
        XCTAssertTrue(stored == message, "the 30 MB message arrives byte for byte")
        // Streamed: the peak RSS grows by far less than the message (30 MB) over a tiny one's.
        print("syncd-sendmail peak RSS: \(small.maxRSSKiB) KiB for a small message, \(large.maxRSSKiB) KiB for 30 MB")
        XCTAssertLessThan(large.maxRSSKiB - small.maxRSSKiB, 8 << 10, "peak RSS \(small.maxRSSKiB) KiB → \(large.maxRSSKiB) KiB")
    }

    func testUsageErrors_exit64_andACannotCreate_exits73() throws {
        XCTAssertEqual(try sendmail([], input: sampleMessage(1)).status, 64, "no recipients and no -t")
        XCTAssertEqual(try sendmail(["-t"], input: "Subject: to nobody\n\nx\n").status, 64, "-t and no recipient in the header")
        XCTAssertEqual(try sendmail(["-x", "bob@example.test"], input: sampleMessage(1)).status, 64)
        let unknown = try sendmail(["--store", "other", "-t"], input: sampleMessage(1))
        XCTAssertEqual(unknown.status, 64)
        XCTAssertTrue(unknown.stderr.contains("no store named 'other'"), unknown.stderr)
        XCTAssertEqual(try queued(), [], "nothing queued by a refused call")

        try Self.config(maildir: "/proc/no-such-dir/Mail").write(toFile: configPath, atomically: true, encoding: .utf8)
        let cannot = try sendmail(["-t"], input: sampleMessage(1))
        XCTAssertEqual(cannot.status, 73, cannot.stderr)
        XCTAssertTrue(cannot.stderr.contains("cannot queue the message"), cannot.stderr)
    }

    func testSeveralStores_theSendersStoreIsChosen_elseItSaysToPickOne() throws {
        let other = directory.path + "/Other"
        try (Self.config(maildir: maildir) + Self.config(maildir: other, name: "work", user: "bob@work.test"))
            .write(toFile: configPath, atomically: true, encoding: .utf8)
        XCTAssertEqual(try sendmail(["-f", "bob@work.test", "alice@example.test"], input: "Subject: x\n\nx\n").status, 0)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: other + "/.Outbox/new").count, 1)
        let none = try sendmail(["-t"], input: "From: someone@else.test\nTo: bob@example.test\n\nx\n")
        XCTAssertEqual(none.status, 64)
        XCTAssertTrue(none.stderr.contains("pick one with --store NAME"), none.stderr)
        XCTAssertEqual(try sendmail(["--store", "mail", "-t"], input: "From: someone@else.test\nTo: bob@example.test\n\nx\n").status, 0)
        XCTAssertEqual(try queued().count, 1)
    }

    func testWithSyncdRunning_itAsksForAnOutgoingMailRunOnDemand() async throws {
        let daemon = try DaemonProcess(config: Self.config(maildir: maildir))
        try await daemon.start()
        defer { daemon.signal(SIGKILL) }
        let client = try await daemon.client()
        let (_, updates) = try await client.subscribe()
        let result = try sendmail(["-t"], input: sampleMessage(1), socket: daemon.socket)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stderr, "", "a running syncd took the request")
        let seen = try await events(from: updates) { $0.isRunStarted }
        guard case .runStarted(let flags, let trigger)? = seen.last?.kind else { return XCTFail("no RunStarted: \(seen)") }
        XCTAssertTrue(flags.contains(.outgoingMail), "\(flags)")
        XCTAssertTrue(flags.contains(.onDemand), "\(flags)")
        XCTAssertEqual(trigger, .onDemand)
        XCTAssertEqual(seen.last?.store, "mail")
        XCTAssertEqual(try queued().count, 1, "queued before syncd was asked")
        await client.close()
    }
}
