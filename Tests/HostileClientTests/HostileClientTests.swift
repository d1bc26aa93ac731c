#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SyncIPC
import SyncProtocol
import TestSupport
import XCTest

/// The real daemon under a hostile local user and faults. Slow by design (tens of thousands of
/// connections, a fuzzer, a million events); each test prints its figures.
final class HostileClientTests: XCTestCase {
    static let demoStore = """
        [store.demo]
        provider = "synthetic"
        steps = 20
        rate = 200
        run_at_startup = false
        """

    /// The daemon's resident set, from /proc.
    static func rss(_ pid: Int32) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kb = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { return 0 }
        return kb * 1024
    }

    static func megabytes(_ bytes: Int) -> String { String(format: "%.1f MB", Double(bytes) / 1_048_576) }

    /// Connects, says hello, reads the welcome, closes: one churn cycle, on a plain socket.
    static func churn(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { return false }
        let hello = Array(Frame.encode(.hello(Hello(client: "churn"))).readableBytesView)
        guard send(fd, hello, hello.count, Int32(MSG_NOSIGNAL)) == hello.count else { return false }
        var buffer = [UInt8](repeating: 0, count: 256)
        return recv(fd, &buffer, buffer.count, 0) > 0
    }

    func testConnectionChurn_leavesTheDaemonsMemoryWhereItWas() async throws {
        let daemon = try DaemonProcess(config: Self.demoStore)
        let pid = try await daemon.start().processIdentifier
        for _ in 0..<500 { _ = Self.churn(daemon.socket) }  // warm up allocator pools
        try await Task.sleep(for: .seconds(1))
        let before = Self.rss(pid)
        var ok = 0
        for _ in 0..<20_000 where Self.churn(daemon.socket) { ok += 1 }
        try await Task.sleep(for: .seconds(2))
        let after = Self.rss(pid)
        print("churn: \(ok) of 20000 connect/hello/welcome/close cycles; daemon RSS \(Self.megabytes(before)) before, \(Self.megabytes(after)) after")
        XCTAssertEqual(ok, 20_000)
        XCTAssertLessThan(after - before, 4 * 1_048_576, "each connection leaves memory behind")
        let client = try await daemon.client()
        _ = try await client.status()
    }

    func testSeededFuzzer_crashesNothing_andMemoryStaysBounded() async throws {
        let daemon = try DaemonProcess(config: Self.demoStore)
        let pid = try await daemon.start().processIdentifier
        let before = Self.rss(pid)
        let script = Self.attacker
        let result = runTool("/usr/bin/python3", [script, daemon.socket, "fuzz", "20261201", "100000"])
        XCTAssertEqual(result.status, 0, result.stdout)
        try await Task.sleep(for: .seconds(2))
        let after = Self.rss(pid)
        print("fuzz (seed 20261201): \(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)); daemon RSS \(Self.megabytes(before)) before, \(Self.megabytes(after)) after")
        XCTAssertLessThan(after - before, 16 * 1_048_576)
        let client = try await daemon.client()
        let status = try await client.status()
        XCTAssertEqual(status.stores.map(\.name), ["demo"], "the daemon still answers")
    }

    static var attacker: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("tests/hostile/attacker.py").path
    }

    /// A user outside the control group holds every connection it can, asks for huge error
    /// histories and floods pauses, while a member's status and pause keep answering within 1 s.
    func testUnprivilegedUser_cannotLockOutTheControlGroup() async throws {
        try XCTSkipUnless(getuid() == 0, "creating users needs root")
        let tag = UInt16.random(in: 1000...9999)
        let outsider = "syncdevil\(tag)", flooder = "syncdflood\(tag)", member = "syncdops\(tag)", group = "syncdctl\(tag)"
        XCTAssertEqual(runTool("/usr/sbin/groupadd", ["--system", group]).status, 0)
        defer { _ = runTool("/usr/sbin/groupdel", [group]) }
        for (user, groups) in [(outsider, [String]()), (flooder, []), (member, [group])] {
            let extra = groups.isEmpty ? [] : ["-G", groups.joined(separator: ",")]
            XCTAssertEqual(runTool("/usr/sbin/useradd", ["--system", "--no-create-home"] + extra + [user]).status, 0)
        }
        defer {
            for user in [outsider, flooder, member] { _ = runTool("/usr/sbin/userdel", [user]) }
        }
        let daemon = try DaemonProcess(config: """
            [daemon]
            socket_mode = "0666"
            control_group = "\(group)"

            """ + Self.demoStore)
        let pid = try await daemon.start().processIdentifier
        chmod(daemon.directory, 0o755)
        let before = Self.rss(pid)

        // 1. Hold 300 connections (the daemon has 256 places).
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
        holder.arguments = ["-u", outsider, "--", "/usr/bin/python3", Self.attacker, daemon.socket, "hold", "300"]
        let holdIn = Pipe(), holdOut = Pipe()
        holder.standardInput = holdIn
        holder.standardOutput = holdOut
        try holder.run()
        defer {
            try? holdIn.fileHandleForWriting.close()
            holder.waitUntilExit()
        }
        let held = String(decoding: holdOut.fileHandleForReading.availableData, as: UTF8.self)
        print("outsider holding connections: \(held.trimmingCharacters(in: .whitespacesAndNewlines))")
        XCTAssertTrue(held.contains("\"held\": 8"), "one watch-only user gets max_viewers_per_user connections: \(held)")

        // 2. and 3. at once, by another outsider: 20 pipelined 64 KB Errors requests, 10 000
        // pipelined pauses.
        let socket = daemon.socket, script = Self.attacker
        let errors = Task.detached {
            runTool("/usr/sbin/runuser", ["-u", flooder, "--", "/usr/bin/python3", script, socket, "errors", "20"], mergeStandardError: true)
        }
        let pauses = Task.detached {
            runTool("/usr/sbin/runuser", ["-u", flooder, "--", "/usr/bin/python3", script, socket, "pause", "10000"])
        }
        var worst = Duration.zero
        var peak = 0
        for round in 0..<10 {
            for command in [["status"], [round % 2 == 0 ? "pause" : "resume", "demo"]] {
                let started = ContinuousClock.now
                let result = runTool("/usr/sbin/runuser", ["-u", member, "--", try builtProduct("syncctl"), "--socket", daemon.socket] + command)
                let took = ContinuousClock.now - started
                if took > .milliseconds(500) { print("slow: syncctl \(command.joined(separator: " ")) took \(took) in round \(round)") }
                worst = max(worst, took)
                XCTAssertEqual(result.status, 0, "\(command): \(result.stdout)")
            }
            peak = max(peak, Self.rss(pid))
        }
        let errorsResult = await errors.value
        let pausesResult = await pauses.value
        print("outsider errors flood: \(errorsResult.stdout.trimmingCharacters(in: .whitespacesAndNewlines)); pause flood: \(pausesResult.stdout.trimmingCharacters(in: .whitespacesAndNewlines))")
        print("control-group member under attack: slowest of 20 syncctl status/pause/resume \(worst); daemon RSS \(Self.megabytes(before)) before, peak \(Self.megabytes(peak))")
        // Each figure includes starting runuser and syncctl, in a debug build, with the attackers
        // on the same two cores; the daemon's own answer is a fraction of it.
        XCTAssertLessThan(worst, .seconds(2))
        XCTAssertLessThan(peak - before, 64 * 1_048_576, "an outsider's requests cost bounded memory")
        XCTAssertTrue(pausesResult.stdout.contains("\"replies\": 10000"), "every pause is answered (denied): \(pausesResult.stdout)")
    }

    /// More than a million events in one run, then kill -9: no sequence number is handed out twice.
    func testKill9AfterAMillionEvents_neverReusesASequenceNumber() async throws {
        let daemon = try DaemonProcess(config: """
            [store.storm]
            provider = "synthetic"
            steps = 5000000
            rate = 150000
            warn_every = 1
            run_at_startup = false
            """)
        let arguments = ["--config", daemon.configPath, "--socket", daemon.socket, "--state-dir", daemon.stateDirectory, "--log-level", "error"]
        _ = try daemon.launch(arguments: arguments)
        var client = try await Self.connect(daemon)
        _ = try await client.send(.syncNow(store: "storm", flags: []))
        var handedOut: UInt64 = 0
        let deadline = ContinuousClock.now + .seconds(240)
        while handedOut < 1_100_000, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
            handedOut = try await client.status().seq
        }
        XCTAssertGreaterThanOrEqual(handedOut, 1_100_000, "the storm was too slow to cross 2^20 events")
        daemon.signal(SIGKILL)
        _ = try await daemon.waitForExit()
        _ = try daemon.launch(arguments: arguments)
        client = try await Self.connect(daemon)
        print("kill -9 after seq \(handedOut); the restarted daemon's latest seq is \(client.welcome.seq)")
        XCTAssertGreaterThanOrEqual(client.welcome.seq, handedOut, "numbers already handed out would be handed out again")
        // What status showed lags what was handed out by at most the forwarder's backlog.
        XCTAssertLessThan(client.welcome.seq - handedOut, 2 * EventPublisher.reservationBlock + UInt64(EventPublisher.backlogLimit),
                          "only the reserved block is skipped")
    }

    static func connect(_ daemon: DaemonProcess) async throws -> SyncClient {
        let deadline = ContinuousClock.now + .seconds(20)
        while true {
            do { return try await daemon.client() } catch where ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    /// A full disk: the run whose id cannot be saved does not start, and says why; once there is
    /// room, runs start again and no id or finished run is lost.
    func testFullDisk_noRunStartsWithoutADurableId_andNothingDoneIsLost() async throws {
        try XCTSkipUnless(getuid() == 0, "mounting a tmpfs needs root")
        let daemon = try DaemonProcess(config: Self.demoStore)
        let mount = daemon.directory + "/tiny"
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        XCTAssertEqual(runTool("/bin/mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", mount]).status, 0)
        defer { _ = runTool("/bin/umount", ["-l", mount]) }
        let state = mount + "/state"
        let arguments = ["--config", daemon.configPath, "--socket", daemon.socket, "--state-dir", state]
        _ = try daemon.launch(arguments: arguments)
        let client = try await Self.connect(daemon)
        let (_, updates) = try await client.subscribe()
        _ = try await client.send(.syncNow(store: "demo", flags: []))
        let first = try await events(from: updates) { $0.isDone }
        let firstRun = first.last!.run

        // Fill the disk.
        let filler = mount + "/filler"
        _ = runTool("/bin/dd", ["if=/dev/zero", "of=\(filler)", "bs=4k", "count=1000"])
        _ = try await client.send(.syncNow(store: "demo", flags: []))
        let refused = try await events(from: updates) {
            if case .error(let code, _) = $0.kind { return code == .storage }
            return $0.isRunStarted
        }
        guard case .error(_, let message) = refused.last!.kind else {
            return XCTFail("a run started with no durable id: \(refused.map(\.kind))")
        }
        print("full disk: \(message)")
        XCTAssertTrue(message.contains("cannot save its state"), message)

        // Room again: the next run starts, with a new id, and the first run is still recorded.
        unlink(filler)
        _ = try await Task.sleep(for: .seconds(2))
        _ = try await client.send(.syncNow(store: "demo", flags: []))
        let again = try await events(from: updates, timeout: .seconds(60)) { $0.isDone }
        XCTAssertGreaterThan(again.last!.run, firstRun)
        daemon.signal(SIGKILL)
        _ = try await daemon.waitForExit()
        let saved = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: state + "/state.json"))) as! [String: Any]
        let stores = saved["stores"] as! [String: Any]
        XCTAssertEqual((stores["demo"] as! [String: Any])["runs"] as? Int, 2, "both finished runs are on disk")
    }
}
