#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SyncIPC
import SyncProtocol
import TestSupport
import XCTest

/// The real `syncd` binary, driven over its socket as viewers and syncctl do.
final class DaemonTests: XCTestCase {
    /// A quick synthetic store: 20 steps at 200/s (~0.1 s a run).
    static let quickStore = """
        [store.quick]
        provider = "synthetic"
        steps = 20
        rate = 200
        run_at_startup = false
        """

    /// A slow one, to act on while it runs: 1000 steps at 50/s.
    static let slowStore = """
        [store.slow]
        provider = "synthetic"
        steps = 1000
        rate = 50
        run_at_startup = false
        """

    func testBrokenConfigAtStart_exitsWithConfigStatusAndNamesTheLine() async throws {
        let daemon = try DaemonProcess(config: "[store.mail]\nprovider = \"synthetic\"\nsteps = \"many\"\n")
        _ = try daemon.launch()
        let status = try await daemon.waitForExit()
        XCTAssertEqual(status, 78)
        XCTAssertTrue(daemon.stderr.contains("\(daemon.configPath):3: store.mail.steps: expected an integer, got string"), daemon.stderr)
    }

    func testMissingConfig_saysHowToFixIt() async throws {
        let daemon = try DaemonProcess(config: "")
        _ = try daemon.launch(arguments: ["--config", daemon.directory + "/nope.toml", "--socket", daemon.socket])
        let value1 = try await daemon.waitForExit()
        XCTAssertEqual(value1, 78)
        XCTAssertTrue(daemon.stderr.contains("nope.toml: the configuration file does not exist; pass --config FILE"), daemon.stderr)
    }

    func testCheckFlag_validatesWithoutStarting() async throws {
        let daemon = try DaemonProcess(config: Self.quickStore)
        _ = try daemon.launch(arguments: ["--check", "--config", daemon.configPath])
        let value2 = try await daemon.waitForExit()
        XCTAssertEqual(value2, 0)
    }

    func testStartupRun_isForwardedToViewersAndRecorded() async throws {
        let daemon = try DaemonProcess(config: """
            [store.boot]
            provider = "synthetic"
            steps = 30
            rate = 100
            interval = "1h"
            """)
        try await daemon.start()
        let client = try await daemon.client()
        let (_, updates) = try await client.subscribe(stores: ["boot"])
        let seen = try await events(from: updates) { $0.isDone }
        XCTAssertEqual(seen.last?.doneResult, .ok)
        // After Done, the store's facts follow: its result is recorded and the next run planned.
        _ = try await events(from: updates) {
            if case .storeChanged(let info) = $0.kind { return info.lastResult == .ok }
            return false
        }
        let status = try await client.status(stores: ["boot"]).stores[0]
        XCTAssertEqual(status.info.provider, "synthetic")
        XCTAssertEqual(status.info.lastResult, .ok)
        XCTAssertNotNil(status.info.nextRun, "the next scheduled run is announced")
        XCTAssertNil(status.run)
    }

    func testSyncNow_runsOnDemand_andASecondRequestIsBusy() async throws {
        let daemon = try DaemonProcess(config: Self.slowStore)
        try await daemon.start()
        let client = try await daemon.client()
        let (_, updates) = try await client.subscribe()
        let first = try await client.send(.syncNow(store: "slow", flags: [.downloadContents]))
        XCTAssertEqual(first.status, .ok, first.message)
        XCTAssertTrue(first.message.hasPrefix("sync of 'slow' started (run "), first.message)
        let second = try await client.send(.syncNow(store: "slow", flags: []))
        XCTAssertEqual(second.status, .busy)
        XCTAssertTrue(second.message.hasPrefix("'slow' is already syncing"), second.message)
        let started = try await events(from: updates) { $0.isRunStarted }
        XCTAssertEqual(started.last?.kind, .runStarted(flags: [.downloadContents, .onDemand], trigger: .onDemand))
        let unknown = try await client.send(.syncNow(store: "nope", flags: []))
        XCTAssertEqual(unknown.status, .notFound)
        XCTAssertEqual(unknown.message, "no store named 'nope'; known stores: slow")
    }

    func testCancel_endsTheRunWithReasonAndDone() async throws {
        let daemon = try DaemonProcess(config: Self.slowStore)
        try await daemon.start()
        let client = try await daemon.client()
        let (_, updates) = try await client.subscribe()
        _ = try await client.send(.syncNow(store: "slow", flags: []))
        _ = try await events(from: updates) { $0.isProgress }
        let reply = try await client.send(.cancel(store: "slow"))
        XCTAssertEqual(reply.status, .ok, reply.message)
        let tail = try await events(from: updates, timeout: .seconds(5)) { $0.isDone }
        XCTAssertEqual(tail.last?.doneResult, .cancelled)
        XCTAssertFalse(tail.contains { if case .error = $0.kind { true } else { false } }, "a cancel is no Error: \(tail)")
        let again = try await client.send(.cancel(store: "slow"))
        XCTAssertEqual(again.message, "'slow' is not syncing; nothing to cancel")
    }

    func testPause_cancelsRunAndBlocksSyncNow_resumeAllowsIt() async throws {
        let daemon = try DaemonProcess(config: Self.slowStore)
        try await daemon.start()
        let client = try await daemon.client()
        let (_, updates) = try await client.subscribe()
        _ = try await client.send(.syncNow(store: "slow", flags: []))
        let paused = try await client.send(.pause(store: "slow"))
        XCTAssertEqual(paused.message, "paused 'slow'; its running sync is being cancelled")
        let tail = try await events(from: updates) { $0.isDone }
        XCTAssertEqual(tail.last?.doneResult, .cancelled)
        let refused = try await client.send(.syncNow(store: "slow", flags: []))
        XCTAssertEqual(refused.status, .paused)
        let snapshot = try await client.status()
        XCTAssertEqual(snapshot.stores.first?.info.paused, true)
        let value3 = try await client.send(.resume(store: "slow")).status
        XCTAssertEqual(value3, .ok)
        let value4 = try await client.send(.syncNow(store: "slow", flags: [])).status
        XCTAssertEqual(value4, .ok)
    }

    func testReload_addsRemovesAndKeepsViewers_brokenConfigIsRejected() async throws {
        let daemon = try DaemonProcess(config: Self.slowStore + "\n" + Self.quickStore)
        try await daemon.start()
        let client = try await daemon.client()
        let (_, updates) = try await client.subscribe()
        _ = try await client.send(.syncNow(store: "slow", flags: []))
        _ = try await events(from: updates) { $0.isProgress }

        // "slow" goes away (its run is cancelled, reason reload), "added" arrives.
        try daemon.writeConfig(Self.quickStore + """

            [store.added]
            provider = "synthetic"
            run_at_startup = false
            """)
        daemon.signal(SIGHUP)
        let tail = try await events(from: updates) { $0.kind == .storeRemoved }
        XCTAssertTrue(tail.contains { $0.store == "slow" && $0.doneResult == .cancelled })
        XCTAssertFalse(tail.contains { if case .error = $0.kind { true } else { false } }, "a removal is no Error: \(tail)")
        let names = try await client.status().stores.map(\.name)
        XCTAssertEqual(names, ["added", "quick"])

        // A broken file is rejected with its reason; the running configuration stays.
        try daemon.writeConfig("[store.quick]\nprovider = \"nope\"\n")
        let rejected = try await client.send(.reload)
        XCTAssertEqual(rejected.status, .config)
        XCTAssertTrue(rejected.message.contains("syncd.toml:2: store.quick.provider: unknown provider 'nope'"), rejected.message)
        let value5 = try await client.send(.syncNow(store: "added", flags: [])).status
        XCTAssertEqual(value5, .ok, "old config still runs")
    }

    func testStalledRun_isShownThenCancelledAndRetried() async throws {
        let daemon = try DaemonProcess(config: """
            [daemon]
            stall_after = "1s"
            cancel_stalled_after = "2s"
            retry_after = "1s"

            [store.stuck]
            provider = "synthetic"
            steps = 10
            rate = 100
            hang_after = 3
            interval = "1h"
            """)
        try await daemon.start()
        let client = try await daemon.client()
        let (_, updates) = try await client.subscribe()
        let seen = try await events(from: updates, timeout: .seconds(15)) {
            if case .runStarted(_, .retry) = $0.kind { return true }
            return false
        }
        let stalledShown = seen.contains {
            if case .storeChanged(let info) = $0.kind { return info.stalled }
            return false
        }
        XCTAssertTrue(stalledShown, "viewers saw the stall before the cancel")
        XCTAssertTrue(seen.contains { $0.doneResult == .stalled })
    }

    func testSIGTERM_deliversDoneToViewers_savesState_exitsZero() async throws {
        let daemon = try DaemonProcess(config: Self.slowStore)
        try await daemon.start()
        let client = try await daemon.client()
        let (_, updates) = try await client.subscribe()
        _ = try await client.send(.syncNow(store: "slow", flags: []))
        _ = try await events(from: updates) { $0.isProgress }
        daemon.signal(SIGTERM)
        var tail: [SyncEvent] = []
        do {
            for try await update in updates { if case .event(let event) = update { tail.append(event) } }
        } catch SyncClientError.closedByServer(let goodbye) {
            XCTAssertEqual(goodbye.code, .shuttingDown)
        }
        XCTAssertEqual(tail.last(where: \.isDone)?.doneResult, .cancelled)
        XCTAssertFalse(tail.contains { if case .error = $0.kind { true } else { false } }, "a shutdown is no Error: \(tail)")
        let value6 = try await daemon.waitForExit(timeout: .seconds(10))
        XCTAssertEqual(value6, 0)
        let stores = try daemon.savedState()["stores"] as? [String: [String: Any]]
        XCTAssertEqual(stores?["slow"]?["lastResult"] as? UInt32, SyncStatus.cancelled.rawValue)
    }

    func testKill9MidRun_restartKeepsEverythingReportedDone() async throws {
        let daemon = try DaemonProcess(config: Self.quickStore + "\n" + Self.slowStore)
        try await daemon.start()
        var client = try await daemon.client()
        var (_, updates) = try await client.subscribe()
        _ = try await client.send(.syncNow(store: "quick", flags: []))
        let quick = try await events(from: updates) { $0.isDone }
        let doneSeq = quick.last!.seq
        _ = try await client.send(.syncNow(store: "slow", flags: []))
        let slowRun = try await events(from: updates) { $0.isProgress }.last!.run
        daemon.signal(SIGKILL)
        _ = try await daemon.waitForExit()

        try await daemon.start()
        client = try await daemon.client()
        let status = try await client.status()
        XCTAssertEqual(status.stores.first { $0.name == "quick" }?.info.lastResult, .ok, "the finished run survived")
        XCTAssertGreaterThan(status.seq, doneSeq, "sequence numbers never go back")
        (_, updates) = try await client.subscribe()
        _ = try await client.send(.syncNow(store: "slow", flags: []))
        let restarted = try await events(from: updates) { $0.isRunStarted }
        XCTAssertGreaterThan(restarted.last!.run, slowRun, "run ids are never reused")
    }

    func testErrorHistory_survivesRestart() async throws {
        let daemon = try DaemonProcess(config: """
            [store.flaky]
            provider = "synthetic"
            steps = 10
            rate = 200
            warn_every = 5
            error_every = 10
            run_at_startup = false
            """)
        try await daemon.start()
        var client = try await daemon.client()
        let (_, updates) = try await client.subscribe()
        _ = try await client.send(.syncNow(store: "flaky", flags: []))
        let run = try await events(from: updates) { $0.isDone }
        XCTAssertEqual(run.last?.doneResult, .partial, "errors during the run make it partial")
        daemon.signal(SIGTERM)
        _ = try await daemon.waitForExit()

        try await daemon.start()
        client = try await daemon.client()
        let history = try await client.errors(stores: ["flaky"])
        XCTAssertEqual(history.map(\.code), [.warning, .warning, .failed])
        XCTAssertEqual(history.last?.message, "item 10: failed (synthetic error)")
        XCTAssertEqual(Set(history.map(\.run)), [run.last!.run])
        do {
            _ = try await client.errors(stores: ["nope"])
            XCTFail("errors of an unknown store")
        } catch SyncClientError.refused(let reply) {
            XCTAssertEqual(reply.status, .notFound)
        }
    }
}
