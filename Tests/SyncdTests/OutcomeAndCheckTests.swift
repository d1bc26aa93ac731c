#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SyncDaemon
import SyncIPC
import SyncProtocol
import TestSupport
import XCTest

/// The first hour of a new user (issue 11): a cancel or a pause reads as what it is, not as a
/// failure; `syncd --check` refuses what would fail every run and says OK in plain words.
final class OutcomeAndCheckTests: XCTestCase {
    /// A run to act on while it goes: 1000 steps at 50/s.
    static let slowStore = """
        [store.slow]
        provider = "synthetic"
        steps = 1000
        rate = 50
        run_at_startup = false
        """

    /// A run that fails with the plain `failed` result after one error.
    static let failingStore = """
        [store.failing]
        provider = "synthetic"
        steps = 4
        rate = 100
        error_every = 4
        result = "failed"
        run_at_startup = false
        """

    // MARK: A cancel or pause is an outcome, not an error

    func testCancel_isDoneCancelledAlone_notInTheErrorHistory_andLoggedAsNotice() async throws {
        let daemon = try DaemonProcess(config: Self.slowStore)
        try await daemon.start()
        let client = try await daemon.client()
        let (_, updates) = try await client.subscribe()
        _ = try await client.send(.syncNow(store: "slow", flags: []))
        let started = try await events(from: updates) { $0.isProgress }
        let run = try XCTUnwrap(started.first(where: \.isRunStarted)?.run)
        let reply = try await client.send(.cancel(store: "slow"))
        XCTAssertEqual(reply.status, .ok, reply.message)
        let tail = try await events(from: updates) { $0.isDone }
        XCTAssertEqual(tail.last?.doneResult, .cancelled, "the wire keeps Done cancelled (MAPI_E_USER_CANCEL)")
        XCTAssertEqual(Self.errorEvents(tail), [], "a cancel someone asked for is no Error event")
        let history = try await client.errors(stores: ["slow"])
        XCTAssertEqual(history.count, 0, "nothing in `syncctl errors`: \(history)")

        let log = try await Self.logLine(of: daemon, containing: "slow: run \(run) cancelled by uid \(getuid())")
        XCTAssertTrue(log.contains(" notice "), "logged at notice level, not as an error: \(log)")
        XCTAssertFalse(daemon.stderr.split(separator: "\n").contains { $0.contains(" error ") }, daemon.stderr)
    }

    func testPause_cancelsTheRunWithoutAnError_andTheLogSaysPaused() async throws {
        let daemon = try DaemonProcess(config: Self.slowStore)
        try await daemon.start()
        let client = try await daemon.client()
        let (_, updates) = try await client.subscribe()
        _ = try await client.send(.syncNow(store: "slow", flags: []))
        let started = try await events(from: updates) { $0.isProgress }
        let run = try XCTUnwrap(started.first(where: \.isRunStarted)?.run)
        _ = try await client.send(.pause(store: "slow"))
        let tail = try await events(from: updates) { $0.isDone }
        XCTAssertEqual(tail.last?.doneResult, .cancelled)
        XCTAssertEqual(Self.errorEvents(tail), [])
        let pausedFirst = tail.contains {
            if case .storeChanged(let info) = $0.kind { return info.paused }
            return false
        }
        XCTAssertTrue(pausedFirst, "viewers learn why from StoreChanged's paused bit, before Done: \(tail.map(\.kind))")
        let history = try await client.errors(stores: ["slow"])
        XCTAssertEqual(history.count, 0, "\(history)")

        let log = try await Self.logLine(of: daemon, containing: "slow: run \(run) cancelled: the store was paused by uid \(getuid())")
        XCTAssertTrue(log.contains(" notice "), log)
    }

    func testRemovalByReload_andShutdown_cancelWithoutAnError() async throws {
        let daemon = try DaemonProcess(config: Self.slowStore + "\n" + Self.failingStore)
        try await daemon.start()
        let client = try await daemon.client()
        let (_, updates) = try await client.subscribe()

        _ = try await client.send(.syncNow(store: "slow", flags: []))
        _ = try await events(from: updates) { $0.isProgress }
        try daemon.writeConfig(Self.failingStore + "\n" + Self.slowStore.replacingOccurrences(of: "store.slow", with: "store.other"))
        daemon.signal(SIGHUP)
        let removal = try await events(from: updates) { $0.kind == .storeRemoved }
        XCTAssertTrue(removal.contains { $0.store == "slow" && $0.doneResult == .cancelled })
        XCTAssertEqual(Self.errorEvents(removal), [])

        _ = try await client.send(.syncNow(store: "other", flags: []))
        _ = try await events(from: updates) { $0.isProgress }
        daemon.signal(SIGTERM)
        var shutdown: [SyncEvent] = []
        do {
            for try await update in updates { if case .event(let event) = update { shutdown.append(event) } }
        } catch SyncClientError.closedByServer {}
        XCTAssertEqual(shutdown.last(where: \.isDone)?.doneResult, .cancelled)
        XCTAssertEqual(Self.errorEvents(shutdown), [])
        let status = try await daemon.waitForExit(timeout: .seconds(10))
        XCTAssertEqual(status, 0)
        let stores = try daemon.savedState()["stores"] as? [String: [String: Any]]
        XCTAssertEqual(stores?["other"]?["lastResult"] as? UInt32, SyncStatus.cancelled.rawValue)
        XCTAssertEqual((stores?["other"]?["errors"] as? [Any])?.count ?? 0, 0, "no error-history entry for a shutdown")
        XCTAssertEqual((stores?["slow"]?["errors"] as? [Any])?.count ?? 0, 0, "none for a removal")
    }

    func testSyncWaitSummary_saysCancelledOrPaused_andFailedOnce() async throws {
        let daemon = try DaemonProcess(config: Self.slowStore + "\n" + Self.failingStore)
        try await daemon.start()
        let socket = daemon.socket

        async let cancelling = SyncctlTests.syncctl(["sync", "slow", "--wait"], socket: socket)
        try await Task.sleep(for: .milliseconds(500))
        _ = try await SyncctlTests.syncctl(["cancel", "slow"], socket: socket)
        let cancelled = try await cancelling
        XCTAssertEqual(cancelled.status, 4, "the exit status still says cancelled")
        let cancelLine = try XCTUnwrap(Self.lines(cancelled.stdout).last)
        XCTAssertTrue(cancelLine.hasPrefix("slow: cancelled after "), cancelled.stdout)
        XCTAssertFalse(cancelled.stdout.contains("error") || cancelled.stdout.contains("failed"), cancelled.stdout)

        async let pausing = SyncctlTests.syncctl(["sync", "slow", "--wait"], socket: socket)
        try await Task.sleep(for: .milliseconds(500))
        _ = try await SyncctlTests.syncctl(["pause", "slow"], socket: socket)
        let paused = try await pausing
        XCTAssertEqual(paused.status, 4)
        XCTAssertTrue(Self.lines(paused.stdout).contains { $0.hasPrefix("slow: paused (run cancelled) after ") }, paused.stdout)
        XCTAssertFalse(paused.stdout.contains("error") || paused.stdout.contains("failed"), paused.stdout)

        let failing = try await SyncctlTests.syncctl(["sync", "failing", "--wait"], socket: socket)
        XCTAssertEqual(failing.status, 3)
        let failLine = try XCTUnwrap(Self.lines(failing.stdout).last)
        XCTAssertTrue(failLine.hasPrefix("failing: failed in "), failing.stdout)
        XCTAssertTrue(failLine.hasSuffix(", 1 error"), failing.stdout)
        XCTAssertFalse(failLine.contains("[failed]"), "one 'failed' is enough: \(failLine)")
    }

    // MARK: --check refuses a command that cannot run

    func testCheck_execCommandThatCannotRun_isAConfigErrorNamingFileLineAndKey() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let notExecutable = directory + "/not-executable"
        try "#!/bin/sh\n".write(toFile: notExecutable, atomically: false, encoding: .utf8)
        chmod(notExecutable, 0o644)
        let missing = directory + "/nope"
        let cases: [(command: String, message: String)] = [
            (missing, "\(missing): no such file"),
            (notExecutable, "\(notExecutable): not executable"),
            (directory, "\(directory): is a directory"),
            ("syncd-test-no-such-command", "syncd-test-no-such-command: not found in PATH ("),
        ]
        for (command, message) in cases {
            let config = directory + "/syncd.toml"
            try "# a store\n[store.x]\nprovider = \"exec\"\ncommand = [\"\(command)\", \"--all\"]\n"
                .write(toFile: config, atomically: true, encoding: .utf8)
            let check = try Self.syncd(["--check", "--config", config])
            XCTAssertEqual(check.status, 78, check.output)
            XCTAssertTrue(check.output.hasPrefix("\(config):4: store.x.command: \(message)"), check.output)
        }

        // A bare name is looked up in PATH, the config's own PATH first, as the run will.
        try "[store.x]\nprovider = \"exec\"\ncommand = [\"true\"]\n".write(toFile: directory + "/ok.toml", atomically: true, encoding: .utf8)
        XCTAssertEqual(try Self.syncd(["--check", "--config", directory + "/ok.toml"]).status, 0)
        try "[store.x]\nprovider = \"exec\"\ncommand = [\"true\"]\nenvironment = { PATH = \"\(directory)\" }\n"
            .write(toFile: directory + "/path.toml", atomically: true, encoding: .utf8)
        let elsewhere = try Self.syncd(["--check", "--config", directory + "/path.toml"])
        XCTAssertEqual(elsewhere.status, 78)
        XCTAssertTrue(elsewhere.output.contains("store.x.command: true: not found in PATH (\(directory))"), elsewhere.output)
        // A relative path is taken from working_directory.
        try "[store.x]\nprovider = \"exec\"\ncommand = [\"./true\"]\nworking_directory = \"/bin\"\n"
            .write(toFile: directory + "/relative.toml", atomically: true, encoding: .utf8)
        XCTAssertEqual(try Self.syncd(["--check", "--config", directory + "/relative.toml"]).status, 0)
    }

    func testStartAndReload_refuseAnExecCommandThatCannotRun() async throws {
        let bad = "[store.x]\nprovider = \"exec\"\ncommand = [\"/nonexistent/syncd-test\"]\n"
        let refused = try DaemonProcess(config: bad)
        _ = try refused.launch()
        let status = try await refused.waitForExit()
        XCTAssertEqual(status, 78)
        XCTAssertTrue(refused.stderr.contains("syncd.toml:3: store.x.command: /nonexistent/syncd-test: no such file"), refused.stderr)

        let daemon = try DaemonProcess(config: Self.slowStore)
        try await daemon.start()
        try daemon.writeConfig(Self.slowStore + "\n" + bad)
        let client = try await daemon.client()
        let reply = try await client.send(.reload)
        XCTAssertEqual(reply.status, .config)
        XCTAssertTrue(reply.message.contains("store.x.command: /nonexistent/syncd-test: no such file"), reply.message)
        let names = try await client.status().stores.map(\.name)
        XCTAssertEqual(names, ["slow"], "the running configuration stays")
    }

    func testMissingControlGroup_failsCheck() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "[daemon]\ncontrol_group = \"syncd-test-no-group-\(UInt16.random(in: 1000...9999))\"\n"
            .write(toFile: directory + "/syncd.toml", atomically: true, encoding: .utf8)
        let check = try Self.syncd(["--check", "--config", directory + "/syncd.toml"])
        XCTAssertEqual(check.status, 78)
        XCTAssertTrue(check.output.contains("syncd.toml:2: daemon.control_group: no group named"), check.output)
    }

    // MARK: Durations need a unit

    func testBareIntegerDuration_isRefusedForEveryDurationKey() throws {
        let cases: [(text: String, key: String)] = [
            ("[store.a]\nprovider = \"synthetic\"\ninterval = 300\n", "store.a.interval"),
            ("[daemon]\nstall_after = 60\n", "daemon.stall_after"),
            ("[daemon]\ncancel_stalled_after = 300\n", "daemon.cancel_stalled_after"),
            ("[daemon]\nretry_after = 30\n", "daemon.retry_after"),
            ("[daemon]\nmax_backoff = 3600\n", "daemon.max_backoff"),
            ("[store.a]\nprovider = \"exec\"\ncommand = [\"true\"]\ngrace = 5\n", "store.a.grace"),
        ]
        for (text, key) in cases {
            XCTAssertThrowsError(try DaemonConfig.parse(text, file: "f.toml", factories: Daemon.factories), key) { error in
                let error = error as? ConfigError
                XCTAssertEqual(error?.key, key)
                XCTAssertEqual(error?.line, text.split(separator: "\n", omittingEmptySubsequences: false).count - 1)
                XCTAssertTrue(error?.message.hasPrefix("write a duration with its unit, such as \"") ?? false, "\(String(describing: error))")
            }
        }
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try cases[0].text.write(toFile: directory + "/syncd.toml", atomically: true, encoding: .utf8)
        let check = try Self.syncd(["--check", "--config", directory + "/syncd.toml"])
        XCTAssertEqual(check.status, 78)
        XCTAssertEqual(check.output, "\(directory)/syncd.toml:3: store.a.interval: write a duration with its unit, "
            + "such as \"300s\" or \"5m\", not a bare number\n")
    }

    func testDurationStrings_stillWork() throws {
        let config = try DaemonConfig.parse("""
            [daemon]
            stall_after = "90s"
            retry_after = "500ms"
            max_backoff = "1h30m"

            [store.a]
            provider = "synthetic"
            interval = "5m"
            """, file: "f.toml", factories: Daemon.factories)
        XCTAssertEqual(config.settings.stallAfter, .seconds(90))
        XCTAssertEqual(config.settings.retryAfter, .milliseconds(500))
        XCTAssertEqual(config.settings.maxBackoff, .seconds(5400))
        XCTAssertEqual(config.stores["a"]?.interval, .seconds(300))
    }

    // MARK: --check says OK in plain words; hints name what is installed

    func testCheckOutput_countsStoresGrammatically() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = { (name: String) in "[store.\(name)]\nprovider = \"synthetic\"\n" }
        for (text, expected) in [("", "OK: no stores"), (store("demo"), "OK: 1 store (demo)"),
                                 (store("b") + store("a"), "OK: 2 stores (a, b)")] {
            let config = directory + "/syncd.toml"
            try text.write(toFile: config, atomically: true, encoding: .utf8)
            let check = try Self.syncd(["--check", "--config", config])
            XCTAssertEqual(check.status, 0, check.output)
            XCTAssertEqual(check.output, "\(config): \(expected)\n")
        }
    }

    func testMissingConfig_pointsAtTheInstalledExample() throws {
        let check = try Self.syncd(["--check", "--config", "/nonexistent/syncd.toml"])
        XCTAssertEqual(check.status, 78)
        XCTAssertEqual(check.output, "/nonexistent/syncd.toml: the configuration file does not exist; pass --config FILE, "
            + "or start from the example installed at /usr/lib/syncd/examples/syncd.example.toml (see syncd --help)\n")
        XCTAssertFalse(check.output.contains("packaging/"), "an installed system has no source tree")
        let help = try Self.syncd(["--help"])
        XCTAssertTrue(help.output.contains("/usr/lib/syncd/examples/syncd.example.toml"), help.output)
    }

    // MARK: Helpers

    /// The Error events among `events` (a warning is an Error event too).
    static func errorEvents(_ events: [SyncEvent]) -> [SyncEvent.Kind] {
        events.map(\.kind).filter {
            if case .error = $0 { return true }
            return false
        }
    }

    /// The daemon's stderr line containing `text`, waited for (the log may trail the event).
    static func logLine(of daemon: DaemonProcess, containing text: String) async throws -> String {
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            if let line = daemon.stderr.split(separator: "\n").first(where: { $0.contains(text) }) { return String(line) }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestError("no log line containing '\(text)' in:\n\(daemon.stderr)")
    }

    /// Output lines without their leading time (`12:34:56 `).
    static func lines(_ output: String) -> [String] {
        output.split(separator: "\n").map { String($0.dropFirst(9)) }
    }

    /// Runs the built syncd to the end; stdout and stderr together.
    static func syncd(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let result = runTool(try builtProduct("syncd"), arguments, mergeStandardError: true)
        return (result.status, result.stdout)
    }

    static func temporaryDirectory() throws -> String {
        let directory = "/tmp/syncd-oc-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }
}
