import Foundation
import SyncIPC
import SyncProtocol
import TestSupport
import XCTest

/// The dashboard in real headless Chromium (tests/http/dashboard.py drives it over the DevTools
/// protocol): the bar moves during a run, "sync" starts one, a daemon restart is followed live.
final class DashboardTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func testDashboard_barMovesSyncStartsARunAndADaemonRestartIsFollowed() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium") else {
            throw TestError("/usr/bin/chromium is missing: apt-get install chromium (scripts/test installs it)")
        }
        let daemon = try DaemonProcess(config: """
            [store.slow]
            provider = "synthetic"
            steps = 80
            rate = 10
            run_at_startup = false
            """)
        try await daemon.start()
        let token = "0123456789abcdef0123456789abcdef"
        let tokenFile = daemon.directory + "/token"
        _ = FileManager.default.createFile(atPath: tokenFile, contents: Data(token.utf8), attributes: [.posixPermissions: 0o600])
        let bridge = try await BridgeProcess(daemon: daemon, arguments: ["--control-token-file", tokenFile])
        let client = try await daemon.client()
        let (_, updates) = try await client.subscribe()

        let output = daemon.directory + "/dashboard.out"
        let restarted = daemon.directory + "/restarted"
        guard let pid = startTool("/usr/bin/python3", [
            Self.repository.path + "/tests/http/dashboard.py", bridge.url + "/#token=" + token, "slow", daemon.directory, restarted,
        ], outputFile: output) else { throw TestError("could not start dashboard.py") }
        var exited = false
        defer { if !exited { kill(pid, SIGKILL); _ = waitForTool(pid) } }
        func lines() -> [String] { ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init) }
        func step(_ word: String, seconds: Int = 40) async throws -> [String] {
            try await until("dashboard.py to say \(word) (so far: \(lines()))", seconds: seconds) {
                lines().contains { $0.hasPrefix(word) } || waitpid(pid, nil, WNOHANG) == pid
            }
            guard let line = lines().first(where: { $0.hasPrefix(word) }) else {
                exited = true
                throw TestError("dashboard.py ended before \(word): \(lines())")
            }
            return line.split(separator: " ").map(String.init)
        }

        _ = try await step("clicked")
        // The click is the only way a run of this store can start: no schedule, no start-up run.
        let started = try await events(from: updates) { $0.isRunStarted }
        XCTAssertEqual(started.last?.store, "slow")
        if case .runStarted(_, let trigger) = started.last?.kind { XCTAssertEqual(trigger, .onDemand) }

        let shots = try await step("shots")
        let a = try Data(contentsOf: URL(fileURLWithPath: shots[1]))
        let b = try Data(contentsOf: URL(fileURLWithPath: shots[2]))
        XCTAssertEqual(Array(a.prefix(4)), [0x89, 0x50, 0x4E, 0x47], "a PNG")
        XCTAssertNotEqual(a, b, "the two screenshots during the run should differ")
        XCTAssertLessThan(try XCTUnwrap(Double(shots[3])), try XCTUnwrap(Double(shots[4])), "the bar moved forward")

        _ = try await step("restart")
        await client.close()
        daemon.signal(SIGTERM)
        let stopped = try await daemon.waitForExit()
        XCTAssertEqual(stopped, 0)
        try await daemon.start()
        _ = FileManager.default.createFile(atPath: restarted, contents: nil)
        _ = try await step("resumed", seconds: 60)
        exited = true
        XCTAssertEqual(waitForTool(pid), 0, lines().joined(separator: "\n"))
        // The second click, after the restart, reached the new daemon.
        let after = try await daemon.client()
        let status = try await after.status(stores: ["slow"])
        XCTAssertNotNil(status.stores.first?.run, "the run the page started after the restart")
        await after.close()
        XCTAssertEqual(bridge.stop(), 0, bridge.output)
    }
}
