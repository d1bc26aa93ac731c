#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SyncIPC
import SyncProtocol
import TestSupport
import XCTest

/// `syncctl` as a user runs it, against a real `syncd`.
final class SyncctlTests: XCTestCase {
    struct Output: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs syncctl with `SYNCD_SOCKET` pointing at `daemon`; `user` runs it as that account.
    func syncctl(_ arguments: [String], daemon: DaemonProcess, user: String? = nil) async throws -> Output {
        try await Self.syncctl(arguments, socket: daemon.socket, user: user)
    }

    static func syncctl(_ arguments: [String], socket: String, user: String? = nil) async throws -> Output {
        let process = Process()
        let binary = try builtProduct("syncctl")
        if let user {
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
            process.arguments = ["-u", user, "--", binary] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = arguments
        }
        var environment = ProcessInfo.processInfo.environment
        environment["SYNCD_SOCKET"] = socket
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes while it runs, so a chatty command cannot block on a full pipe, and on
        // threads of their own: blocking reads must not hold the concurrency pool's two threads.
        async let stdout = readToEnd(out.fileHandleForReading)
        async let stderr = readToEnd(err.fileHandleForReading)
        let (o, e) = await (stdout, stderr)
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                      stderr: String(decoding: e, as: UTF8.self))
    }

    static let stores = """
        [store.ok]
        provider = "synthetic"
        steps = 10
        rate = 100
        run_at_startup = false

        [store.warns]
        provider = "synthetic"
        steps = 10
        rate = 100
        warn_every = 5
        result = "partial"
        run_at_startup = false

        [store.fails]
        provider = "synthetic"
        steps = 5
        rate = 100
        result = "network"
        run_at_startup = false

        [store.slow]
        provider = "synthetic"
        steps = 400
        rate = 40
        step_text = "message"
        run_at_startup = false
        """

    static func readToEnd(_ handle: FileHandle) async -> Data {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: (try? handle.readToEnd()) ?? Data())
            }
        }
    }

    func testDaemonNotRunning_saysWhichSocketWasTried() async throws {
        let daemon = try DaemonProcess(config: Self.stores)
        let result = try await syncctl(["status"], daemon: daemon)
        XCTAssertEqual(result.status, 69)
        XCTAssertEqual(result.stderr, "syncctl: no socket at \(daemon.socket) (is syncd running with --socket \(daemon.socket)? Else point --socket or $SYNCD_SOCKET at the socket it listens on)\n")
    }

    func testSyncWait_exitCodeFollowsTheResult() async throws {
        let daemon = try DaemonProcess(config: Self.stores)
        try await daemon.start()
        let ok = try await syncctl(["sync", "ok", "--wait"], daemon: daemon)
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stdout.contains("ok: done in "), ok.stdout)
        let warns = try await syncctl(["sync", "warns", "--wait"], daemon: daemon)
        XCTAssertEqual(warns.status, 2)
        XCTAssertTrue(warns.stdout.contains("warns: warning: item 5: skipped (synthetic warning) [warning]"), warns.stdout)
        let fails = try await syncctl(["sync", "fails", "--wait"], daemon: daemon)
        XCTAssertEqual(fails.status, 3)
        XCTAssertTrue(fails.stdout.contains("fails: failed: network error [network]"), fails.stdout)

        let socket = daemon.socket

        async let waiting = Self.syncctl(["sync", "slow", "--wait"], socket: socket)
        try await Task.sleep(for: .milliseconds(500))
        let cancel = try await syncctl(["cancel", "slow"], daemon: daemon)
        XCTAssertEqual(cancel.status, 0, cancel.stderr)
        XCTAssertTrue(cancel.stdout.hasPrefix("cancelling run "), cancel.stdout)
        let cancelled = try await waiting
        XCTAssertEqual(cancelled.status, 4)
        XCTAssertTrue(cancelled.stdout.contains("slow: cancelled after "), cancelled.stdout)
    }

    func testStatus_beforeDuringAndAfterARun() async throws {
        let daemon = try DaemonProcess(config: Self.stores)
        try await daemon.start()
        let before = try await syncctl(["status", "slow"], daemon: daemon)
        XCTAssertEqual(before.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }, [
            ["STORE", "PROVIDER", "STATE", "PROGRESS", "LAST", "RESULT", "LAST", "SUCCESS", "NEXT", "RUN"],
            ["slow", "synthetic", "idle", "-", "never", "-"],
            ["viewers:", "0", "watching,", "0", "dropped", "as", "too", "slow", "since", "syncd", "started"],
        ])
        _ = try await syncctl(["sync", "slow"], daemon: daemon)
        try await Task.sleep(for: .milliseconds(500))
        let during = try await syncctl(["status", "slow", "--json"], daemon: daemon)
        let document = try JSONSerialization.jsonObject(with: Data(during.stdout.utf8)) as! [String: Any]
        let store = (document["stores"] as! [[String: Any]])[0]
        XCTAssertEqual(store["state"] as? String, "syncing")
        let run = try XCTUnwrap(store["run"] as? [String: Any])
        XCTAssertEqual(run["trigger"] as? String, "on-demand")
        XCTAssertEqual(run["max"] as? Int, 400)
        XCTAssertTrue((run["step"] as? String)?.hasPrefix("message ") ?? false)
        XCTAssertTrue(store["last_result"] is NSNull, "absent values are null")
        let viewers = try XCTUnwrap(document["viewers"] as? [String: Any], "the viewers line, as JSON")
        XCTAssertEqual(viewers["watching"] as? Int, 0)
        XCTAssertEqual(viewers["dropped_too_slow"] as? Int, 0)
        _ = try await syncctl(["cancel", "slow"], daemon: daemon)
        try await Task.sleep(for: .milliseconds(300))
        let after = try await syncctl(["status", "slow"], daemon: daemon)
        XCTAssertTrue(after.stdout.contains("slow   synthetic  idle"), after.stdout)
        XCTAssertTrue(after.stdout.contains("cancelled"), after.stdout)
    }

    func testWatch_attachesMidRun_showsStateAtOnce_untilDone() async throws {
        let daemon = try DaemonProcess(config: Self.stores)
        try await daemon.start()
        _ = try await syncctl(["sync", "slow"], daemon: daemon)
        try await Task.sleep(for: .milliseconds(300))
        let socket = daemon.socket
        async let watching = Self.syncctl(["watch", "slow", "--until-done"], socket: socket)
        try await Task.sleep(for: .milliseconds(500))
        _ = try await syncctl(["cancel", "slow"], daemon: daemon)
        let watch = try await watching
        XCTAssertEqual(watch.status, 0)
        let lines = watch.stdout.split(separator: "\n").map { String($0.dropFirst(9)) }  // drop the time
        XCTAssertTrue(lines.first?.hasPrefix("slow: syncing ") ?? false, "the snapshot shows the run in progress: \(lines)")
        XCTAssertFalse(lines.contains { $0.hasPrefix("slow: error: ") }, "a cancel is no error: \(lines)")
        XCTAssertTrue(lines.last?.hasPrefix("slow: cancelled after ") ?? false, "\(lines)")
    }

    func testWatchJSON_oneObjectPerEvent() async throws {
        let daemon = try DaemonProcess(config: Self.stores)
        try await daemon.start()
        let socket = daemon.socket
        async let watching = Self.syncctl(["watch", "ok", "--json", "--until-done"], socket: socket)
        try await Task.sleep(for: .milliseconds(300))
        // Nothing runs yet, so --until-done ends at once after the snapshot.
        let idle = try await watching
        let objects = idle.stdout.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(objects.map { $0["type"] as? String }, ["snapshot"])

        let waiting = try await syncctl(["sync", "ok", "--wait", "--json"], daemon: daemon)
        let events = waiting.stdout.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        let types = events.compactMap { $0["type"] as? String }
        XCTAssertEqual(types.first, "snapshot")
        XCTAssertTrue(types.contains("run-started"))
        XCTAssertTrue(types.contains("progress"))
        let done = try XCTUnwrap(events.last { $0["type"] as? String == "done" })
        XCTAssertEqual((done["result"] as? [String: String])?["name"], "ok")
        XCTAssertEqual(done["store"] as? String, "ok")
        XCTAssertNotNil(done["seq"] as? Int)
        XCTAssertNotNil(done["time"] as? String)
    }

    func testPauseResumeReload_andUnknownStores() async throws {
        let daemon = try DaemonProcess(config: Self.stores)
        try await daemon.start()
        let paused = try await syncctl(["pause", "ok"], daemon: daemon)
        XCTAssertEqual(paused.stdout, "paused 'ok'\n")
        let refused = try await syncctl(["sync", "ok"], daemon: daemon)
        XCTAssertEqual(refused.status, 1)
        XCTAssertEqual(refused.stdout, "", "a refusal goes to stderr")
        XCTAssertEqual(refused.stderr, "syncctl: 'ok' is paused; resume it first (syncctl resume ok)\n")
        let status = try await syncctl(["status", "ok"], daemon: daemon)
        XCTAssertTrue(status.stdout.contains("paused"), status.stdout)
        let resumed = try await syncctl(["resume", "ok"], daemon: daemon)
        XCTAssertEqual(resumed.stdout, "resumed 'ok'\n")

        try daemon.writeConfig(Self.stores + "\n[store.extra]\nprovider = \"synthetic\"\nrun_at_startup = false\n")
        let reload = try await syncctl(["reload"], daemon: daemon)
        XCTAssertEqual(reload.status, 0)
        XCTAssertEqual(reload.stdout, "reloaded \(daemon.configPath): 1 added, 0 removed, 0 changed\n")
        let unknown = try await syncctl(["pause", "nope"], daemon: daemon)
        XCTAssertEqual(unknown.status, 1)
        XCTAssertEqual(unknown.stderr, "syncctl: no store named 'nope'; known stores: extra, fails, ok, slow, warns\n")
        let watchUnknown = try await syncctl(["watch", "nope"], daemon: daemon)
        XCTAssertEqual(watchUnknown.status, 1)
    }

    func testErrors_afterDaemonRestart() async throws {
        let daemon = try DaemonProcess(config: Self.stores)
        try await daemon.start()
        _ = try await syncctl(["sync", "warns", "--wait"], daemon: daemon)
        daemon.signal(SIGTERM)
        _ = try await daemon.waitForExit()
        try await daemon.start()
        let errors = try await syncctl(["errors", "warns"], daemon: daemon)
        let lines = errors.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 3, errors.stdout)
        XCTAssertTrue(lines[1].hasSuffix("warns  1    warning  item 5: skipped (synthetic warning)"), errors.stdout)
        let json = try await syncctl(["errors", "--json"], daemon: daemon)
        let entries = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [[String: Any]]
        XCTAssertEqual(entries.map { $0["severity"] as? String }, ["warning", "warning"])
    }

    func testNonMember_canWatchButNotControl() async throws {
        try XCTSkipUnless(getuid() == 0, "creating a user needs root")
        let user = "syncdtest\(UInt16.random(in: 1000...9999))"
        XCTAssertEqual(run("/usr/sbin/useradd", ["--system", "--no-create-home", user]), 0)
        defer { _ = run("/usr/sbin/userdel", [user]) }
        XCTAssertEqual(run("/usr/sbin/groupadd", ["--system", "nogroup-\(user)"]), 0)
        defer { _ = run("/usr/sbin/groupdel", ["nogroup-\(user)"]) }
        let daemon = try DaemonProcess(config: "[daemon]\nsocket_mode = \"0666\"\ncontrol_group = \"nogroup-\(user)\"\n" + Self.stores)
        try await daemon.start()
        let status = try await syncctl(["status"], daemon: daemon, user: user)
        XCTAssertEqual(status.status, 0, status.stderr)
        let denied = try await syncctl(["sync", "ok"], daemon: daemon, user: user)
        XCTAssertEqual(denied.status, 77)
        XCTAssertEqual(denied.stdout, "", "a refusal goes to stderr")
        XCTAssertTrue(denied.stderr.hasPrefix("syncctl: permission denied: sync — control needs root or membership in group 'nogroup-\(user)'"),
                      "in the user's words (sync, not the wire's sync-now): \(denied.stderr)")
        let deniedWaiting = try await syncctl(["sync", "ok", "--wait"], daemon: daemon, user: user)
        XCTAssertEqual(deniedWaiting.status, 77)
        XCTAssertTrue(deniedWaiting.stderr.hasPrefix("syncctl: permission denied: sync — "), deniedWaiting.stderr)
        let deniedPause = try await syncctl(["pause", "ok", "fails"], daemon: daemon, user: user)
        XCTAssertEqual(deniedPause.status, 77)
        XCTAssertEqual(deniedPause.stderr.split(separator: "\n").filter { $0.hasPrefix("syncctl: permission denied: pause — ") }.count, 2,
                       deniedPause.stderr)
        let watch = try await syncctl(["watch", "--until-done"], daemon: daemon, user: user)
        XCTAssertEqual(watch.status, 0, watch.stderr)

        // With the socket closed to others, the message says who owns it, not to join root.
        chmod(daemon.socket, 0o660)
        let blocked = try await syncctl(["status"], daemon: daemon, user: user)
        XCTAssertEqual(blocked.status, 77)
        XCTAssertTrue(blocked.stderr.contains("permission denied on \(daemon.socket) (mode 0660, owner root, group root): "), blocked.stderr)
        XCTAssertFalse(blocked.stderr.contains("add yourself to group 'root'"), blocked.stderr)
    }

    func testTerminal_drawsBarsInPlace() async throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux"), "needs tmux")
        let daemon = try DaemonProcess(config: Self.stores)
        try await daemon.start()
        let session = "syncctl\(UInt16.random(in: 1000...9999))"
        let command = "SYNCD_SOCKET=\(daemon.socket) \(try builtProduct("syncctl")) watch; sleep 60"
        XCTAssertEqual(run("/usr/bin/tmux", ["new-session", "-d", "-s", session, "-x", "100", "-y", "12", command]), 0)
        defer { _ = run("/usr/bin/tmux", ["kill-session", "-t", session]) }
        try await Task.sleep(for: .milliseconds(500))
        _ = try await syncctl(["sync", "slow", "warns"], daemon: daemon)
        try await Task.sleep(for: .milliseconds(1500))
        let screen = capture(session)
        let bar = try XCTUnwrap(screen.first { $0.hasPrefix("slow") }, "\(screen)")
        XCTAssertTrue(bar.contains("[#"), bar)
        XCTAssertTrue(bar.contains("%  message "), bar)
        XCTAssertTrue(screen.contains("warns: warning: item 5: skipped (synthetic warning) [warning]"), "\(screen)")
        XCTAssertTrue(screen.contains { $0.hasPrefix("warns: done: completed, but some items failed [partial] in ") }, "\(screen)")
        XCTAssertEqual(screen.filter { $0.hasPrefix("slow ") }.count, 1, "redrawn in place, not scrolled: \(screen)")
    }

    // MARK: The command line

    /// Like `syncctl watch --json | head -1`: the reader closes the pipe after one line; the next
    /// write fails with EPIPE, and syncctl ends quietly with status 0 instead of dying of SIGPIPE
    /// or trapping in a failed write.
    func testWatchJSON_intoAPipeClosedAfterOneLine_exitsQuietly() async throws {
        let daemon = try DaemonProcess(config: Self.stores)
        try await daemon.start()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try builtProduct("syncctl"))
        process.arguments = ["watch", "--json"]
        var environment = ProcessInfo.processInfo.environment
        environment["SYNCD_SOCKET"] = daemon.socket
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let first = await Self.readLine(out.fileHandleForReading)
        XCTAssertTrue(first.hasPrefix("{\"seq\":"), first)
        try out.fileHandleForReading.close()
        // The run's events are written into the closed pipe.
        let sync = try await syncctl(["sync", "ok"], daemon: daemon)
        XCTAssertEqual(sync.status, 0, sync.stderr)
        let deadline = ContinuousClock.now + .seconds(20)
        while process.isRunning, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        guard !process.isRunning else {
            process.terminate()
            return XCTFail("syncctl watch still runs after its reader went away")
        }
        let stderr = String(decoding: await Self.readToEnd(err.fileHandleForReading), as: UTF8.self)
        XCTAssertEqual(process.terminationReason, .exit, "not killed by signal \(process.terminationStatus)")
        XCTAssertEqual(process.terminationStatus, 0)
        XCTAssertEqual(stderr, "", "no crash message")
    }

    /// Reads until the first newline (or the end), on a thread of its own.
    static func readLine(_ handle: FileHandle) async -> String {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var data = Data()
                while !data.contains(UInt8(ascii: "\n")) {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    data += chunk
                }
                continuation.resume(returning: String(decoding: data, as: UTF8.self))
            }
        }
    }

    func testVersion_ofSyncdAndSyncctl() async throws {
        let syncctl = runTool(try builtProduct("syncctl"), ["--version"])
        XCTAssertEqual(syncctl.status, 0)
        XCTAssertEqual(syncctl.stdout, "0.2.0\n")
        let syncd = runTool(try builtProduct("syncd"), ["--version"])
        XCTAssertEqual(syncd.status, 0)
        XCTAssertEqual(syncd.stdout, "0.2.0\n")
    }

    func testSocketOption_beforeOrAfterTheSubcommand_andFromTheEnvironment() async throws {
        let daemon = try DaemonProcess(config: Self.stores)
        try await daemon.start()
        let nowhere = daemon.directory + "/nothing-here.sock"  // what $SYNCD_SOCKET says
        let before = try await Self.syncctl(["--socket", daemon.socket, "status", "ok"], socket: nowhere)
        XCTAssertEqual(before.status, 0, before.stderr)
        XCTAssertTrue(before.stdout.hasPrefix("STORE "), before.stdout)
        let joined = try await Self.syncctl(["--socket=\(daemon.socket)", "pause", "ok"], socket: nowhere)
        XCTAssertEqual(joined.status, 0, joined.stderr)
        XCTAssertEqual(joined.stdout, "paused 'ok'\n")
        let after = try await Self.syncctl(["resume", "ok", "--socket", daemon.socket], socket: nowhere)
        XCTAssertEqual(after.status, 0, after.stderr)
        XCTAssertEqual(after.stdout, "resumed 'ok'\n")
        let alone = try await Self.syncctl(["--socket", daemon.socket], socket: nowhere)
        XCTAssertEqual(alone.status, 0, alone.stderr)
        XCTAssertTrue(alone.stdout.hasPrefix("STORE "), alone.stdout)
        let fromEnvironment = try await syncctl(["status", "ok"], daemon: daemon)
        XCTAssertEqual(fromEnvironment.status, 0, fromEnvironment.stderr)
        let wrong = try await Self.syncctl(["status"], socket: nowhere)
        XCTAssertEqual(wrong.status, 69)
        XCTAssertTrue(wrong.stderr.contains("no socket at \(nowhere)"), wrong.stderr)
    }

    /// Like `systemctl`, which lists units: no subcommand is `status`.
    func testNoArguments_showsTheStatusTable() async throws {
        let daemon = try DaemonProcess(config: Self.stores)
        try await daemon.start()
        let result = try await syncctl([], daemon: daemon)
        XCTAssertEqual(result.status, 0, result.stderr)
        let names = result.stdout.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
        XCTAssertEqual(names, ["STORE", "fails", "ok", "slow", "warns", "viewers:"], result.stdout)
        let json = try await syncctl(["--json"], daemon: daemon)
        XCTAssertEqual(json.status, 0, json.stderr)
        let document = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        XCTAssertEqual((document?["stores"] as? [[String: Any]])?.count, 4, json.stdout)
    }

    func testSyncAll_andSeveralStoresForCancelPauseResume() async throws {
        let quick = Self.stores.replacingOccurrences(of: "steps = 400", with: "steps = 80")  // 2 s
        let daemon = try DaemonProcess(config: quick + """

            [store.slow2]
            provider = "synthetic"
            steps = 80
            rate = 40
            run_at_startup = false
            """)
        try await daemon.start()
        let all = try await syncctl(["sync", "--all", "--wait"], daemon: daemon)
        XCTAssertEqual(all.status, 3, "the worst of them, fails: \(all.stderr)")
        for line in ["ok: done in ", "warns: done: completed, but some items failed [partial]",
                     "fails: failed: network error [network]", "slow: done in "] {
            XCTAssertTrue(all.stdout.contains(line), "\(line) in \(all.stdout)")
        }
        let usage = try await syncctl(["sync"], daemon: daemon)
        XCTAssertEqual(usage.status, 64)
        let both = try await syncctl(["sync", "--all", "ok"], daemon: daemon)
        XCTAssertEqual(both.status, 64)

        let started = try await syncctl(["sync", "slow", "slow2"], daemon: daemon)
        XCTAssertEqual(started.status, 0, started.stderr)
        XCTAssertEqual(started.stdout.split(separator: "\n").count, 2, started.stdout)
        let cancel = try await syncctl(["cancel", "slow", "slow2"], daemon: daemon)
        XCTAssertEqual(cancel.status, 0, cancel.stderr)
        let cancelled = cancel.stdout.split(separator: "\n")
        XCTAssertEqual(cancelled.map { $0.hasPrefix("cancelling run ") }, [true, true], cancel.stdout)
        XCTAssertEqual(cancelled.map { $0.split(separator: " ").last }, ["'slow'", "'slow2'"], cancel.stdout)

        let pause = try await syncctl(["pause", "ok", "warns"], daemon: daemon)
        XCTAssertEqual(pause.status, 0, pause.stderr)
        XCTAssertEqual(pause.stdout, "paused 'ok'\npaused 'warns'\n")
        let resume = try await syncctl(["resume", "nope", "ok", "warns"], daemon: daemon)
        XCTAssertEqual(resume.status, 1, "one of them was refused")
        XCTAssertEqual(resume.stdout, "resumed 'ok'\nresumed 'warns'\n", "the others are still done")
        XCTAssertTrue(resume.stderr.hasPrefix("syncctl: no store named 'nope'; "), resume.stderr)
    }

    /// 0 only for a clean run: a result `ok` after error or warning callbacks is 2, like `partial`.
    func testSyncWait_exitStatusFollowsWhatWasShown() async throws {
        let daemon = try DaemonProcess(config: """
            [store.clean]
            provider = "synthetic"
            steps = 10
            rate = 100
            run_at_startup = false

            [store.errors-but-ok]
            provider = "synthetic"
            steps = 10
            rate = 100
            error_every = 5
            result = "ok"
            run_at_startup = false

            [store.warnings-but-ok]
            provider = "synthetic"
            steps = 10
            rate = 100
            warn_every = 5
            result = "ok"
            run_at_startup = false
            """)
        try await daemon.start()
        let clean = try await syncctl(["sync", "clean", "--wait"], daemon: daemon)
        XCTAssertEqual(clean.status, 0, clean.stderr)
        let errors = try await syncctl(["sync", "errors-but-ok", "--wait"], daemon: daemon)
        XCTAssertTrue(errors.stdout.contains("errors-but-ok: error: "), errors.stdout)
        XCTAssertTrue(errors.stdout.contains("errors-but-ok: done in "), errors.stdout)
        XCTAssertEqual(errors.status, 2, "errors were shown, so not a clean 0")
        let warnings = try await syncctl(["sync", "warnings-but-ok", "--wait", "--json"], daemon: daemon)
        XCTAssertEqual(warnings.status, 2, "warnings were shown, so not a clean 0")
        let both = try await syncctl(["sync", "clean", "errors-but-ok", "--wait"], daemon: daemon)
        XCTAssertEqual(both.status, 2)
    }

    /// The exit statuses are listed once, at the top, not repeated under every subcommand.
    func testHelp_listsTheExitStatusesOnceAtTheTop() async throws {
        func help(_ arguments: [String]) throws -> String {
            let (status, stdout) = runTool(try builtProduct("syncctl"), arguments)
            XCTAssertEqual(status, 0, "\(arguments)")
            return stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")  // undo the wrapping
        }
        let top = try help(["--help"])
        XCTAssertEqual(top.components(separatedBy: "Exit status:").count - 1, 1, top)
        XCTAssertTrue(top.contains("2 `sync --wait` / `wait --until done`: a run finished with warnings or errors"), top)
        XCTAssertTrue(top.contains("status (default)"), top)
        for subcommand in ["status", "watch", "sync", "cancel", "pause", "resume", "errors", "reload"] {
            let text = try help([subcommand, "--help"])
            XCTAssertFalse(text.contains("Exit status:"), "\(subcommand): \(text)")
        }
    }

    /// Refusals go to stderr, prefixed `syncctl:`; stdout has only what was done.
    func testRefusals_goToStderr() async throws {
        let daemon = try DaemonProcess(config: Self.stores)
        try await daemon.start()
        let started = try await syncctl(["sync", "slow"], daemon: daemon)
        XCTAssertEqual(started.status, 0, started.stderr)
        XCTAssertTrue(started.stdout.hasPrefix("sync of 'slow' started (run "), started.stdout)
        let busy = try await syncctl(["sync", "slow"], daemon: daemon)
        XCTAssertEqual(busy.status, 1)
        XCTAssertEqual(busy.stdout, "")
        XCTAssertTrue(busy.stderr.hasPrefix("syncctl: 'slow' is already syncing (run "), busy.stderr)
        let unknown = try await syncctl(["sync", "nope", "--wait"], daemon: daemon)
        XCTAssertEqual(unknown.status, 1)
        XCTAssertTrue(unknown.stderr.hasPrefix("syncctl: no store named 'nope'; "), unknown.stderr)
        _ = try await syncctl(["cancel", "slow"], daemon: daemon)
        let idle = try await syncctl(["cancel", "ok"], daemon: daemon)
        XCTAssertEqual(idle.status, 1)
        XCTAssertEqual(idle.stdout, "")
        XCTAssertEqual(idle.stderr, "syncctl: 'ok' is not syncing; nothing to cancel\n")
    }

    private func capture(_ session: String) -> [String] {
        let (_, output) = runTool("/usr/bin/tmux", ["capture-pane", "-p", "-t", session])
        return output.split(separator: "\n").map { String($0).trimmingCharacters(in: .whitespaces) }
    }

    @discardableResult
    private func run(_ path: String, _ arguments: [String]) -> Int32 {
        runTool(path, arguments, captureOutput: false).status
    }
}
