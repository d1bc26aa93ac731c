#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MailServers
import SyncIPC
import SyncProtocol
import TestSupport
import XCTest

/// Push against a real Dovecot and the built syncd: IDLE, reconnects, the Maildir watch, the
/// NewMessages event and the after_sync hook.
final class IMAPPushTests: XCTestCase {
    /// A daemon with one imap store `mail` on `dovecot`, no interval (only push and the start-up
    /// run sync it), and `extra` config lines.
    private func daemon(_ dovecot: Dovecot, _ extra: String = "") throws -> DaemonProcess {
        let daemon = try DaemonProcess(config: "")
        try daemon.writeIMAPStore(dovecot, """
            timeout = "5s"
            \(extra.contains("push_notify") ? "" : "push_notify = false")
            \(extra)
            """)
        return daemon
    }

    private static func pushState(_ event: SyncEvent) -> (PushState, String?)? {
        if case .storeChanged(let info) = event.kind { return (info.push, info.pushDetail) }
        return nil
    }

    /// Starts `daemon`, subscribes to its events and waits for the end of its start-up run: the
    /// client, its events, and those up to that Done.
    private func startAndWaitForItsFirstRun(
        _ daemon: DaemonProcess, timeout: Duration = .seconds(30)
    ) async throws -> (SyncClient, AsyncThrowingStream<ViewerUpdate, Error>, [SyncEvent]) {
        try await daemon.start()
        let client = try await daemon.client()
        let (_, updates) = try await client.subscribe()
        let startup = try await events(from: updates, timeout: timeout) { $0.isDone }
        return (client, updates, startup)
    }

    /// Waits until the store's listener reports `state`, with exactly `detail` when one is given.
    private func untilPush(_ updates: AsyncThrowingStream<ViewerUpdate, Error>, _ state: PushState, _ detail: String? = nil,
                           timeout: Duration = .seconds(30)) async throws {
        _ = try await events(from: updates, timeout: timeout) { event in
            Self.pushState(event).map { $0.0 == state && (detail == nil || $0.1 == detail) } ?? false
        }
    }

    /// Waits until the store's listener says it listens on IDLE.
    private func untilListening(_ updates: AsyncThrowingStream<ViewerUpdate, Error>) async throws {
        _ = try await events(from: updates, timeout: .seconds(30)) { event in
            guard let (state, detail) = Self.pushState(event) else { return false }
            return state == .listening && (detail ?? "").contains("IDLE, 1 folder")
        }
    }

    func testIdle_newMailOnTheServer_isOnDiskWithinASecond_withNewMessages_andTheHookRuns() async throws {
        let dovecot = try Dovecot(messages: 3, folders: "INBOX")
        let daemon = try daemon(dovecot, """
            after_sync = ["/bin/sh", "-c", "echo \\"$SYNCD_TRIGGER new=$SYNCD_NEW folders=$SYNCD_NEW_FOLDERS\\" >> HOOKFILE"]
            """)
        let hookFile = daemon.directory + "/hook.log"
        try String(contentsOfFile: daemon.configPath, encoding: .utf8).replacingOccurrences(of: "HOOKFILE", with: hookFile)
            .write(toFile: daemon.configPath, atomically: true, encoding: .utf8)
        let (client, updates, startup) = try await startAndWaitForItsFirstRun(daemon)
        XCTAssertEqual(startup.last?.doneResult, .ok)
        try await untilListening(updates)

        let watch = try startSyncctl(daemon, ["watch", "--json"])
        try await Task.sleep(for: .milliseconds(300))  // attached
        let delivered = ContinuousClock.now
        try dovecot.deliver(subject: "=?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus Köln")
        let seen = try await events(from: updates, timeout: .seconds(10)) { event in
            if case .newMessages = event.kind { return true }
            return false
        }
        let latency = ContinuousClock.now - delivered
        XCTAssertLessThan(latency, .seconds(3), "IDLE → run → file on disk (NewMessages follows the Done)")
        XCTAssertTrue(seen.contains { if case .runStarted(_, .push) = $0.kind { true } else { false } }, "\(seen.map(\.kind))")
        XCTAssertEqual(seen.last(where: \.isDone)?.doneResult, .ok)
        guard case .newMessages(let news)? = seen.last?.kind else { return XCTFail("no NewMessages") }
        XCTAssertEqual(news.folder, "INBOX")
        XCTAssertEqual(news.count, 1)
        XCTAssertEqual(news.summaries.first?.subject, "Grüße aus Köln")
        XCTAssertEqual(news.summaries.first?.from, "Alice Example <alice@example.org>")
        XCTAssertEqual(news.summaries.first?.date, Timestamp(rawValue: 1_795_600_800_000_000))
        let local = try MailboxContents(maildirPlusPlus: daemon.directory + "/mail")
        XCTAssertEqual(local.count, 4)

        // A real syncctl watch --json saw it too.
        try await waitUntil("syncctl watch prints the new-messages line") { watch.output().contains("\"new-messages\"") }
        let line = try XCTUnwrap(watch.output().split(separator: "\n").first { $0.contains("\"new-messages\"") })
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        XCTAssertEqual(object["count"] as? Int, 1)
        XCTAssertEqual((object["messages"] as? [[String: Any]])?.first?["subject"] as? String, "Grüße aus Köln")

        // The hook ran after both runs that changed something, with their counts.
        try await waitUntil("the after_sync hook ran twice") {
            ((try? String(contentsOfFile: hookFile, encoding: .utf8)) ?? "").split(separator: "\n").count >= 2
        }
        let hookLines = try String(contentsOfFile: hookFile, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(hookLines, ["startup new=3 folders=INBOX", "push new=1 folders=INBOX"])

        // `status` says what the listener does.
        let (_, status) = runTool(try builtProduct("syncctl"), ["status", "--socket", daemon.socket])
        XCTAssertTrue(status.contains("mail: push: listening (IDLE, 1 folder; Maildir watched)"), status)
        await client.close()
    }

    func testNotify_oneConnectionWatchesEveryPushedFolder() async throws {
        let dovecot = try Dovecot(messages: 2, folders: "INBOX,Lists")
        let daemon = try daemon(dovecot, "push = [\"*\"]\npush_notify = true\npush_local = false")
        let (client, updates, _) = try await startAndWaitForItsFirstRun(daemon)
        try await untilPush(updates, .listening, "NOTIFY, 2 folders")
        for folder in ["Lists", "INBOX"] {
            let delivered = ContinuousClock.now
            try dovecot.append(folder: folder, subject: "in \(folder)")
            _ = try await events(from: updates, timeout: .seconds(10)) { event in
                if case .newMessages(let news) = event.kind { return news.folder == folder && news.summaries.first?.subject == "in \(folder)" }
                return false
            }
            XCTAssertLessThan(ContinuousClock.now - delivered, .seconds(3), folder)
        }
        try await Task.sleep(for: .milliseconds(300))  // the last run's connection has logged out
        XCTAssertEqual(Dovecot.signalIMAPProcesses(0).count, 1, "one connection for both folders")
        await client.close()
    }

    /// Waits for the NewMessages event of `subject` in `folder`.
    private func newMessage(_ subject: String, in folder: String, _ updates: AsyncThrowingStream<ViewerUpdate, Error>,
                            timeout: Duration = .seconds(10)) async throws {
        _ = try await events(from: updates, timeout: timeout) { event in
            if case .newMessages(let news) = event.kind { return news.folder == folder && news.summaries.first?.subject == subject }
            return false
        }
    }

    func testNotify_aFolderCreatedOnTheServer_isMadeHere_andWatchedFromThen() async throws {
        let dovecot = try Dovecot(messages: 1, folders: "INBOX")
        let daemon = try daemon(dovecot, "push = [\"*\"]\npush_notify = true\npush_local = false")
        let (client, updates, _) = try await startAndWaitForItsFirstRun(daemon)
        try await untilPush(updates, .listening, "NOTIFY, 1 folder")
        // NOTIFY's MailboxName event: the listener lists again, and a run makes the folder here.
        try dovecot.create(folder: "Projects")
        try dovecot.append(folder: "Projects", subject: "the first")
        try await newMessage("the first", in: "Projects", updates)
        try await untilPush(updates, .listening, "NOTIFY, 2 folders", timeout: .seconds(10))
        let delivered = ContinuousClock.now
        try dovecot.append(folder: "Projects", subject: "the second")
        try await newMessage("the second", in: "Projects", updates)
        XCTAssertLessThan(ContinuousClock.now - delivered, .seconds(3), "pushed, not left to the interval")
        let local = try MailboxContents(maildirPlusPlus: daemon.directory + "/mail")
        XCTAssertEqual(local.folders["Projects"]?.count, 2, local.description)
        await client.close()
    }

    func testIdle_aFolderARunFindsOnTheServer_isWatchedFromThen() async throws {
        let dovecot = try Dovecot(messages: 1, folders: "INBOX")
        let daemon = try daemon(dovecot, "push = [\"*\"]\npush_local = false")
        let (client, updates, _) = try await startAndWaitForItsFirstRun(daemon)
        try await untilListening(updates)
        // IDLE hears nothing of other folders: the next run's list tells the listener.
        try dovecot.create(folder: "Projects")
        try dovecot.append(folder: "Projects", subject: "the first")
        let (status, output) = runTool(try builtProduct("syncctl"), ["sync", "--wait", "--socket", daemon.socket, "mail"])
        XCTAssertEqual(status, 0, output)
        try await untilPush(updates, .listening, "IDLE, 2 folders", timeout: .seconds(10))
        let delivered = ContinuousClock.now
        try dovecot.append(folder: "Projects", subject: "the second")
        try await newMessage("the second", in: "Projects", updates)
        XCTAssertLessThan(ContinuousClock.now - delivered, .seconds(3), "pushed, not left to the interval")
        await client.close()
    }

    func testIdle_moreFoldersThanConnections_theRestAreLeftToTheInterval() async throws {
        let dovecot = try Dovecot(messages: 30, folders: "INBOX,Lists,Work")
        XCTAssertEqual(try MailboxContents(maildirPlusPlus: dovecot.mailbox).folders.count, 3)
        let daemon = try daemon(dovecot, "push = [\"*\"]\npush_connections = 2\npush_local = false")
        let (client, updates, _) = try await startAndWaitForItsFirstRun(daemon)
        try await untilPush(updates, .listening, "IDLE, 2 folders (1 more left to the interval)")
        try await Task.sleep(for: .milliseconds(300))  // the start-up run's connection has logged out
        XCTAssertEqual(Dovecot.signalIMAPProcesses(0).count, 2, "push_connections connections, no more")
        await client.close()
    }

    func testIdle_aServerWithoutIDLE_isNotOffered_andTheIntervalSyncs() async throws {
        let dovecot = try Dovecot(messages: 2, folders: "INBOX", capability: "IMAP4rev1 LITERAL+ UIDPLUS")
        let daemon = try daemon(dovecot, "push_local = false")
        let (client, updates, _) = try await startAndWaitForItsFirstRun(daemon)
        try await untilPush(updates, .notOffered)
        let (_, status) = runTool(try builtProduct("syncctl"), ["status", "--socket", daemon.socket])
        XCTAssertTrue(status.contains("mail: push: not offered by server"), status)
        await client.close()
    }

    func testIdle_anExpungeByAnotherClient_isDeletedHereWithinSeconds() async throws {
        let dovecot = try Dovecot(messages: 3, folders: "INBOX")
        let daemon = try daemon(dovecot, "push_local = false")
        let (client, updates, _) = try await startAndWaitForItsFirstRun(daemon)
        try await untilListening(updates)
        try await Task.sleep(for: .milliseconds(500))  // an expunge just after a run is taken for the run's own
        let expunged = ContinuousClock.now
        try await IMAPScript.run(port: dovecot.plainPort, [
            "a LOGIN alice secret", "b SELECT INBOX", "c STORE 1 +FLAGS (\\Deleted)", "d EXPUNGE", "e LOGOUT",
        ])
        let seen = try await events(from: updates, timeout: .seconds(10)) { $0.isDone }
        XCTAssertTrue(seen.contains { if case .runStarted(_, .push) = $0.kind { true } else { false } }, "\(seen.map(\.kind))")
        XCTAssertLessThan(ContinuousClock.now - expunged, .seconds(3))
        XCTAssertEqual(try MailboxContents(maildirPlusPlus: daemon.directory + "/mail").count, 2, "deleted here too")
        await client.close()
    }

    func testMaildirWatch_aMessageSavedOrDeletedLocally_isOnTheServerWithinSeconds() async throws {
        let dovecot = try Dovecot(messages: 2, folders: "INBOX")
        let daemon = try daemon(dovecot, "push = []")
        let (client, updates, _) = try await startAndWaitForItsFirstRun(daemon)
        try await untilPush(updates, .listening, "Maildir watched", timeout: .seconds(10))
        try await Task.sleep(for: .milliseconds(500))  // changes right at a run's end are taken for its own
        let mail = daemon.directory + "/mail"
        // Saved as a mail client saves: tmp/, then renamed into cur/.
        let name = "1780000000.M1P\(getpid()).client"
        try "From: Alice <alice@example.org>\nSubject: saved here\nMessage-ID: <saved-here@example.org>\n\nHello.\n"
            .write(toFile: mail + "/tmp/" + name, atomically: false, encoding: .utf8)
        let saved = ContinuousClock.now
        XCTAssertEqual(rename(mail + "/tmp/" + name, mail + "/cur/" + name + ":2,S"), 0)
        var seen = try await events(from: updates, timeout: .seconds(10)) { $0.isDone }
        XCTAssertLessThan(ContinuousClock.now - saved, .seconds(3))
        XCTAssertTrue(seen.contains { if case .runStarted(_, .push) = $0.kind { true } else { false } }, "\(seen.map(\.kind))")
        XCTAssertNotNil(try MailboxContents(maildirPlusPlus: dovecot.mailbox).folders["INBOX"]?["<saved-here@example.org>"], "on the server")

        // Deleted by the mail client: expunged on the server.
        try await Task.sleep(for: .milliseconds(500))
        let other = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: mail + "/cur").sorted().first { !$0.hasPrefix(name) })
        let deleted = ContinuousClock.now
        XCTAssertEqual(unlink(mail + "/cur/" + other), 0)
        seen = try await events(from: updates, timeout: .seconds(10)) { $0.isDone }
        XCTAssertLessThan(ContinuousClock.now - deleted, .seconds(3))
        XCTAssertEqual(seen.last?.doneResult, .ok, "\(seen.map(\.kind))")
        XCTAssertEqual(try MailboxContents(maildirPlusPlus: dovecot.mailbox).folders["INBOX"]?.count, 2, "2 + 1 saved - 1 deleted")
        await client.close()
    }

    func testIdle_afterItsConnectionIsKilled_reconnects_andCatchesUp() async throws {
        let dovecot = try Dovecot(messages: 1, folders: "INBOX")
        let daemon = try daemon(dovecot)
        let (client, updates, _) = try await startAndWaitForItsFirstRun(daemon)
        try await untilListening(updates)

        Dovecot.killIMAPProcesses()
        // Mail that comes while the listener is away arrives by the catch-up run after the reconnect.
        try dovecot.deliver(subject: "while away")
        let seen = try await events(from: updates, timeout: .seconds(20)) { event in
            if case .newMessages = event.kind { return true }
            return false
        }
        let states = seen.compactMap(Self.pushState)
        XCTAssertTrue(states.contains { $0.0 == .reconnecting && ($0.1 ?? "").hasPrefix("in ") }, "\(states)")
        XCTAssertEqual(seen.last(where: \.isDone)?.doneResult, .ok)
        try await untilListening(updates)
        try dovecot.deliver(subject: "after the reconnect")
        _ = try await events(from: updates, timeout: .seconds(10)) { event in
            if case .newMessages(let news) = event.kind { return news.summaries.first?.subject == "after the reconnect" }
            return false
        }
        await client.close()
    }

    func testIdle_aSilentServer_isNoticedByTheKeepalive_andReconnected() async throws {
        let dovecot = try Dovecot(messages: 1, folders: "INBOX")
        let daemon = try daemon(dovecot, "push_keepalive = \"1s\"")
        let (client, updates, _) = try await startAndWaitForItsFirstRun(daemon)
        try await untilListening(updates)
        // The idling connection's server process stops answering (as behind a NAT box that forgot
        // it): only the DONE round trip can tell.
        let stopped = Dovecot.signalIMAPProcesses(SIGSTOP)
        XCTAssertFalse(stopped.isEmpty)
        defer { for pid in stopped { kill(pid, SIGKILL) } }
        let started = ContinuousClock.now
        let seen = try await events(from: updates, timeout: .seconds(20)) { event in
            Self.pushState(event)?.0 == .reconnecting
        }
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(9), "keep-alive 1 s + timeout 5 s, then the backoff")
        XCTAssertTrue((Self.pushState(seen.last!)?.1 ?? "").contains("no answer from the server"), "\(seen.last!.kind)")
        try await untilListening(updates)
        await client.close()
    }

    func testMaildirWatch_aFlagSetLocally_isOnTheServerWithinASecond() async throws {
        let dovecot = try Dovecot(messages: 2, folders: "INBOX")
        let daemon = try daemon(dovecot, "push = []")
        let (client, updates, _) = try await startAndWaitForItsFirstRun(daemon)
        try await untilPush(updates, .listening, "Maildir watched", timeout: .seconds(10))
        // The mail client flags a message: a rename in cur/.
        let cur = daemon.directory + "/mail/cur"
        let file = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: cur).sorted().first)
        let flagged = file.hasSuffix(":2,") ? file + "F" : file.replacingOccurrences(of: ":2,", with: ":2,F")
        // Changes right at the end of a run are taken for the run's own (MaildirWatcher).
        try await Task.sleep(for: .milliseconds(500))
        let changed = ContinuousClock.now
        XCTAssertEqual(rename(cur + "/" + file, cur + "/" + flagged), 0)
        let seen = try await events(from: updates, timeout: .seconds(10)) { $0.isDone }
        XCTAssertLessThan(ContinuousClock.now - changed, .seconds(3))
        XCTAssertTrue(seen.contains { if case .runStarted(_, .push) = $0.kind { true } else { false } }, "\(seen.map(\.kind))")
        XCTAssertEqual(seen.last?.doneResult, .ok)
        let server = try MailboxContents(maildirPlusPlus: dovecot.mailbox)
        XCTAssertEqual(server.folders["INBOX"]?.values.filter { $0.flags.contains("F") }.count, 1, "flagged on the server")
        // The run's own writes start no run of their own.
        let quiet = try? await events(from: updates, timeout: .seconds(2)) { $0.isRunStarted }
        XCTAssertNil(quiet, "no run after the push run")
        await client.close()
    }

    private static let longRunMessages = 1500

    /// A flag the user sets while the start-up run is still downloading (ListenerHost.mayBeOwnChange
    /// holds then) is not left for the interval: it is read once the run is over.
    func testMaildirWatch_aFlagSetDuringARun_isOnTheServerWithin2sOfItsEnd() async throws {
        let dovecot = try Dovecot(messages: Self.longRunMessages, folders: "INBOX")
        let flaggedBefore = try MailboxContents(maildirPlusPlus: dovecot.mailbox).folders["INBOX"]?.values.filter { $0.flags.contains("F") }.count ?? 0
        let daemon = try daemon(dovecot, "push = []")
        try await daemon.start()
        let client = try await daemon.client()
        let (_, updates) = try await client.subscribe()
        let cur = daemon.directory + "/mail/cur"
        var file: String?
        var delivered = 0
        let deadline = ContinuousClock.now + .seconds(60)
        while file == nil, ContinuousClock.now < deadline {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: cur)) ?? []
            delivered = names.count
            if delivered >= 50 { file = names.sorted().first { !$0.hasPrefix(".") && !($0.split(separator: ":").last ?? "").contains("F") } }
            else { try await Task.sleep(for: .milliseconds(5)) }
        }
        let original = try XCTUnwrap(file, "messages arriving in \(cur)")
        let flagged = original.hasSuffix(":2,") ? original + "F" : original.replacingOccurrences(of: ":2,", with: ":2,F")
        XCTAssertEqual(rename(cur + "/" + original, cur + "/" + flagged), 0)
        XCTAssertLessThan(delivered, Self.longRunMessages, "the flag was set while the run was still downloading")
        let startup = try await events(from: updates, timeout: .seconds(120)) { $0.isDone }
        XCTAssertEqual(startup.last?.doneResult, .ok)
        let ended = ContinuousClock.now
        let push = try await events(from: updates, timeout: .seconds(10)) { $0.isDone }
        XCTAssertLessThan(ContinuousClock.now - ended, .seconds(2), "the push run's end, counted from the start-up run's")
        XCTAssertTrue(push.contains { if case .runStarted(_, .push) = $0.kind { true } else { false } }, "\(push.map(\.kind))")
        XCTAssertEqual(push.last?.doneResult, .ok)
        let server = try MailboxContents(maildirPlusPlus: dovecot.mailbox)
        XCTAssertEqual(server.folders["INBOX"]?.values.filter { $0.flags.contains("F") }.count, flaggedBefore + 1, "flagged on the server")
        await client.close()
    }

    /// A long run's own writes (1500 deliveries, each an event in cur/) make its folder a suspect,
    /// but reading it afterwards finds only what the run recorded: no run follows.
    func testMaildirWatch_aLongRunAlone_startsNoRunOfItself() async throws {
        let dovecot = try Dovecot(messages: Self.longRunMessages, folders: "INBOX")
        let daemon = try daemon(dovecot, "push = []")
        let (client, updates, startup) = try await startAndWaitForItsFirstRun(daemon, timeout: .seconds(120))
        XCTAssertEqual(startup.last?.doneResult, .ok)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: daemon.directory + "/mail/cur").count, Self.longRunMessages)
        let after = try? await events(from: updates, timeout: .seconds(3)) { $0.isRunStarted }
        XCTAssertNil(after, "no run after the start-up run: \(after?.map(\.kind) ?? [])")
        await client.close()
    }

    func testSleep_closesTheListener_andAfterResumeMailThatCameMeanwhileIsOnDiskWithin3s() async throws {
        let dovecot = try Dovecot(messages: 1, folders: "INBOX")
        let bus = try PrivateBus()
        let daemon = try daemon(dovecot, "push_local = false")
        try await daemon.start(environment: ["SYNCD_SLEEP_BUS": bus.address])
        let client = try await daemon.client()
        let (_, updates) = try await client.subscribe()
        _ = try await events(from: updates, timeout: .seconds(30)) { $0.isDone }
        try await untilListening(updates)
        try await waitUntil("syncd watches the bus") { daemon.stderr.contains("watching for sleep and resume") }

        try bus.emit(path: "/org/freedesktop/login1", signal: "org.freedesktop.login1.Manager.PrepareForSleep", ["boolean:true"])
        _ = try await events(from: updates) { Self.pushState($0)?.0 == .notConfigured }
        try dovecot.deliver(subject: "while asleep")
        try await Task.sleep(for: .seconds(1))

        let resumed = ContinuousClock.now
        let resumedAt = Timestamp.now()
        try bus.emit(path: "/org/freedesktop/login1", signal: "org.freedesktop.login1.Manager.PrepareForSleep", ["boolean:false"])
        let seen = try await events(from: updates, timeout: .seconds(10)) { event in
            if case .newMessages(let news) = event.kind { return news.summaries.first?.subject == "while asleep" }
            return false
        }
        let elapsed = ContinuousClock.now - resumed
        print(String(format: "sleep/resume: the mail that came while asleep was on disk %.2f s after resume", elapsed / .seconds(1)))
        XCTAssertLessThan(elapsed, .seconds(3), "on disk within 3 s of resume")
        XCTAssertFalse(seen.contains { $0.isRunStarted && $0.time < resumedAt }, "nothing ran while the machine slept")
        try await untilListening(updates)
        await client.close()
    }

    func testAfterSync_pastItsTimeout_itsWholeProcessGroupIsStopped() async throws {
        let dovecot = try Dovecot(messages: 1, folders: "INBOX")
        let daemon = try daemon(dovecot, """
            push = []
            push_local = false
            after_sync = ["/bin/sh", "-c", "sleep 60 & echo $! > PIDFILE.new; mv PIDFILE.new PIDFILE; echo started; wait"]
            after_sync_timeout = "1s"
            """)
        let pidFile = daemon.directory + "/hook.pid"
        try String(contentsOfFile: daemon.configPath, encoding: .utf8).replacingOccurrences(of: "PIDFILE", with: pidFile)
            .write(toFile: daemon.configPath, atomically: true, encoding: .utf8)
        try await daemon.start()
        // The hook renames the file into place, so once it exists it holds the whole pid.
        try await waitUntil("the hook started its child") { FileManager.default.fileExists(atPath: pidFile) }
        let child = try XCTUnwrap(pid_t(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        try await waitUntil("the hook's group is stopped", timeout: .seconds(10)) {
            daemon.stderr.contains("killed by signal") && Self.isGone(child)
        }
        XCTAssertTrue(daemon.stderr.contains("after_sync: started"), "its output is in the journal")
        XCTAssertTrue(daemon.stderr.contains("still runs after 1s; stopping it"), daemon.stderr)
    }

    /// Ended: no such process, or a zombie its new parent has not reaped yet.
    private static func isGone(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return true }
        return stat[stat.index(close, offsetBy: 2)] == "Z"
    }

    private func startSyncctl(_ daemon: DaemonProcess, _ arguments: [String]) throws -> RunningTool {
        let file = daemon.directory + "/syncctl-\(UInt32.random(in: 0...UInt32.max)).log"
        guard let pid = startTool(try builtProduct("syncctl"), arguments + ["--socket", daemon.socket], outputFile: file) else {
            throw TestError("cannot start syncctl")
        }
        return RunningTool(pid: pid, file: file)
    }

    private func waitUntil(_ what: String, timeout: Duration = .seconds(10), _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < deadline else { throw TestError("timed out waiting until \(what)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
