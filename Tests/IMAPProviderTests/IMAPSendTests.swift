#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MailServers
import Maildir
import Outbox
import SyncIPC
import SyncProtocol
import TestSupport
import XCTest

/// Send against a real Postfix (submission with STARTTLS and SASL through Dovecot's auth, delivery
/// over LMTP into Dovecot, tests/postfix/postfix.sh) and the built syncd and syncd-sendmail: what
/// a recipient reads, the Sent copy on the server, and the outbox through refusals, greylisting,
/// an MTA that is down, and kill -9.
final class IMAPSendTests: XCTestCase {
    /// Postfix, its Dovecot (alice is the store's account, bob a recipient) and a daemon with one
    /// imap store `mail` on alice whose smtp table logs in to Postfix as alice.
    private final class Mail {
        let postfix: Postfix
        let daemon: DaemonProcess
        var dovecot: Dovecot { postfix.dovecot }
        var outbox: String { daemon.directory + "/mail/.Outbox" }

        init(_ extra: String = "", smtpPort: Int? = nil) throws {
            postfix = try Postfix()
            daemon = try DaemonProcess(config: "")
            try writeConfig(extra, smtpPort: smtpPort ?? postfix.submissionPort)
        }

        func writeConfig(_ extra: String, smtpPort: Int) throws {
            try daemon.writeIMAPStore(dovecot, """
                timeout = "5s"
                push = []
                \(extra)

                [store.mail.smtp]
                host = "127.0.0.1"
                port = \(smtpPort)
                ca_file = "\(postfix.caFile)"
                timeout = "5s"
                """)
        }

        /// The raw messages in one of `user`'s server folders.
        func messages(_ user: String, folder: String = "INBOX") -> [String] {
            let root = dovecot.directory + "/mail/" + user + (folder == "INBOX" ? "" : "/." + folder)
            return ["new", "cur"].flatMap { sub -> [String] in
                let directory = root + "/" + sub
                return ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).compactMap {
                    try? String(contentsOfFile: directory + "/" + $0, encoding: .utf8)
                }
            }
        }

        /// The file names in a server folder's directories, for a failure's message.
        func listing(_ user: String, folder: String) -> String {
            let root = dovecot.directory + "/mail/" + user + "/." + folder
            return "server \(folder): " + ["new", "cur", "tmp"].map { "\($0)/ \((try? FileManager.default.contentsOfDirectory(atPath: root + "/" + $0)) ?? [])" }.joined(separator: ", ")
        }

        func localListing(_ folder: String) -> String {
            let root = daemon.directory + "/mail/." + folder
            return ["new", "cur", "tmp"].map { "\($0)/ \((try? FileManager.default.contentsOfDirectory(atPath: root + "/" + $0)) ?? [])" }.joined(separator: ", ")
        }

        /// Runs the built syncd-sendmail on the daemon's config and socket, `message` on stdin.
        func sendmail(_ arguments: [String], message: String) throws -> (status: Int32, stdout: String) {
            let file = daemon.directory + "/message-\(UInt32.random(in: 0...UInt32.max)).eml"
            try message.write(toFile: file, atomically: true, encoding: .utf8)
            let argv = [try builtProduct("syncd-sendmail"), "--config", daemon.configPath, "--socket", daemon.socket] + arguments
            return runTool("/bin/sh", ["-c", "exec \"$@\" < \"$0\"", file] + argv, mergeStandardError: true)
        }

        /// Messages waiting in the outbox (queued, or being sent).
        var waiting: Int {
            ["new", "cur", "sending"].reduce(0) { count, sub in
                count + ((try? FileManager.default.contentsOfDirectory(atPath: outbox + "/" + sub)) ?? []).filter { !$0.hasSuffix(".envelope") }.count
            }
        }
    }

    /// No Maildir watch: syncd-sendmail's request is the only thing that starts a run, so a test
    /// can tell the runs apart (the watch would start one of its own for each message).
    private static let oneRunPerHandOver = "push_local = false"

    private static func message(to: String, subject: String, headers: String = "", body: String = "Hello.\n") -> String {
        "From: Alice <alice@example.test>\nTo: \(to)\n\(headers)Subject: \(subject)\nDate: Wed, 02 Dec 2026 10:00:00 +0000\n\n\(body)"
    }

    /// `syncctl sync mail --wait` on the daemon; its exit status and output.
    private func sync(_ mail: Mail) throws -> (status: Int32, stdout: String) {
        runTool(try builtProduct("syncctl"), ["sync", "mail", "--wait", "--socket", mail.daemon.socket], mergeStandardError: true)
    }

    func testSendmail_reachesEveryRecipient_withoutBcc_andTheSentCopyIsOnTheServerOnce() async throws {
        let mail = try Mail(Self.oneRunPerHandOver)
        try await mail.daemon.start()
        let client = try await mail.daemon.client()
        let (_, updates) = try await client.subscribe()
        _ = try await events(from: updates, timeout: .seconds(30)) { $0.isDone }

        let body = "Line one.\n.\n..a line that starts with a dot\nGrüße, ünïcödé body.\n"
        let text = Self.message(to: "Bob <bob@example.test>", subject: "quarterly report", headers: "Bcc: alice@example.test\n", body: body)
        let (status, output) = try mail.sendmail(["-t", "-oi"], message: text)
        XCTAssertEqual(status, 0, output)
        let seen = try await events(from: updates, timeout: .seconds(30)) { $0.isDone }
        XCTAssertEqual(seen.last?.doneResult, .ok, "\(seen.map(\.kind))")
        XCTAssertTrue(seen.contains { if case .runStarted(let flags, .onDemand) = $0.kind { flags.contains(.outgoingMail) } else { false } })
        XCTAssertTrue(seen.contains { if case .progress(let step?, _, _) = $0.kind { step == "sending 1/1: quarterly report" } else { false } },
                      "\(seen.map(\.kind))")
        // The count sent is the sending phase's last step: "sent 1 message", 1/1.
        XCTAssertTrue(seen.contains { if case .progress(let step?, 1, 1) = $0.kind { step == "sent 1 message" } else { false } },
                      "\(seen.map(\.kind))")

        // Bob reads it, body byte for byte, no Bcc; alice (the Bcc) got it too.
        XCTAssertTrue(mail.postfix.waitForLog("status=sent"), mail.postfix.log)
        try await waitUntil("bob has it") { mail.messages("bob").count == 1 }
        let received = try XCTUnwrap(mail.messages("bob").first).replacingOccurrences(of: "\r\n", with: "\n")
        XCTAssertTrue(received.hasSuffix("\n\n" + body), received)
        XCTAssertFalse(received.lowercased().contains("bcc:"), received)
        XCTAssertTrue(received.contains("Message-ID: <"), "syncd added a Message-ID")
        try await waitUntil("alice has the Bcc copy") { mail.messages("alice").count == 1 }

        // The Sent copy: here, and on the server once, with no Bcc either. (Read again for a moment
        // in case a listed file is renamed before it is read.)
        try? await waitUntil("the Sent copy is on the server", timeout: .seconds(2)) { mail.messages("alice", folder: "Sent").count == 1 }
        let sent = mail.messages("alice", folder: "Sent")
        XCTAssertEqual(sent.count, 1, "the run uploaded the Sent copy; \(mail.listing("alice", folder: "Sent")); here: \(mail.localListing("Sent")); events \(seen.map(\.kind)); syncd said:\n\(mail.daemon.stderr)")
        XCTAssertFalse(try XCTUnwrap(sent.first).lowercased().contains("bcc:"))
        XCTAssertEqual(mail.waiting, 0)
        // The next run downloads nothing back, and sends nothing again.
        let again = try sync(mail)
        XCTAssertEqual(again.status, 0, again.stdout)
        XCTAssertEqual(mail.messages("alice", folder: "Sent").count, 1)
        XCTAssertEqual(try MailboxContents(maildirPlusPlus: mail.daemon.directory + "/mail").folders["Sent"]?.count, 1)
        XCTAssertEqual(mail.messages("bob").count, 1)
        await client.close()
    }

    func testGreylisted_staysQueued_theRunIsBusy_andTheRetrySendsIt() async throws {
        let mail = try Mail(Self.oneRunPerHandOver)
        try await mail.daemon.start()
        let client = try await mail.daemon.client()
        let (_, updates) = try await client.subscribe()
        _ = try await events(from: updates, timeout: .seconds(30)) { $0.isDone }

        XCTAssertEqual(try mail.sendmail(["-t"], message: Self.message(to: "greybob@example.test", subject: "greylisted")).status, 0)
        let first = try await events(from: updates, timeout: .seconds(30)) { $0.isDone }
        XCTAssertEqual(first.last?.doneResult, .busy)
        XCTAssertTrue(first.contains { if case .error(.warning, let text) = $0.kind { text.contains("451 4.7.1") } else { false } },
                      "\(first.map(\.kind))")
        XCTAssertEqual(mail.waiting, 1)
        let status = runTool(try builtProduct("syncctl"), ["status", "--socket", mail.daemon.socket]).stdout
        XCTAssertTrue(status.contains("mail: outbox: 1 waiting"), status)

        let retry = try sync(mail)
        XCTAssertEqual(retry.status, 0, retry.stdout)
        XCTAssertEqual(mail.waiting, 0)
        try await waitUntil("bob has it") { mail.messages("bob").count == 1 }
        await client.close()
    }

    func testRefused_messageGoesToFailed_withTheServersReply_andPartlyRefused_goesToTheOthers() async throws {
        let mail = try Mail(Self.oneRunPerHandOver)
        try await mail.daemon.start()
        let client = try await mail.daemon.client()
        let (_, updates) = try await client.subscribe()
        _ = try await events(from: updates, timeout: .seconds(30)) { $0.isDone }

        XCTAssertEqual(try mail.sendmail(["-t"], message: Self.message(to: "nobody@example.test", subject: "to nobody")).status, 0)
        let refused = try await events(from: updates, timeout: .seconds(30)) { $0.isDone }
        XCTAssertTrue(refused.contains { if case .error(.failed, let text) = $0.kind { text.contains("\"to nobody\"") && text.contains("550") } else { false } },
                      "\(refused.map(\.kind))")
        let failedDirectory = mail.daemon.directory + "/mail/.Failed/cur"
        let failed = try FileManager.default.contentsOfDirectory(atPath: failedDirectory)
        XCTAssertEqual(failed.count, 1)
        let kept = try String(contentsOfFile: failedDirectory + "/" + failed[0], encoding: .utf8)
        XCTAssertTrue(kept.contains("X-Syncd-Send-Error: 550 5.1.1"), kept)
        XCTAssertEqual(mail.waiting, 0)

        XCTAssertEqual(try mail.sendmail(["-t"], message: Self.message(to: "bob@example.test, nobody@example.test", subject: "to both")).status, 0)
        // The watch on the outbox may start a run of its own: the one that sent it says so.
        _ = try await events(from: updates, timeout: .seconds(30)) { event in
            if case .error(.failed, let text) = event.kind { return text.contains("\"to both\": nobody@example.test refused") }
            return false
        }
        try await waitUntil("bob has it") { mail.messages("bob").count == 1 }
        XCTAssertEqual(mail.waiting, 0)
        try await waitUntil("the Sent copy is on the server") { mail.messages("alice", folder: "Sent").count == 1 }
        try await Task.sleep(for: .milliseconds(500))
        XCTAssertEqual(mail.messages("alice", folder: "Sent").count, 1, "only the message that went out is in Sent")
        await client.close()
    }

    func testMTADown_sendmailQueues_theRunFails_andOnceItIsUpTheMessageGoes() async throws {
        let closed = freeLoopbackPort()
        let mail = try Mail(smtpPort: closed)
        try await mail.daemon.start()
        let client = try await mail.daemon.client()
        let (_, updates) = try await client.subscribe()
        _ = try await events(from: updates, timeout: .seconds(30)) { $0.isDone }

        let (status, output) = try mail.sendmail(["bob@example.test"], message: Self.message(to: "Bob <bob@example.test>", subject: "offline"))
        XCTAssertEqual(status, 0, output)
        let down = try await events(from: updates, timeout: .seconds(30)) { $0.isDone }
        XCTAssertEqual(down.last?.doneResult, .network, "\(down.map(\.kind))")
        XCTAssertEqual(mail.waiting, 1)

        try mail.writeConfig("", smtpPort: mail.postfix.submissionPort)
        mail.daemon.signal(SIGHUP)
        try await Task.sleep(for: .milliseconds(500))
        let up = try sync(mail)
        XCTAssertEqual(up.status, 0, up.stdout)
        try await waitUntil("bob has it") { mail.messages("bob").count == 1 }
        XCTAssertEqual(mail.waiting, 0)
        await client.close()
    }

    func testAMessageSavedIntoTheOutbox_isSentWithinSeconds() async throws {
        let mail = try Mail()
        try await mail.daemon.start()
        let client = try await mail.daemon.client()
        let (_, updates) = try await client.subscribe()
        _ = try await events(from: updates, timeout: .seconds(30)) { $0.isDone }
        try await Task.sleep(for: .milliseconds(500))  // past the start-up run's own writes

        // As a mail client saves a draft into a folder: tmp/, then a rename into cur/.
        let name = "\(Int(Date().timeIntervalSince1970)).client.test:2,S"
        try Self.message(to: "bob@example.test", subject: "saved").write(toFile: mail.outbox + "/tmp/" + name, atomically: false, encoding: .utf8)
        let saved = ContinuousClock.now
        XCTAssertEqual(rename(mail.outbox + "/tmp/" + name, mail.outbox + "/cur/" + name), 0)
        let seen = try await events(from: updates, timeout: .seconds(10)) { $0.isDone }
        XCTAssertTrue(seen.contains { if case .runStarted(_, .push) = $0.kind { true } else { false } }, "\(seen.map(\.kind))")
        try await waitUntil("bob has it") { mail.messages("bob").count == 1 }
        XCTAssertLessThan(ContinuousClock.now - saved, .seconds(5))
        await client.close()
    }

    func testTwoHundredMessages_goThroughOneConnection() async throws {
        let mail = try Mail()
        try await mail.daemon.start()
        let client = try await mail.daemon.client()
        let (_, updates) = try await client.subscribe()
        _ = try await events(from: updates, timeout: .seconds(30)) { $0.isDone }
        mail.daemon.signal(SIGSTOP)  // so that the outbox watch sees all 200 at once when it goes on
        for i in 0..<200 {
            let name = "\(i).batch.test:2,S"
            try Self.message(to: "bob@example.test", subject: "batch \(i)", body: String(repeating: "line \(i)\n", count: i * 10 + 1))
                .write(toFile: mail.outbox + "/tmp/" + name, atomically: false, encoding: .utf8)
            rename(mail.outbox + "/tmp/" + name, mail.outbox + "/cur/" + name)
        }
        mail.daemon.signal(SIGCONT)
        let result = try sync(mail)
        XCTAssertEqual(result.status, 0, result.stdout)
        try await waitUntil("bob has all 200", timeout: .seconds(60)) { mail.messages("bob").count == 200 }
        XCTAssertEqual(mail.waiting, 0)
        XCTAssertEqual(mail.messages("alice", folder: "Sent").count, 200)
        let connections = mail.postfix.log.components(separatedBy: ": connect from ").count - 1
        XCTAssertLessThanOrEqual(connections, 2, "one connection per run (a push run may have started one too)")
        await client.close()
    }

    /// The one window the README names: syncd killed after the data went out and before the
    /// server's answer was recorded. Postfix delivers a message whose client went away while it
    /// was deciding (as RFC 1047 describes), so the rerun's copy is a second one, and says so.
    func testKill9WhileTheServerHoldsItsAnswerToTheData_isTheDuplicateWindow_andTheRerunSaysSo() async throws {
        let mail = try Mail()
        try await mail.daemon.start()
        let client = try await mail.daemon.client()
        let (_, updates) = try await client.subscribe()
        _ = try await events(from: updates, timeout: .seconds(30)) { $0.isDone }
        // slowbob@: Postfix holds its answer to the data for 3 s (its end-of-data policy).
        XCTAssertEqual(try mail.sendmail(["-t"], message: Self.message(to: "slowbob@example.test", subject: "slow")).status, 0)
        try await waitUntil("the data is in") { FileManager.default.fileExists(atPath: mail.postfix.directory + "/grey/holding") }
        mail.daemon.signal(SIGKILL)
        _ = try await mail.daemon.waitForExit()
        await client.close()
        try await waitUntil("Postfix delivered it all the same", timeout: .seconds(10)) { mail.messages("bob").count == 1 }
        XCTAssertEqual(mail.waiting, 1, "syncd never recorded the 250")

        // The start-up run sends it again, with a warning (in the journal, as every Error is).
        try await mail.daemon.start()
        try await waitUntil("the rerun sent it again", timeout: .seconds(20)) { mail.messages("bob").count == 2 }
        XCTAssertEqual(mail.waiting, 0)
        let warning = mail.daemon.stderr.split(separator: "\n").first { $0.contains("warning") && $0.contains("\"slow\" was being sent") }
        XCTAssertTrue(warning?.contains("its recipients get it twice") ?? false, mail.daemon.stderr)
    }

    func testKill9AtRandomMomentsOfTwentySends_noMessageIsLost_andTheDuplicatesAreCounted() async throws {
        let mail = try Mail()
        try await mail.daemon.start()
        let client = try await mail.daemon.client()
        let (_, updates) = try await client.subscribe()
        _ = try await events(from: updates, timeout: .seconds(30)) { $0.isDone }  // it made the outbox
        await client.close()
        for i in 0..<20 {
            let name = "\(i).crash.test:2,S"
            try Self.message(to: "bob@example.test", subject: "crash \(i)", headers: "Message-ID: <crash-\(i)@example.test>\n",
                             body: String(repeating: "0123456789abcdef\n", count: 20_000))
                .write(toFile: mail.outbox + "/tmp/" + name, atomically: false, encoding: .utf8)
            rename(mail.outbox + "/tmp/" + name, mail.outbox + "/cur/" + name)
        }
        var kills = 0
        while mail.waiting > 0, kills < 8 {
            _ = runTool(try builtProduct("syncctl"), ["sync", "mail", "--socket", mail.daemon.socket])
            try await Task.sleep(for: .milliseconds(Int.random(in: 20...250)))
            mail.daemon.signal(SIGKILL)
            _ = try await mail.daemon.waitForExit()
            kills += 1
            try await mail.daemon.start()
        }
        let last = try sync(mail)
        XCTAssertTrue([0, 2].contains(last.status), "done, with at most warnings (messages sent again): \(last.stdout)")
        XCTAssertEqual(mail.waiting, 0)
        try await Task.sleep(for: .seconds(1))
        let ids = mail.messages("bob").compactMap { text in
            text.split(separator: "\n").first { $0.lowercased().hasPrefix("message-id:") }.map { String($0.dropFirst(11)).trimmingCharacters(in: .whitespacesAndNewlines) }
        }
        XCTAssertEqual(Set(ids), Set((0..<20).map { "<crash-\($0)@example.test>" }), "every message arrived")
        let duplicates = ids.count - Set(ids).count
        print("kill -9 at \(kills) random moments of 20 sends: \(duplicates) duplicates")
        // Each kill can leave at most one message in the window between its data and the record of
        // the server's answer; only those may arrive twice.
        XCTAssertLessThanOrEqual(duplicates, kills)
    }

    func testSendmailBurst_whileRunsGoOn_everyMessageGoesWithoutAnotherAsk() async throws {
        let mail = try Mail()
        try await mail.daemon.start()
        let client = try await mail.daemon.client()
        let (_, updates) = try await client.subscribe()
        _ = try await events(from: updates, timeout: .seconds(30)) { $0.isDone }
        for i in 0..<6 {
            let (status, output) = try mail.sendmail(["-t"], message: Self.message(to: "bob@example.test", subject: "burst \(i)"))
            XCTAssertEqual(status, 0, output)
        }
        try await waitUntil("bob has all six", timeout: .seconds(30)) { mail.messages("bob").count == 6 }
        XCTAssertEqual(mail.waiting, 0)
        await client.close()
    }

    func testSaveSentFalse_aMessageInterruptedMidSend_thatTheServerFiledInSent_isNotSentAgain() async throws {
        let mail = try Mail("save_sent = false")
        try await mail.daemon.start()
        let client = try await mail.daemon.client()
        let (_, updates) = try await client.subscribe()
        _ = try await events(from: updates, timeout: .seconds(30)) { $0.isDone }
        await client.close()
        mail.daemon.signal(SIGKILL)
        _ = try await mail.daemon.waitForExit()

        // What a crash after the server took it leaves: the message taken and its attempt begun
        // here, and (as Gmail files what it sends) a copy in the server's Sent folder.
        XCTAssertEqual(try mail.sendmail(["-t"], message: Self.message(to: "bob@example.test", subject: "filed by the server")).status, 0)
        let outbox = try Outbox(tree: MaildirTree(root: mail.daemon.directory + "/mail", layout: .maildirPlusPlus),
                                folder: try FolderName(["Outbox"]), failedFolder: try FolderName(["Failed"]))
        let message = try XCTUnwrap(try outbox.take().messages.first)
        try outbox.beginAttempt(message)
        let sent = mail.dovecot.mailbox + "/.Sent"
        for sub in ["cur", "new", "tmp"] { try FileManager.default.createDirectory(atPath: sent + "/" + sub, withIntermediateDirectories: true) }
        try "From: alice@example.test\r\nMessage-ID: \(message.messageID)\r\nSubject: filed by the server\r\n\r\nHello.\r\n"
            .write(toFile: sent + "/new/1.filed.test", atomically: true, encoding: .utf8)
        _ = runTool("/bin/chown", ["-R", "65534:65534", sent])

        try await mail.daemon.start()
        let result = try sync(mail)
        XCTAssertTrue([0, 2].contains(result.status), result.stdout)
        XCTAssertEqual(mail.waiting, 0)
        try await Task.sleep(for: .seconds(1))
        XCTAssertEqual(mail.messages("bob").count, 0, "found in Sent: not sent again")
        XCTAssertTrue(mail.daemon.stderr.contains("is on the server's Sent folder already"), mail.daemon.stderr)
    }

    func testSendOnlyStore_providerSMTP_sendsItsOutbox_andFilesSentHere() async throws {
        let postfix = try Postfix()
        let daemon = try DaemonProcess(config: "")
        try "secret".write(toFile: daemon.directory + "/password", atomically: true, encoding: .utf8)
        try daemon.writeConfig("""
            [store.out]
            provider = "smtp"
            host = "127.0.0.1"
            port = \(postfix.submissionPort)
            ca_file = "\(postfix.caFile)"
            user = "alice"
            password = { file = "\(daemon.directory)/password" }
            maildir = "\(daemon.directory)/mail"
            """)
        try await daemon.start()
        let outbox = daemon.directory + "/mail/.Outbox"
        // The start-up run makes the outbox (it may be over before a viewer could attach).
        try await waitUntil("the start-up run made the outbox") { FileManager.default.fileExists(atPath: outbox + "/tmp") }
        try Self.message(to: "bob@example.test", subject: "send-only").write(toFile: outbox + "/tmp/1.test", atomically: false, encoding: .utf8)
        XCTAssertEqual(rename(outbox + "/tmp/1.test", outbox + "/new/1.test"), 0)
        let (status, output) = runTool(try builtProduct("syncctl"), ["sync", "out", "--wait", "--socket", daemon.socket], mergeStandardError: true)
        XCTAssertEqual(status, 0, output)
        try await waitUntil("bob has it") {
            ((try? FileManager.default.contentsOfDirectory(atPath: postfix.dovecot.directory + "/mail/bob/new")) ?? []).count == 1
        }
        let filed = try FileManager.default.contentsOfDirectory(atPath: daemon.directory + "/mail/.Sent/cur")
        XCTAssertEqual(filed.count, 1, "filed into the local Sent folder")

        // syncd-sendmail picks it: the only store that sends.
        let file = daemon.directory + "/message.eml"
        try Self.message(to: "bob@example.test", subject: "through sendmail").write(toFile: file, atomically: true, encoding: .utf8)
        let queued = runTool("/bin/sh", ["-c", "exec \"$@\" < \"$0\"", file, try builtProduct("syncd-sendmail"),
                                         "--config", daemon.configPath, "--socket", daemon.socket, "-t"], mergeStandardError: true)
        XCTAssertEqual(queued.status, 0, queued.stdout)
        try await waitUntil("bob has both") {
            ((try? FileManager.default.contentsOfDirectory(atPath: postfix.dovecot.directory + "/mail/bob/new")) ?? []).count == 2
        }
    }

    private func waitUntil(_ what: String, timeout: Duration = .seconds(10), _ condition: () throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !(try condition()) {
            guard ContinuousClock.now < deadline else { throw TestError("timed out waiting until \(what)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
