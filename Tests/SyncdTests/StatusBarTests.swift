#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TestSupport
import XCTest

/// `syncctl watch --format waybar|i3bar|i3blocks|line` and `syncctl wait`, against a real syncd,
/// with the output read back the way the bars read it: waybar's custom-module JSON keys and
/// types, the i3bar protocol as an incrementally parsed JSON stream, and i3blocks itself (when
/// installed) running syncctl as a persistent block.
final class StatusBarTests: XCTestCase {
    static let stores = """
        [store.mail]
        provider = "synthetic"
        steps = 40
        rate = 20
        step_text = "message"
        run_at_startup = false

        [store.fails]
        provider = "synthetic"
        steps = 5
        rate = 100
        result = "network"
        run_at_startup = false
        """

    static let exitStores = """
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

        [store.errors-but-ok]
        provider = "synthetic"
        steps = 10
        rate = 100
        error_every = 5
        result = "ok"
        run_at_startup = false

        [store.fails]
        provider = "synthetic"
        steps = 5
        rate = 100
        result = "network"
        run_at_startup = false

        [store.slow]
        provider = "synthetic"
        steps = 100
        rate = 20
        run_at_startup = false
        """

    // MARK: waybar

    func testWaybar_idleSyncingDone_errorAndPaused_asWaybarReadsThem() async throws {
        let daemon = try DaemonProcess(config: Self.stores)
        try await daemon.start()
        let bar = try BarProcess(["watch", "--format", "waybar"], daemon: daemon)
        defer { bar.stop() }

        var at = try await bar.next("the idle state") { Self.waybar($0)?["class"] as? String == "idle" }
        XCTAssertEqual(Self.waybar(bar.lines[at])?["text"] as? String, "✓")
        _ = try await ctl(["sync", "mail"], daemon)
        at = try await bar.next(after: at, "mail syncing with a percentage") { line in
            guard let object = Self.waybar(line), object["class"] as? String == "syncing" else { return false }
            return (object["text"] as? String)?.hasPrefix("⟳ mail ") == true && (object["percentage"] as? Int ?? 0) > 0
        }
        let syncing = try XCTUnwrap(Self.waybar(bar.lines[at]))
        XCTAssertTrue((syncing["text"] as? String)?.hasSuffix("%") == true, "\(syncing)")
        XCTAssertEqual(syncing["alt"] as? String, "syncing")
        let tooltip = try XCTUnwrap(syncing["tooltip"] as? String)
        XCTAssertEqual(tooltip.split(separator: "\n").count, 2, "a line per store: \(tooltip)")
        XCTAssertTrue(tooltip.contains("mail: syncing "), tooltip)
        XCTAssertTrue(tooltip.contains("fails: idle, never run, on demand only"), tooltip)
        at = try await bar.next(after: at, "mail done") { Self.waybar($0)?["class"] as? String == "idle" }
        let done = try XCTUnwrap(Self.waybar(bar.lines[at]))
        XCTAssertEqual(done["text"] as? String, "✓")
        XCTAssertEqual(done["percentage"] as? Int, 0)
        XCTAssertTrue((done["tooltip"] as? String)?.contains("mail: idle, last ok at ") == true, "\(done)")

        _ = try await ctl(["sync", "fails"], daemon)
        at = try await bar.next(after: at, "the error class") { Self.waybar($0)?["class"] as? String == "error" }
        let failed = try XCTUnwrap(Self.waybar(bar.lines[at]))
        XCTAssertEqual(failed["text"] as? String, "✗ fails")
        XCTAssertTrue((failed["tooltip"] as? String)?.contains("fails: error, last network error [network] at ") == true, "\(failed)")

        _ = try await ctl(["pause", "mail", "fails"], daemon)
        at = try await bar.next(after: at, "the paused class") { Self.waybar($0)?["class"] as? String == "paused" }
        _ = try await ctl(["resume", "mail", "fails"], daemon)
        _ = try await bar.next(after: at, "the error again") { Self.waybar($0)?["class"] as? String == "error" }

        let lines = bar.lines
        for line in lines { try Self.checkWaybar(line) }
        XCTAssertEqual(zip(lines, lines.dropFirst()).filter { $0 == $1 }.count, 0, "a line only when the output changes: \(lines)")
        XCTAssertEqual(bar.stderr, "")
    }

    /// A refused login is not one more error: someone has to log in, so the class says so.
    func testARefusedLogin_isAuthRequired() async throws {
        let daemon = try DaemonProcess(config: """
            [store.mail]
            provider = "synthetic"
            steps = 5
            rate = 100
            result = "auth-failed"
            run_at_startup = false
            """)
        try await daemon.start()
        let bar = try BarProcess(["watch", "--format", "waybar"], daemon: daemon)
        defer { bar.stop() }
        let at = try await bar.next("idle") { Self.waybar($0)?["class"] as? String == "idle" }
        _ = try await ctl(["sync", "mail"], daemon)
        let refused = try await bar.next(after: at, "auth-required") { Self.waybar($0)?["class"] as? String == "auth-required" }
        let object = try XCTUnwrap(Self.waybar(bar.lines[refused]))
        XCTAssertEqual(object["text"] as? String, "✗ mail: log in")
        XCTAssertEqual(object["alt"] as? String, "auth-required")
        XCTAssertTrue((object["tooltip"] as? String)?.hasPrefix("mail: auth-required, last authentication failed [auth-failed] at ") == true, "\(object)")
        for line in bar.lines { try Self.checkWaybar(line) }
    }

    /// NewMessages events add up in the text ("✓ ✉ 3") and are named in the store's tooltip line.
    func testNewMail_isCountedInTheText_andNamedInTheTooltip() async throws {
        let daemon = try DaemonProcess(config: """
            [store.mail]
            provider = "synthetic"
            steps = 3
            rate = 100
            new_messages = 3
            run_at_startup = false
            """)
        try await daemon.start()
        let bar = try BarProcess(["watch", "--format", "waybar"], daemon: daemon)
        defer { bar.stop() }
        var at = try await bar.next("idle, nothing new") { Self.waybar($0)?["text"] as? String == "✓" }
        _ = try await ctl(["sync", "--wait", "mail"], daemon)
        at = try await bar.next(after: at, "3 new") { Self.waybar($0)?["text"] as? String == "✓ ✉ 3" }
        let tooltip = try XCTUnwrap(Self.waybar(bar.lines[at])?["tooltip"] as? String)
        XCTAssertTrue(tooltip.hasPrefix("mail: idle, last ok at "), tooltip)
        XCTAssertTrue(tooltip.contains(", 3 new since "), tooltip)
        XCTAssertTrue(tooltip.contains(", the latest from Synthetic Sender &lt;synthetic@example.org&gt;: Synthetic message 3 of run "), tooltip)
        _ = try await ctl(["sync", "--wait", "mail"], daemon)
        _ = try await bar.next(after: at, "6 new after the second run") { Self.waybar($0)?["text"] as? String == "✓ ✉ 6" }
        for line in bar.lines { try Self.checkWaybar(line) }

        // The plain line says where.
        let plain = try BarProcess(["watch", "--format", "line"], daemon: daemon)
        defer { plain.stop() }
        _ = try await ctl(["sync", "--wait", "mail"], daemon)
        _ = try await plain.next("the line names the store") { $0 == "idle: 1 store; new: 3 in mail" }
    }

    // MARK: i3bar

    func testI3bar_aHeaderThenAnEndlessArray_parsedIncrementally() async throws {
        let daemon = try DaemonProcess(config: Self.stores)
        try await daemon.start()
        let bar = try BarProcess(["watch", "--format", "i3bar"], daemon: daemon)
        defer { bar.stop() }
        var at = try await bar.next("the first update") { $0.hasPrefix("[{") }
        _ = try await ctl(["sync", "mail"], daemon)
        at = try await bar.next(after: at, "mail syncing") { $0.contains("\"full_text\":\"⟳ mail ") }
        at = try await bar.next(after: at, "mail done") { $0.contains("\"full_text\":\"✓\"") }
        _ = try await ctl(["sync", "fails"], daemon)
        _ = try await bar.next(after: at, "fails failed") { $0.contains("\"full_text\":\"✗ fails\"") }
        bar.stop()

        let stream = try Self.parseI3bar(bar.output)
        XCTAssertEqual(stream.header["version"] as? Int, 1)
        let blocks = stream.updates.map { update -> [String: Any] in
            XCTAssertEqual(update.count, 1, "one block per update")
            return update.first ?? [:]
        }
        for block in blocks {
            XCTAssertEqual(block["name"] as? String, "syncd")
            XCTAssertEqual(block["instance"] as? String, "all")
            XCTAssertNotNil(block["short_text"] as? String)
        }
        let texts = blocks.compactMap { $0["full_text"] as? String }
        XCTAssertEqual(texts.first, "✓")
        XCTAssertTrue(texts.contains { $0.hasPrefix("⟳ mail ") && $0.hasSuffix("%") }, "\(texts)")
        XCTAssertEqual(texts.last, "✗ fails")
        XCTAssertEqual(blocks.last?["color"] as? String, "#FF5F5F")
        XCTAssertNil(blocks.first?["color"], "idle keeps the bar's own colour")
        XCTAssertNotNil(blocks.first { ($0["full_text"] as? String)?.hasPrefix("⟳") == true }?["color"] as? String)
    }

    // MARK: i3blocks

    /// Each update is one line: with interval=persist, i3blocks reads a single line per update
    /// (a second line would replace the first, not add a short text), so the block is one JSON
    /// object a line, for format=json.
    func testI3blocks_oneLinePerUpdate_andThroughI3blocksItself() async throws {
        let daemon = try DaemonProcess(config: Self.stores)
        try await daemon.start()
        let bar = try BarProcess(["watch", "--format", "i3blocks"], daemon: daemon)
        defer { bar.stop() }
        let at = try await bar.next("the first update") { $0.contains("\"full_text\":\"✓\"") }
        _ = try await ctl(["sync", "fails"], daemon)
        _ = try await bar.next(after: at, "fails failed") { $0.contains("\"full_text\":\"✗ fails\"") }
        for line in bar.lines {
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], line)
            XCTAssertEqual(Set(object.keys).subtracting(["full_text", "short_text", "color", "name", "instance"]), [], line)
            XCTAssertNotNil(object["full_text"] as? String, line)
        }
        bar.stop()

        let i3blocks = "/usr/bin/i3blocks"
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: i3blocks), "needs i3blocks (apt-get install i3blocks)")
        let config = daemon.directory + "/i3blocks.conf"
        try """
            [syncd]
            command=exec '\(try builtProduct("syncctl"))' watch --socket '\(daemon.socket)' --format i3blocks
            interval=persist
            format=json

            """.write(toFile: config, atomically: true, encoding: .utf8)
        let blocks = try BarProcess(executable: i3blocks, ["-c", config], socket: daemon.socket)
        defer { blocks.stop() }
        var seen = try await blocks.next("the block showing the error") { $0.contains("\"full_text\":\"✗ fails\"") }
        _ = try await ctl(["sync", "mail"], daemon)
        seen = try await blocks.next(after: seen, "the block syncing") { $0.contains("\"full_text\":\"⟳ mail") }
        _ = try await blocks.next(after: seen, "the block back to the error") { $0.contains("\"full_text\":\"✗ fails\"") }
        // i3blocks (1.4) ends on SIGTERM only once its persistent blocks have ended, and does not
        // tell them to: here it goes away at once, as a bar that crashed, closing the pipe.
        let child = blocks.children.first
        blocks.stop(signal: SIGKILL)
        let stream = try Self.parseI3bar(blocks.output)
        let ours = stream.updates.compactMap { $0.first { $0["name"] as? String == "syncd" } }
        let texts = ours.compactMap { $0["full_text"] as? String }
        XCTAssertTrue(texts.contains { $0.hasPrefix("⟳ mail") }, "\(texts)")
        XCTAssertEqual(texts.last, "✗ fails")
        XCTAssertEqual(ours.last?["color"] as? String, "#FF5F5F", "the colour came through format=json")
        XCTAssertEqual(ours.last?["short_text"] as? String, "✗")

        // i3blocks is gone: its syncctl ends by itself, though nothing changes to be written.
        let pid = try XCTUnwrap(child, "i3blocks' child")
        let deadline = ContinuousClock.now + .seconds(10)
        while Self.isAlive(pid), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        if Self.isAlive(pid) {
            kill(pid, SIGKILL)
            XCTFail("syncctl still runs after i3blocks went away")
        }
    }

    // MARK: Reconnecting

    func testDisconnectedWhileSyncdIsDown_thenRecovers() async throws {
        let daemon = try DaemonProcess(config: Self.stores)
        // Started before syncd, as a bar at login may be.
        let bar = try BarProcess(["watch", "--format", "waybar"], daemon: daemon)
        defer { bar.stop() }
        var at = try await bar.next("syncd down before it starts") { Self.waybar($0)?["class"] as? String == "disconnected" }
        XCTAssertEqual(Self.waybar(bar.lines[at])?["text"] as? String, "syncd down")
        try await daemon.start()
        at = try await bar.next(after: at, "idle once syncd is up") { Self.waybar($0)?["class"] as? String == "idle" }

        daemon.signal(SIGTERM)
        _ = try await daemon.waitForExit()
        at = try await bar.next(after: at, "syncd down after it stopped") { Self.waybar($0)?["class"] as? String == "disconnected" }
        try await daemon.start()
        at = try await bar.next(after: at, "idle again") { Self.waybar($0)?["class"] as? String == "idle" }
        _ = try await ctl(["sync", "mail"], daemon)
        _ = try await bar.next(after: at, "the new daemon's run") { Self.waybar($0)?["class"] as? String == "syncing" }
        XCTAssertTrue(bar.isRunning, "watch lives through the outage")
        XCTAssertEqual(bar.stderr, "", "reconnects silently")
        for line in bar.lines { try Self.checkWaybar(line) }
    }

    // MARK: Coalescing

    /// A store reporting thousands of steps in two seconds: what the bar gets is a few lines a
    /// second, while a --json viewer of the same run sees many events.
    func testAFastStore_isAFewLinesASecond() async throws {
        let daemon = try DaemonProcess(config: """
            [store.fast]
            provider = "synthetic"
            steps = 6000
            rate = 3000
            run_at_startup = false
            """)
        try await daemon.start()
        let bar = try BarProcess(["watch", "--format", "waybar"], daemon: daemon)
        defer { bar.stop() }
        let events = try BarProcess(["watch", "--json"], daemon: daemon)
        defer { events.stop() }
        let at = try await bar.next("idle") { Self.waybar($0)?["class"] as? String == "idle" }
        _ = try await events.next("the snapshot") { $0.contains("\"type\":\"snapshot\"") }
        let started = ContinuousClock.now
        _ = try await ctl(["sync", "fast"], daemon)
        let end = try await bar.next(after: at, timeout: .seconds(60), "done") { Self.waybar($0)?["class"] as? String == "idle" }
        let took = ContinuousClock.now - started
        _ = try await events.next(timeout: .seconds(30), "the done event") { $0.contains("\"type\":\"done\"") }
        let progress = events.lines.filter { $0.contains("\"type\":\"progress\"") }.count
        let lines = bar.lines[(at + 1)...end]
        let seconds = Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18
        print("a fast store: \(progress) progress events to a --json viewer, \(lines.count) waybar lines, in \(String(format: "%.1f", seconds))s")
        XCTAssertGreaterThan(lines.count, 2, "the bar moved: \(lines)")
        XCTAssertLessThanOrEqual(Double(lines.count), seconds * 4 + 3, "at most 4 a second over \(seconds)s: \(lines.count) lines")
        XCTAssertGreaterThan(progress, lines.count * 5, "the run sent many more events than the bar printed lines")
        let times = bar.times[(at + 1)...end]
        let gaps = zip(times, times.dropFirst()).map { $1 - $0 }
        XCTAssertLessThanOrEqual(gaps.filter { $0 < .milliseconds(150) }.count, 2, "lines are spaced: \(gaps)")
    }

    /// The reader of a bar's output goes away while nothing changes: syncctl notices on its own
    /// (there is no write to fail) and ends quietly.
    func testReaderGoneWhileIdle_exitsQuietly() async throws {
        let daemon = try DaemonProcess(config: Self.stores)
        try await daemon.start()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try builtProduct("syncctl"))
        process.arguments = ["watch", "--format", "line", "--socket", daemon.socket]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        let first = await SyncctlTests.readLine(out.fileHandleForReading)
        XCTAssertEqual(first, "idle: 2 stores\n")
        try out.fileHandleForReading.close()
        let deadline = ContinuousClock.now + .seconds(10)
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        XCTAssertFalse(process.isRunning, "still runs with nobody reading")
        guard !process.isRunning else { return }
        XCTAssertEqual(process.terminationReason, .exit)
        XCTAssertEqual(process.terminationStatus, 0)
        let stderr = await SyncctlTests.readToEnd(err.fileHandleForReading)
        XCTAssertEqual(String(decoding: stderr, as: UTF8.self), "")
    }

    // MARK: wait

    func testWaitUntilDone_exitsWithTheRunsStatus() async throws {
        let daemon = try DaemonProcess(config: Self.exitStores)
        try await daemon.start()
        for (store, expected) in [("ok", 0), ("warns", 2), ("errors-but-ok", 2), ("fails", 3)] as [(String, Int32)] {
            let socket = daemon.socket
            async let waiting = SyncctlTests.syncctl(["wait", store, "--until", "done"], socket: socket)
            try await Task.sleep(for: .seconds(1))  // subscribed by then
            let sync = try await ctl(["sync", store], daemon)
            XCTAssertEqual(sync.status, 0, sync.stderr)
            let waited = try await waiting
            XCTAssertEqual(waited.status, expected, "\(store): \(waited.stderr)")
            XCTAssertEqual(waited.stdout, "")
            if expected != 0 { XCTAssertTrue(waited.stderr.hasPrefix("syncctl: \(store): run "), waited.stderr) }
        }

        // A run in progress is the next one to end; the worst of several stores.
        _ = try await ctl(["sync", "slow"], daemon)
        try await Task.sleep(for: .milliseconds(300))
        let socket = daemon.socket
        async let both = SyncctlTests.syncctl(["wait", "slow", "ok", "--until", "done"], socket: socket)
        try await Task.sleep(for: .seconds(1))
        _ = try await ctl(["sync", "ok"], daemon)
        _ = try await ctl(["cancel", "slow"], daemon)
        let cancelled = try await both
        XCTAssertEqual(cancelled.status, 4, cancelled.stderr)
        XCTAssertTrue(cancelled.stderr.contains("slow: run "), cancelled.stderr)

        // Waiting goes on across a restart of syncd: the next run is the new daemon's.
        async let acrossRestart = SyncctlTests.syncctl(["wait", "ok", "--until", "done"], socket: socket)
        try await Task.sleep(for: .seconds(1))
        daemon.signal(SIGTERM)
        _ = try await daemon.waitForExit()
        try await Task.sleep(for: .milliseconds(300))
        try await daemon.start()
        try await Task.sleep(for: .seconds(1))  // reconnected by then
        _ = try await ctl(["sync", "ok"], daemon)
        let restarted = try await acrossRestart
        XCTAssertEqual(restarted.status, 0, restarted.stderr)
        XCTAssertEqual(restarted.stderr, "")

        let timedOut = try await ctl(["wait", "ok", "--until", "done", "--timeout", "0.5"], daemon)
        XCTAssertEqual(timedOut.status, 124)
        XCTAssertEqual(timedOut.stderr, "syncctl: timed out after 0.5s waiting for the next runs to end\n")
        let unnamed = try await ctl(["wait", "--until", "done"], daemon)
        XCTAssertEqual(unnamed.status, 64)
        let unknown = try await ctl(["wait", "nope", "--until", "done"], daemon)
        XCTAssertEqual(unknown.status, 1)
        XCTAssertTrue(unknown.stderr.hasPrefix("syncctl: no store named 'nope'"), unknown.stderr)
    }

    func testWaitUntilIdle_returnsWhenNothingRuns() async throws {
        let daemon = try DaemonProcess(config: Self.exitStores)
        let down = try await ctl(["wait"], daemon)
        XCTAssertEqual(down.status, 69, "syncd not running: \(down.stderr)")
        try await daemon.start()
        var started = ContinuousClock.now
        let idle = try await ctl(["wait", "--until", "idle"], daemon)
        XCTAssertEqual(idle.status, 0, idle.stderr)
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(5), "nothing runs: at once")

        _ = try await ctl(["sync", "slow"], daemon)  // 5 s
        try await Task.sleep(for: .milliseconds(300))
        started = ContinuousClock.now
        let waited = try await ctl(["wait"], daemon)
        XCTAssertEqual(waited.status, 0, waited.stderr)
        XCTAssertEqual(waited.stdout + waited.stderr, "")
        XCTAssertGreaterThan(ContinuousClock.now - started, .seconds(1), "it waited for the run")
        let status = try await ctl(["status", "slow", "--json"], daemon)
        let document = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        let store = (document?["stores"] as? [[String: Any]])?.first
        XCTAssertEqual(store?["state"] as? String, "idle", status.stdout)
        XCTAssertEqual((store?["last_result"] as? [String: Any])?["name"] as? String, "ok", status.stdout)

        // Only the named stores count.
        _ = try await ctl(["sync", "slow"], daemon)
        started = ContinuousClock.now
        let other = try await ctl(["wait", "ok", "--until", "idle"], daemon)
        XCTAssertEqual(other.status, 0, other.stderr)
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(2), "slow runs, ok does not")
        let timedOut = try await ctl(["wait", "slow", "--timeout", "0.3"], daemon)
        XCTAssertEqual(timedOut.status, 124, timedOut.stderr)
        _ = try await ctl(["cancel", "slow"], daemon)
    }

    // MARK: Helpers

    private func ctl(_ arguments: [String], _ daemon: DaemonProcess) async throws -> SyncctlTests.Output {
        try await SyncctlTests.syncctl(arguments, socket: daemon.socket)
    }

    /// A line as waybar's custom module parses it, nil if it is no JSON object.
    static func waybar(_ line: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
    }

    /// What waybar's custom module reads from a line with `return-type: json`: text, alt and
    /// tooltip as strings (Pango markup), class a string or an array of strings, percentage a
    /// number; nothing else.
    static func checkWaybar(_ line: String, file: StaticString = #filePath, lineNumber: UInt = #line) throws {
        let object = try XCTUnwrap(waybar(line), "not a JSON object: \(line)", file: file, line: lineNumber)
        XCTAssertEqual(Set(object.keys), ["text", "alt", "tooltip", "class", "percentage"], line, file: file, line: lineNumber)
        for key in ["text", "alt", "tooltip"] {
            let value = try XCTUnwrap(object[key] as? String, "\(key) is a string: \(line)", file: file, line: lineNumber)
            XCTAssertTrue(isPangoText(value), "\(key) is Pango markup with nothing unescaped: \(value)", file: file, line: lineNumber)
        }
        XCTAssertTrue(object["class"] is String || object["class"] is [String], line, file: file, line: lineNumber)
        XCTAssertNotNil(line.range(of: #""percentage":\d{1,3}[,}]"#, options: .regularExpression), "an integer: \(line)",
                        file: file, line: lineNumber)
        let percentage = try XCTUnwrap(object["percentage"] as? Int, file: file, line: lineNumber)
        XCTAssertTrue((0...100).contains(percentage), line, file: file, line: lineNumber)
        XCTAssertFalse(line.contains("\n"), file: file, line: lineNumber)
    }

    /// No markup and no bare `&`: what Pango shows as it is.
    static func isPangoText(_ text: String) -> Bool {
        if text.contains("<") || text.contains(">") { return false }
        return text.components(separatedBy: "&").dropFirst().allSatisfy { part in
            ["amp;", "lt;", "gt;", "quot;", "#39;"].contains { part.hasPrefix($0) }
        }
    }

    /// Parses an i3bar stream as i3bar and swaybar do, incrementally: a header object, then an
    /// array that never closes, whose elements (arrays of block objects) are separated by commas.
    /// Done in Python with json.JSONDecoder.raw_decode, a parser of its own; a stream cut after a
    /// complete element is fine (it never ends).
    static func parseI3bar(_ text: String) throws -> (header: [String: Any], updates: [[[String: Any]]]) {
        let script = #"""
            import json, re, sys
            data = sys.stdin.read()
            decoder = json.JSONDecoder()
            space = re.compile(r"[ \t\r\n]*")
            def skip(i):
                return space.match(data, i).end()
            header, i = decoder.raw_decode(data, skip(0))
            assert isinstance(header, dict) and header.get("version") == 1, "header: %r" % header
            i = skip(i)
            assert data[i:i + 1] == "[", "the body is an array, at %d: %r" % (i, data[i:i + 20])
            i += 1
            updates = []
            while True:
                i = skip(i)
                if updates:
                    if i == len(data):
                        break
                    assert data[i] == ",", "a comma between updates, at %d: %r" % (i, data[i:i + 20])
                    i = skip(i + 1)
                if i == len(data):
                    break
                blocks, i = decoder.raw_decode(data, i)
                assert isinstance(blocks, list), "an update is an array: %r" % blocks
                for block in blocks:
                    assert isinstance(block, dict), block
                    if "full_text" not in block:
                        assert not block, "a block has full_text: %r" % block
                    for key in ("full_text", "short_text", "name", "instance"):
                        assert key not in block or isinstance(block[key], str), (key, block)
                    assert "color" not in block or re.fullmatch(r"#[0-9A-Fa-f]{6}", block["color"]), block
                updates.append(blocks)
            print(json.dumps({"header": header, "updates": updates}))
            """#
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        try input.fileHandleForWriting.write(contentsOf: Data(text.utf8))
        try input.fileHandleForWriting.close()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestError("not an i3bar stream: \(String(decoding: err, as: UTF8.self))\n\(text)")
        }
        let document = try XCTUnwrap(try JSONSerialization.jsonObject(with: out) as? [String: Any])
        return (try XCTUnwrap(document["header"] as? [String: Any]), try XCTUnwrap(document["updates"] as? [[[String: Any]]]))
    }

    static func isAlive(_ pid: pid_t) -> Bool {
        // Ended, or a zombie nobody has reaped yet (it was reparented when i3blocks ended).
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return stat[stat.index(close, offsetBy: 2)] != "Z"
    }
}

/// A long-running program (syncctl watch, i3blocks) whose stdout is read line by line as it
/// comes, with when each line came.
final class BarProcess: @unchecked Sendable {
    let process = Process()
    private let lock = NSLock()
    private var received: [(line: String, time: ContinuousClock.Instant)] = []
    private var rest = Data()
    private var all = Data()
    private let out = Pipe()
    private let errorFile: String
    private let readerDone = DispatchSemaphore(value: 0)

    convenience init(_ arguments: [String], daemon: DaemonProcess) throws {
        try self.init(executable: try builtProduct("syncctl"), arguments, socket: daemon.socket)
    }

    init(executable: String, _ arguments: [String], socket: String) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["SYNCD_SOCKET"] = socket
        process.environment = environment
        errorFile = NSTemporaryDirectory() + "/bar-stderr-\(UInt32.random(in: 0...UInt32.max))"
        _ = FileManager.default.createFile(atPath: errorFile, contents: nil)
        process.standardOutput = out
        process.standardError = FileHandle(forWritingAtPath: errorFile)
        try process.run()
        let handle = out.fileHandleForReading
        // A thread of its own: a blocking read must not hold one of the concurrency pool's threads.
        Thread.detachNewThread { [self] in
            defer { readerDone.signal() }
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { return }
                lock.withLock {
                    all += chunk
                    rest += chunk
                    while let newline = rest.firstIndex(of: UInt8(ascii: "\n")) {
                        received.append((String(decoding: rest[rest.startIndex..<newline], as: UTF8.self), .now))
                        rest = Data(rest[(newline + 1)...])
                    }
                }
            }
        }
    }

    var lines: [String] { lock.withLock { received.map(\.line) } }
    var times: [ContinuousClock.Instant] { lock.withLock { received.map(\.time) } }
    /// Everything read so far, as it came.
    var output: String { lock.withLock { String(decoding: all, as: UTF8.self) } }
    var stderr: String { (try? String(contentsOfFile: errorFile, encoding: .utf8)) ?? "" }
    var isRunning: Bool { process.isRunning }

    /// The program's children, from /proc.
    var children: [pid_t] {
        let pid = process.processIdentifier
        let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
        return text.split(separator: " ").compactMap { pid_t($0) }
    }

    /// Waits for a line after line `after` (from the start: -1) that matches; returns its index.
    func next(after: Int = -1, timeout: Duration = .seconds(20), _ what: String,
              _ predicate: @escaping @Sendable (String) -> Bool) async throws -> Int {
        let deadline = ContinuousClock.now + timeout
        while true {
            let lines = self.lines
            if let index = lines.indices.first(where: { $0 > after && predicate(lines[$0]) }) { return index }
            guard ContinuousClock.now < deadline else {
                throw TestError("timed out waiting for \(what); lines: \(lines.suffix(10)); stderr: \(stderr)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Ends the program (if it still runs) and reads what it wrote to the end.
    func stop(signal: Int32 = SIGTERM) {
        if process.isRunning {
            kill(process.processIdentifier, signal)
            process.waitUntilExit()
        }
        if readerDone.wait(timeout: .now() + 5) == .success { readerDone.signal() }
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: errorFile)
    }
}
