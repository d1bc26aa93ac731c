#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import Synchronization
@testable import SyncDaemon
import SyncIPC
import SyncProtocol
import TestSupport
import XCTest

/// The exec provider against real processes (`/bin/sh -c` scripts), observed the way users see it:
/// events through a real server and a subscribed viewer, lines in the log, and the run's result.
final class ExecProviderTests: XCTestCase {
    // MARK: The line format

    func testProtocolLines_becomeEventsInOrder_andResultLineSetsResult() async throws {
        let run = try await Self.runScript("""
            echo 'progress 1 4 fetching inbox'
            echo 'warning skipped a message that is too large'
            echo 'progress 2 4'
            echo 'error network server went away'
            echo 'error 0x80040111 login refused'
            echo 'warning partial two folders skipped'
            printf 'progress\t4 4\tdone\n'
            echo 'result partial'
            """)
        XCTAssertEqual(run.status, .partial)
        XCTAssertEqual(run.events, [
            .progress(step: "fetching inbox", index: 1, max: 4),
            .error(code: .warning, message: "skipped a message that is too large"),
            .progress(step: nil, index: 2, max: 4),
            .error(code: .network, message: "server went away"),
            .error(code: .authFailed, message: "login refused"),
            .error(code: .partial, message: "two folders skipped"),
            .progress(step: "done", index: 4, max: 4),
        ])
    }

    func testOutputLineParser_followsTheDocumentedFormat() {
        typealias Line = ExecProvider.OutputLine
        let cases: [(String, Line)] = [
            ("progress 3 10 copying mail", .progress(step: "copying mail", index: 3, max: 10)),
            ("progress 3 0", .progress(step: nil, index: 3, max: 0)),
            ("  progress  3\t10   two  spaces ", .progress(step: "two  spaces ", index: 3, max: 10)),
            ("warning disk almost full", .report(.warning, "disk almost full")),
            ("warning 0x00040680 some items skipped", .report(.partial, "some items skipped")),
            ("error timeout server too slow", .report(.timeout, "server too slow")),
            ("error it broke", .report(.failed, "it broke")),
            ("result ok", .result(.ok)),
            ("result 0x80040115", .result(.network)),
            ("progress", .malformed),
            ("progress 1", .malformed),
            ("progress one 2", .malformed),
            ("progress -1 2", .malformed),
            ("progress 4294967296 1", .malformed),
            ("warning", .malformed),
            ("warning partial", .malformed),
            ("warning network down", .malformed),  // a failure code on a warning
            ("error partial oops", .malformed),  // a warning code on an error
            ("result", .malformed),
            ("result soon", .malformed),
            ("result ok extra", .malformed),
            ("result 0x", .malformed),
            ("progressive rock", .text),
            ("Synchronizing INBOX", .text),
            ("", .blank),
            ("   ", .blank),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(Line(text), expected, "line: \(text.debugDescription)")
        }
    }

    func testUnknownLinesAndStderr_areLogged() async throws {
        let run = try await Self.runScript("""
            echo 'Synchronizing folder INBOX'
            echo 'connection reset, retrying' >&2
            echo 'progressive rock'
            """)
        XCTAssertEqual(run.status, .ok)
        XCTAssertEqual(run.events, [])
        XCTAssertEqual(run.logs.messages(at: .info), ["Synchronizing folder INBOX", "progressive rock"])
        XCTAssertEqual(run.logs.messages(at: .warning), ["connection reset, retrying"])
    }

    func testMalformedLines_areLoggedAndIgnored() async throws {
        let run = try await Self.runScript("""
            echo 'progress x 10'
            echo 'warning network down'
            echo 'error partial not a failure code'
            echo 'result whenever'
            echo 'progress 3 3 still fine'
            """)
        XCTAssertEqual(run.status, .ok, "a malformed result line does not change the result")
        XCTAssertEqual(run.events, [.progress(step: "still fine", index: 3, max: 3)])
        XCTAssertEqual(run.logs.messages(at: .warning), [
            "malformed line from command: progress x 10",
            "malformed line from command: warning network down",
            "malformed line from command: error partial not a failure code",
            "malformed line from command: result whenever",
        ])
    }

    func testOverlongLine_isCutWithAWarning_andReadingGoesOn() async throws {
        let run = try await Self.runScript("""
            head -c 100000 /dev/zero | tr '\\0' x
            echo
            echo 'progress 1 1 after the long line'
            """)
        XCTAssertEqual(run.status, .ok)
        XCTAssertEqual(run.events, [.progress(step: "after the long line", index: 1, max: 1)])
        XCTAssertEqual(run.logs.messages(at: .info).map(\.utf8.count), [64 * 1024])
        XCTAssertEqual(run.logs.messages(at: .warning).count, 1)
        XCTAssertTrue(run.logs.messages(at: .warning).first?.contains("longer than 64 KiB") ?? false)
    }

    func testFloodOfProgress_isConsumed_andLastProgressIsRight() async throws {
        let run = try await Self.runScript("seq 1 200000 | sed 's/.*/progress & 200000 item &/'")
        XCTAssertEqual(run.status, .ok)
        XCTAssertEqual(run.events.last, .progress(step: "item 200000", index: 200_000, max: 200_000))
        let indexes = run.events.compactMap { event -> UInt32? in
            if case .progress(_, let index, _) = event { return index }
            return nil
        }
        XCTAssertEqual(indexes, indexes.sorted(), "progress never goes backwards")
        XCTAssertLessThan(run.elapsed, .seconds(10))
    }

    // MARK: Exit and start failures

    func testExitStatus_becomesTheResult() async throws {
        let ok = try await Self.runScript("exit 0")
        XCTAssertEqual(ok.status, .ok)
        XCTAssertEqual(ok.events, [])

        let three = try await Self.runScript("echo 'result partial'; exit 3")
        XCTAssertEqual(three.status, .failed, "a result line counts only when the command succeeds")
        XCTAssertEqual(three.events, [.error(code: .failed, message: "command exited with status 3")])

        let killed = try await Self.runScript("kill -KILL $$")
        XCTAssertEqual(killed.status, .failed)
        XCTAssertEqual(killed.events, [.error(code: .failed, message: "command killed by signal 9")])
    }

    func testCommandThatCannotRun_reportsConfigError() async throws {
        // Built directly: a config naming such a command is refused by --check (OutcomeAndCheckTests);
        // this is a command that went away after the config was loaded.
        let missing = try await Self.run(ExecProvider(command: ["syncd-test-no-such-command", "--all"]))
        XCTAssertEqual(missing.status, .config)
        XCTAssertEqual(missing.events, [
            .error(code: .config, message: "cannot run 'syncd-test-no-such-command': No such file or directory"),
        ])

        let script = Self.temporaryPath("notexec")
        try "#!/bin/sh\necho hi\n".write(toFile: script, atomically: false, encoding: .utf8)
        defer { unlink(script) }
        chmod(script, 0o644)
        let notExecutable = try await Self.run(ExecProvider(command: [script]))
        XCTAssertEqual(notExecutable.status, .config)
        XCTAssertEqual(notExecutable.events, [.error(code: .config, message: "cannot run '\(script)': Permission denied")])
    }

    func testRuns_reapTheCommand_andCloseTheirDescriptors() async throws {
        let provider = try Self.shellProvider("echo $$; echo 'to stderr' >&2")
        try await Self.withHarness { harness in
            let before = try Self.openDescriptorCount()
            for _ in 0..<3 {
                let status = try await harness.start(provider).value
                XCTAssertEqual(status, .ok)
            }
            XCTAssertEqual(try Self.openDescriptorCount(), before)
            let commands = harness.logs.messages(at: .info).compactMap { pid_t($0) }
            XCTAssertEqual(commands.count, 3)
            for command in commands {
                // An unreaped zombie would still be our child, and kill would succeed.
                XCTAssertEqual(kill(command, 0), -1, "command \(command) was not reaped")
                XCTAssertEqual(errno, ESRCH)
            }
        }
    }

    // MARK: Cancellation

    func testCancel_stopsCommandThatHonoursSIGTERM_quickly() async throws {
        let provider = try Self.shellProvider("echo 'progress 0 1 ready'; sleep 30")
        try await Self.withHarness { harness in
            let task = harness.start(provider)
            _ = try await harness.waitForProgress()
            let clock = ContinuousClock()
            let start = clock.now
            task.cancel()
            let status = try await task.value
            XCTAssertEqual(status, .cancelled)
            XCTAssertLessThan(clock.now - start, .seconds(1))
        }
    }

    func testProgressAnsweringCancel_stopsTheCommand() async throws {
        let provider = try Self.shellProvider("i=0; while true; do i=$((i+1)); echo \"progress $i 0\"; sleep 0.05; done")
        try await Self.withHarness { harness in
            let task = harness.start(provider)
            _ = try await harness.waitForProgress()
            let clock = ContinuousClock()
            let start = clock.now
            harness.reporter.requestCancel()
            let status = try await task.value
            XCTAssertEqual(status, .cancelled)
            XCTAssertLessThan(clock.now - start, .seconds(1))
        }
    }

    func testCancel_killsCommandThatIgnoresSIGTERM_afterGrace() async throws {
        let provider = try Self.shellProvider("trap '' TERM; echo 'progress 0 1 ready'; sleep 30", options: "grace = \"1s\"")
        try await Self.withHarness { harness in
            let task = harness.start(provider)
            _ = try await harness.waitForProgress()
            let clock = ContinuousClock()
            let start = clock.now
            task.cancel()
            let status = try await task.value
            let elapsed = clock.now - start
            XCTAssertEqual(status, .cancelled)
            XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(900), "SIGKILL waits for the grace")
            XCTAssertLessThan(elapsed, .seconds(2), "killed within grace + 1s")
            XCTAssertTrue(harness.logs.messages(at: .warning).contains { $0.contains("SIGKILL") })
        }
    }

    func testCancel_leavesNoBackgroundGrandchildBehind() async throws {
        // The grandchild ignores SIGTERM and outlives its parent: only the group kill gets it.
        let provider = try Self.shellProvider("""
            sh -c 'trap "" TERM; echo "progress 0 1 $$"; exec sleep 300' &
            wait
            """, options: "grace = \"5s\"")
        try await Self.withHarness { harness in
            let task = harness.start(provider)
            let step = try await harness.waitForProgress()
            let grandchild = try XCTUnwrap(pid_t(step), "no pid in \(step)")
            XCTAssertTrue(Self.isRunning(grandchild))
            task.cancel()
            let status = try await task.value
            XCTAssertEqual(status, .cancelled)
            try await Self.waitUntilGone(grandchild)
        }
    }

    func testBackgroundGrandchild_holdingOutput_isKilledWhenCommandExits() async throws {
        let run = try await Self.runScript("""
            sleep 300 &
            echo "progress 1 1 $!"
            """)
        XCTAssertEqual(run.status, .ok)
        XCTAssertLessThan(run.elapsed, .seconds(2), "the run does not wait for the grandchild's output to close")
        guard case .progress(let step?, _, _) = run.events.last, let grandchild = pid_t(step) else {
            return XCTFail("no pid in \(run.events)")
        }
        try await Self.waitUntilGone(grandchild)
    }

    // MARK: Environment and secrets

    func testEnvironment_dropsSystemdVariables_andAddsRunAndConfig() async throws {
        let added = ["LISTEN_FDS": "3", "LISTEN_PID": "1", "NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": "1000",
                     "SYNCD_TEST_INHERITED": "yes"]
        for (name, value) in added { setenv(name, value, 1) }
        defer { for name in added.keys { unsetenv(name) } }
        let provider = try Self.shellProvider("""
            echo "listen=${LISTEN_FDS-unset},${LISTEN_PID-unset} notify=${NOTIFY_SOCKET-unset} watchdog=${WATCHDOG_USEC-unset}"
            echo "inherited=$SYNCD_TEST_INHERITED extra=$EXTRA"
            echo "store=$SYNCD_STORE run=$SYNCD_RUN flags=$SYNCD_FLAGS trigger=$SYNCD_TRIGGER"
            if read -r line; then echo "stdin=data"; else echo "stdin=eof"; fi
            pwd
            """, options: """
            working_directory = "/tmp"
            environment = { EXTRA = "from config" }
            """)
        let run = try await Self.run(provider)
        XCTAssertEqual(run.status, .ok)
        XCTAssertEqual(run.logs.messages(at: .info), [
            "listen=unset,unset notify=unset watchdog=unset",
            "inherited=yes extra=from config",
            "store=s run=1 flags=download-hierarchy,download-contents trigger=on-demand",
            "stdin=eof",
            "/tmp",
        ])
    }

    func testFileSecret_reachesTheCommandThroughSecretEnv() async throws {
        let file = Self.temporaryPath("secret")
        try "s3cret\n".write(toFile: file, atomically: false, encoding: .utf8)
        defer { unlink(file) }
        let provider = try Self.shellProvider("test \"$TOKEN\" = s3cret && echo \"token=$TOKEN\" && echo \"warning cannot log in as token=$TOKEN\"", options: """
            secret_env = { TOKEN = { file = "\(file)" } }
            """)
        let run = try await Self.run(provider)
        XCTAssertEqual(run.status, .ok, "the command got the secret without its trailing newline")
        // What the command echoes of it reaches neither the journal nor viewers.
        XCTAssertEqual(run.logs.messages(at: .info), ["token=[secret]"])
        XCTAssertFalse("\(run.events)".contains("s3cret"), "\(run.events)")
        XCTAssertTrue("\(run.events)".contains("cannot log in as token=[secret]"), "\(run.events)")
    }

    func testMissingSecretFile_reportsConfigErrorNamingIt_andDoesNotRunTheCommand() async throws {
        let file = Self.temporaryPath("missing-secret")
        let provider = try Self.shellProvider("echo ran", options: """
            [store.s.secret_env]
            TOKEN = { file = "\(file)" }
            """)
        let run = try await Self.run(provider)
        XCTAssertEqual(run.status, .config)
        XCTAssertEqual(run.events.count, 1)
        guard case .error(.config, let message)? = run.events.first else { return XCTFail("\(run.events)") }
        XCTAssertTrue(message.contains(file), message)
        XCTAssertTrue(message.contains("TOKEN"), message)
        XCTAssertFalse(run.logs.messages(at: .info).contains("ran"))
    }

    // MARK: Configuration mistakes

    func testConfigMistakes_nameKeyAndLine() {
        let cases: [(body: String, key: String, line: Int, message: String)] = [
            ("grace = \"1s\"\n", "store.s.command", 1, "is required"),
            ("command = \"mbsync -a\"\n", "store.s.command", 3, "expected an array of strings"),
            ("command = []\n", "store.s.command", 3, "expected the program"),
            ("command = [\"true\"]\ngrase = \"1s\"\n", "store.s.grase", 4, "unknown key"),
            ("command = [\"true\"]\ngrace = \"soon\"\n", "store.s.grace", 4, "expected a duration"),
            ("command = [\"true\"]\nworking_directory = \"tmp\"\n", "store.s.working_directory", 4, "absolute path"),
            ("command = [\"true\"]\nsecret_env = { TOKEN = \"plain\" }\n", "store.s.secret_env.TOKEN", 4, "a secret must be"),
            ("command = [\"true\"]\n\n[store.s.secret_env]\nTOKEN = { file = \"/p\" }\nTYPO = { fiel = \"/p\" }\n",
             "store.s.secret_env.TYPO.fiel", 7, "unknown secret source"),
        ]
        for (body, key, line, message) in cases {
            do {
                _ = try Self.provider(body)
                XCTFail("accepted: \(body)")
            } catch let error as ConfigError {
                XCTAssertEqual(error.file, "test.toml")
                XCTAssertEqual(error.key, key, "\(body)")
                XCTAssertEqual(error.line, line, "\(body)")
                XCTAssertTrue(error.message.contains(message), "\(error)")
            } catch {
                XCTFail("unexpected \(error) for \(body)")
            }
        }
    }
}

// MARK: - Helpers

extension ExecProviderTests {
    struct Outcome {
        var status: SyncStatus
        /// The run's events as the viewer saw them, without its Done.
        var events: [SyncEvent.Kind]
        var logs: LogRecords
        var elapsed: Duration
    }

    /// An exec provider for store "s", through the configuration parser. `body` follows the
    /// `provider = "exec"` line, which is line 2.
    static func provider(_ body: String) throws -> any StoreProvider {
        let text = "[store.s]\nprovider = \"exec\"\n" + body
        let config = try DaemonConfig.parse(text, file: "test.toml", factories: [ExecFactory()])
        return try XCTUnwrap(config.stores["s"]).provider
    }

    /// A provider running `script` with `/bin/sh -c`; `options` follow the command.
    static func shellProvider(_ script: String, options: String = "") throws -> any StoreProvider {
        try provider("command = [\"/bin/sh\", \"-c\", '''\n\(script)''']\n" + options)
    }

    static func runScript(_ script: String) async throws -> Outcome {
        try await run(try shellProvider(script))
    }

    /// Runs `provider` to the end, as the host would, and collects what a viewer saw.
    static func run(_ provider: any StoreProvider) async throws -> Outcome {
        try await withHarness { harness in
            let clock = ContinuousClock()
            let start = clock.now
            let status = try await harness.start(provider).value
            let elapsed = clock.now - start
            return Outcome(status: status, events: try await harness.finish(status), logs: harness.logs, elapsed: elapsed)
        }
    }

    static func withHarness<T>(_ body: (Harness) async throws -> T) async throws -> T {
        let harness = try await Harness.start()
        do {
            let result = try await body(harness)
            await harness.stop()
            return result
        } catch {
            await harness.stop()
            throw error
        }
    }

    static func temporaryPath(_ name: String) -> String {
        "/tmp/sx-\(name)-\(UInt32.random(in: 0...UInt32.max))"
    }

    static func openDescriptorCount() throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count
    }

    /// True while `pid` exists and is not a zombie (an orphaned zombie waits for init, which in a
    /// container may never reap it; it runs no more).
    static func isRunning(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else {
            return false
        }
        let state = stat.split(separator: ")").last?.split(separator: " ").first
        return state != "Z"
    }

    static func waitUntilGone(_ pid: pid_t, file: StaticString = #filePath, line: UInt = #line) async throws {
        let deadline = ContinuousClock.now + .seconds(2)
        while isRunning(pid), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        XCTAssertFalse(isRunning(pid), "process \(pid) was left running", file: file, line: line)
        if isRunning(pid) { kill(pid, SIGKILL) }
    }

    /// A real server on a short socket path, a viewer subscribed to it, and the callback for run 1
    /// of store "s", with its log captured.
    final class Harness: Sendable {
        let server: SyncServer
        let client: SyncClient
        let reporter: RunReporter
        let callback: SyncCallback
        let logs = LogRecords()
        private let events = Mutex<[SyncEvent.Kind]>([])
        private let collector = Mutex<Task<Void, Never>?>(nil)

        static func start() async throws -> Harness {
            let path = "/tmp/sx-\(UInt32.random(in: 0...UInt32.max)).sock"
            var serverLogger = Logger(label: "test.server")
            serverLogger.logLevel = .critical
            let server = SyncServer(configuration: .init(listener: .path(path), logger: serverLogger))
            try await server.start()
            let client = try await SyncClient.connect(to: path, clientName: "exec-test")
            let (_, updates) = try await client.subscribe()
            let harness = Harness(server: server, client: client)
            harness.collect(updates)
            return harness
        }

        private init(server: SyncServer, client: SyncClient) {
            self.server = server
            self.client = client
            self.reporter = server.reporter(store: "s", run: 1)
            let logs = self.logs
            self.callback = SyncCallback(reporter: reporter, logger: Logger(label: "test") { _ in CapturingLogHandler(logs) })
        }

        private func collect(_ updates: AsyncThrowingStream<ViewerUpdate, Error>) {
            let task = Task {
                do {
                    for try await update in updates {
                        if case .event(let event) = update, event.store == "s", event.run == 1 {
                            self.events.withLock { $0.append(event.kind) }
                        }
                    }
                } catch {}  // the connection closed: the test is over
            }
            collector.withLock { $0 = task }
        }

        /// Starts a run with flags download-hierarchy,download-contents, triggered on demand.
        func start(_ provider: any StoreProvider) -> Task<SyncStatus, Error> {
            let request = SyncRequest(store: "s", run: 1, flags: [.downloadHierarchy, .downloadContents], trigger: .onDemand)
            let callback = self.callback
            return Task { try await provider.synchronize(request, callback: callback) }
        }

        /// Waits for the run's first progress event and returns its step text.
        func waitForProgress() async throws -> String {
            try await waitFor("a progress event") { events in
                for case .progress(let step, _, _) in events { return step ?? "" }
                return nil
            }
        }

        /// Reports Done as the host would, and returns the run's events before it.
        func finish(_ status: SyncStatus) async throws -> [SyncEvent.Kind] {
            reporter.done(status)
            return try await waitFor("Done") { events in
                events.last == .done(result: status) ? Array(events.dropLast()) : nil
            }
        }

        func stop() async {
            await client.close()
            await server.stop()
            collector.withLock { $0?.cancel() }
        }

        private func waitFor<T>(_ what: String, timeout: Duration = .seconds(10),
                                _ found: ([SyncEvent.Kind]) -> T?) async throws -> T {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if let result = found(events.withLock { $0 }) { return result }
                try await Task.sleep(for: .milliseconds(5))
            }
            throw HarnessError(description: "timed out waiting for \(what); events: \(events.withLock { $0 })")
        }
    }

    struct HarnessError: Error, CustomStringConvertible {
        var description: String
    }

    /// Log lines captured from the run's logger.
    final class LogRecords: Sendable {
        private let records = Mutex<[(level: Logger.Level, message: String)]>([])

        func append(_ level: Logger.Level, _ message: String) {
            records.withLock { $0.append((level, message)) }
        }

        func messages(at level: Logger.Level) -> [String] {
            records.withLock { $0.filter { $0.level == level }.map(\.message) }
        }
    }

    struct CapturingLogHandler: LogHandler {
        let records: LogRecords
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        init(_ records: LogRecords) { self.records = records }

        func log(event: LogEvent) {
            records.append(event.level, event.message.description)
        }

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
    }
}
