#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SyncIPC
import SyncProtocol
import TestSupport
import XCTest

/// The real syncd-desktop between a real syncd and a real notification server (dunst on a
/// private session bus under Xvfb), read back with `dunstctl history` and dbus-monitor.
final class DesktopNotificationTests: XCTestCase {
    static let stores = """
        [store.broken]
        provider = "exec"
        command = ["/bin/sh", "-c", "echo 'progress 1 4 connecting'; echo 'error network cannot reach imap.example.org'; exit 1"]
        run_at_startup = false

        [store.flaky]
        provider = "synthetic"
        steps = 1
        rate = 1000
        result = "network"
        run_at_startup = false

        [store.locked]
        provider = "synthetic"
        steps = 1
        rate = 1000
        result = "auth-required"
        run_at_startup = false
        """

    func testFailedRun_notifiesWithItsError_andSyncNowStartsARun() async throws {
        let session = try await DesktopSession()
        defer { session.stop() }
        let daemon = try DaemonProcess(config: Self.stores)
        try await daemon.start()
        try session.startDesktop(socket: daemon.socket, arguments: ["--coalesce", "1"])
        try await session.waitForDesktop(connections: 1)

        XCTAssertEqual(try ctl(["sync", "--wait", "broken"], daemon), 3)
        try await session.waitUntil("the failure notification") { session.displayed == 1 }
        let calls = session.file("monitor.log")
        XCTAssertTrue(calls.contains("string \"Sync now\""), "dunst offers actions, so the notification has Sync now: \(calls)")

        // A click on it (dunst's default action) asks syncd for a run, seen as the store's next run.
        let client = try await daemon.client()
        let (_, updates) = try await client.subscribe(stores: ["broken"])
        XCTAssertEqual(session.run("dunstctl", ["action", "0"]).status, 0)
        let seen = try await events(from: updates) { $0.isRunStarted }
        guard case .runStarted(let flags, let trigger)? = seen.last?.kind else { return XCTFail("no run: \(seen)") }
        XCTAssertEqual(trigger, .onDemand)
        XCTAssertTrue(flags.contains(.onDemand))
        _ = try await events(from: updates) { $0.isDone }
        await client.close()

        try await session.waitUntil("the second failure merged in") { session.notifyCalls(summaryPrefix: "Sync of broken failed (2 times)") == 1 }
        let history = try session.closeAllAndReadHistory()
        XCTAssertEqual(history.count, 1, "the second failure replaced the first: \(history)")
        XCTAssertEqual(history.first?.summary, "Sync of broken failed (2 times)")
        XCTAssertEqual(history.first?.body, "cannot reach imap.example.org")
    }

    func testBurstOfFailedRuns_isOneNotificationWithTheCount_notAStorm() async throws {
        let session = try await DesktopSession()
        defer { session.stop() }
        let daemon = try DaemonProcess(config: Self.stores)
        try await daemon.start()
        try session.startDesktop(socket: daemon.socket, arguments: ["--coalesce", "2"])
        try await session.waitForDesktop(connections: 1)

        let runs = 8
        let began = ContinuousClock.now
        for _ in 0..<runs { XCTAssertEqual(try ctl(["sync", "--wait", "flaky"], daemon), 3) }
        let burst = ContinuousClock.now - began
        try await session.waitUntil("the merged notification", timeout: .seconds(10)) {
            session.notifyCalls(summaryPrefix: "Sync of flaky failed (\(runs) times)") == 1
        }
        let notifies = session.notifyCalls(summaryPrefix: "Sync of flaky failed")
        // One at once, then at most one per 2 s window the burst lasted, and the last merged one.
        let allowed = 2 + Int(burst / .seconds(2))
        XCTAssertLessThanOrEqual(notifies, min(allowed, runs - 1), "\(runs) failed runs in \(burst) made \(notifies) Notify calls")
        XCTAssertEqual(session.displayed, 1)
        let history = try session.closeAllAndReadHistory()
        XCTAssertEqual(history.map(\.summary), ["Sync of flaky failed (\(runs) times)"])
        XCTAssertEqual(history.first?.body, "network error")
    }

    func testStoreThatNeedsALogin_notifiesOnce_andLogInAsksTheDaemon() async throws {
        let session = try await DesktopSession()
        defer { session.stop() }
        let daemon = try DaemonProcess(config: Self.stores)
        try await daemon.start()
        try session.startDesktop(socket: daemon.socket, arguments: ["--coalesce", "1"])
        try await session.waitForDesktop(connections: 1)

        XCTAssertEqual(try ctl(["sync", "--wait", "locked"], daemon), 3)
        try await session.waitUntil("the login notification") { session.notifyCalls(summaryPrefix: "locked needs a login") == 1 }
        XCTAssertTrue(session.file("monitor.log").contains("string \"Log in\""))
        // The Done auth-required is the login notice's, not a failure notice of its own.
        XCTAssertEqual(session.notifyCalls(summaryPrefix: "Sync of locked failed"), 0)

        // A click: Login for a store with no interactive login is refused; the refusal is shown.
        XCTAssertEqual(session.run("dunstctl", ["action", "0"]).status, 0)
        try await session.waitUntil("the daemon's answer in the notification") { session.notifyCalls(summaryPrefix: "locked needs a login") == 2 }
        let history = try session.closeAllAndReadHistory()
        XCTAssertEqual(history.count, 1, "\(history)")
        XCTAssertEqual(history.first?.summary, "locked needs a login")
        XCTAssertNotEqual(history.first?.body, "Run: syncctl login locked", "the body is the daemon's answer now")
        XCTAssertFalse(history.first?.body.isEmpty ?? true)
    }

    func testDaemonRestart_desktopReconnects_andNotifiesTheNewDaemonsFailures() async throws {
        let session = try await DesktopSession()
        defer { session.stop() }
        let daemon = try DaemonProcess(config: Self.stores)
        try await daemon.start()
        try session.startDesktop(socket: daemon.socket, arguments: ["--coalesce", "0"])
        try await session.waitForDesktop(connections: 1)
        daemon.signal(SIGTERM)
        let stopped = try await daemon.waitForExit()
        XCTAssertEqual(stopped, 0)
        try await daemon.start()
        try await session.waitForDesktop(connections: 2)

        XCTAssertEqual(try ctl(["sync", "--wait", "broken"], daemon), 3)
        try await session.waitUntil("the failure notification after the restart") { session.notifyCalls(summaryPrefix: "Sync of broken failed") == 1 }
        XCTAssertTrue(session.file("desktop.log").contains("lost syncd"), session.file("desktop.log"))
    }

    func testSecondDesktop_inTheSameSession_exitsAtOnce() async throws {
        let session = try await DesktopSession()
        defer { session.stop() }
        let daemon = try DaemonProcess(config: Self.stores)
        try await daemon.start()
        try session.startDesktop(socket: daemon.socket)
        try await session.waitForDesktop(connections: 1)
        let second = runTool("/usr/bin/env", session.environment + [try builtProduct("syncd-desktop"), "--socket", daemon.socket],
                             mergeStandardError: true)
        XCTAssertEqual(second.status, 0)
        XCTAssertTrue(second.stdout.contains("another syncd-desktop runs in this session"), second.stdout)
    }

    func testNoSessionBus_exits69_sayingSo() throws {
        let result = runTool("/usr/bin/env", ["-u", "DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR=/nonexistent", try builtProduct("syncd-desktop")],
                             mergeStandardError: true)
        XCTAssertEqual(result.status, 69, result.stdout)
        XCTAssertTrue(result.stdout.contains("cannot connect to the session bus"), result.stdout)
    }
}

/// Runs syncctl against `daemon`; returns its exit status.
func ctl(_ arguments: [String], _ daemon: DaemonProcess) throws -> Int32 {
    runTool(try builtProduct("syncctl"), ["--socket", daemon.socket] + arguments, captureOutput: false).status
}
