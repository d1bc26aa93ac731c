#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SyncIPC
import SyncProtocol
import TestSupport
import XCTest

/// What a viewer learns beyond the event stream: that the daemon is alive (Ping), what its recent
/// runs were (Runs), and how many callbacks a merged Progress stands for.
final class HeartbeatAndHistoryTests: XCTestCase {
    static let viewer = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("examples/viewer.py").path

    func testHeartbeat_aQuietDaemonAnswersPings_aHungOneIsNoticed() async throws {
        let daemon = try DaemonProcess(config: """
            [store.idle]
            provider = "synthetic"
            run_at_startup = false
            """)
        try await daemon.start()
        let output = daemon.directory + "/viewer.out"
        guard let viewer = startTool("/usr/bin/python3", [
            Self.viewer, "--socket", daemon.socket, "--heartbeat", "0.3", "--show-pings",
        ], outputFile: output) else { throw TestError("cannot start viewer.py") }
        func text() -> String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }
        // Nothing happens on the daemon, so every frame after the snapshot is the answer to a ping.
        let deadline = ContinuousClock.now + .seconds(20)
        while text().components(separatedBy: "message=\"pong\"").count < 3, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        XCTAssertGreaterThanOrEqual(text().components(separatedBy: "message=\"pong\"").count, 3, text())

        // A stopped daemon still accepts on its socket and keeps the connection: only the missing
        // answer tells it hangs.
        daemon.signal(SIGSTOP)
        let stopped = ContinuousClock.now
        let status = await Task.detached { waitForTool(viewer) }.value
        let noticedAfter = ContinuousClock.now - stopped
        daemon.signal(SIGCONT)
        XCTAssertEqual(status, 5, text())
        XCTAssertTrue(text().contains("syncd did not answer a ping within 0.3s"), text())
        XCTAssertLessThan(noticedAfter, .seconds(5))

        let client = try await daemon.client()
        try await client.ping()
        await client.close()
    }

    func testWatch_saysWhenSyncdHangs_andReconnectsWhenItIsBack() async throws {
        let daemon = try DaemonProcess(config: """
            [store.idle]
            provider = "synthetic"
            run_at_startup = false
            """)
        try await daemon.start()
        let output = daemon.directory + "/watch.out"
        guard let watch = startTool(try builtProduct("syncctl"), [
            "watch", "--socket", daemon.socket, "--heartbeat", "0.5",
        ], outputFile: output) else { throw TestError("cannot start syncctl watch") }
        defer { kill(watch, SIGKILL); _ = waitForTool(watch) }
        func text() -> String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }
        func wait(for needle: String) async throws {
            let deadline = ContinuousClock.now + .seconds(20)
            while !text().contains(needle), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            XCTAssertTrue(text().contains(needle), "waited for \(needle): \(text())")
        }
        try await wait(for: "idle: idle")
        daemon.signal(SIGSTOP)
        try await wait(for: "lost connection to syncd (syncd did not answer a ping within 0.5s: it hangs); reconnecting")
        daemon.signal(SIGCONT)
        try await wait(for: "reconnected to syncd")
        XCTAssertFalse(text().contains("restarted"), "the same daemon came back")
    }

    func testRuns_listsFinishedRunsWithResultAndLength_andKeepsThemAcrossARestart() async throws {
        let daemon = try DaemonProcess(config: """
            [store.demo]
            provider = "synthetic"
            steps = 10
            rate = 50
            run_at_startup = false

            [store.broken]
            provider = "synthetic"
            steps = 2
            rate = 100
            result = "network"
            error_every = 1
            run_at_startup = false
            """)
        try await daemon.start()
        var client = try await daemon.client()
        let (_, updates) = try await client.subscribe()
        _ = try await client.send(.syncNow(store: "demo", flags: []))
        _ = try await events(from: updates) { $0.isDone }
        _ = try await client.send(.syncNow(store: "broken", flags: []))
        _ = try await events(from: updates) { $0.isDone }
        _ = try await client.send(.syncNow(store: "demo", flags: [.headersOnly]))
        _ = try await events(from: updates) { $0.isDone }

        let demo = try await client.runs(stores: ["demo"])
        XCTAssertEqual(demo.count, 2)
        XCTAssertEqual(demo.map(\.result), [.ok, .ok])
        XCTAssertEqual(demo.map(\.trigger), [.onDemand, .onDemand])
        XCTAssertTrue(demo[1].flags.contains(.headersOnly))
        XCTAssertLessThan(demo[0].run, demo[1].run, "oldest first")
        XCTAssertGreaterThan(demo[0].duration, 0.1, "10 steps at 50 a second take about 0.2 s")
        XCTAssertLessThan(demo[0].duration, 10)
        let all = try await client.runs()
        XCTAssertEqual(all.map(\.store), ["demo", "broken", "demo"])
        XCTAssertEqual(all[1].result, .network)
        XCTAssertEqual(all[1].errors, 2)
        do {
            _ = try await client.runs(stores: ["demo", "nosuch"])
            XCTFail("an unknown store is refused")
        } catch SyncClientError.refused(let reply) {
            XCTAssertEqual(reply.status, .notFound)
            XCTAssertTrue(reply.message.contains("nosuch"), reply.message)
        }
        await client.close()

        daemon.signal(SIGKILL)
        _ = try await daemon.waitForExit()
        try await daemon.start()
        client = try await daemon.client()
        let after = try await client.runs()
        XCTAssertEqual(after, all, "recorded durably when each run finished")
        await client.close()
    }

    func testMergedProgress_countsTheCallbacksItStandsFor() async throws {
        // 20 000 callbacks as fast as the provider can: far more than are forwarded one by one.
        let daemon = try DaemonProcess(config: """
            [store.fast]
            provider = "synthetic"
            steps = 20000
            rate = 1000000
            run_at_startup = false
            """)
        try await daemon.start()
        let client = try await daemon.client()
        let (_, updates) = try await client.subscribe()
        _ = try await client.send(.syncNow(store: "fast", flags: []))
        let seen = try await events(from: updates) { $0.isDone }
        await client.close()
        let progress = seen.filter(\.isProgress)
        let callbacks = progress.reduce(0) { $0 + Int($1.callbacks) }
        XCTAssertEqual(callbacks, 20000, "an attentive viewer can count every callback the provider made")
        XCTAssertTrue(progress.allSatisfy { if case .progress(let step, _, _) = $0.kind { return step != nil } else { return false } },
                      "a merged Progress keeps its step text")
    }
}
