#if canImport(Glibc)
import Glibc
#endif
import SyncProtocol
import XCTest
@testable import SyncDaemon

/// What the default route's comings and goings mean (``Connectivity``), and what offline means to
/// the schedule (``Scheduler/offline``).
final class NetworkSchedulingTests: XCTestCase {
    let t0 = ContinuousClock.now
    let wifi = DefaultRoute(family: UInt8(AF_INET), gateway: [192, 168, 1, 1], interfaceIndex: 3, interfaceName: "wlan0")
    let otherWifi = DefaultRoute(family: UInt8(AF_INET), gateway: [10, 0, 0, 1], interfaceIndex: 3, interfaceName: "wlan0")

    func testARouteThatGoes_isOffline_andItsReturnOrAnotherIsOnline() {
        var c = Connectivity()
        XCTAssertEqual(c.update([wifi]), .none, "the first report changes nothing")
        XCTAssertFalse(c.isOffline)
        XCTAssertEqual(c.update([wifi]), .none, "the same route announced again")
        var renamed = wifi
        renamed.metric = 50
        XCTAssertEqual(c.update([renamed]), .none, "a new metric is the same route")
        XCTAssertEqual(c.update([]), .offline)
        XCTAssertTrue(c.isOffline)
        XCTAssertEqual(c.update([]), .none)
        XCTAssertEqual(c.update([wifi]), .online(via: wifi))
        XCTAssertEqual(c.update([otherWifi]), .changed(via: otherWifi), "another gateway: another network")
        XCTAssertFalse(c.isOffline)
    }

    func testIPv6ArrivingBesideIPv4_isNoChange_butEitherGoingIs() {
        let v6 = DefaultRoute(family: UInt8(AF_INET6), gateway: [0xfe, 0x80] + Array(repeating: 0, count: 13) + [1], interfaceIndex: 3)
        var c = Connectivity()
        XCTAssertEqual(c.update([]), .none)
        XCTAssertEqual(c.update([wifi]), .online(via: wifi))
        XCTAssertEqual(c.update([wifi, v6]), .none, "IPv4's connections still run")
        XCTAssertEqual(c.update([wifi]), .changed(via: wifi), "IPv6's connections are gone")
        XCTAssertEqual(c.update([wifi, v6]), .none)
        XCTAssertEqual(c.update([v6]), .changed(via: v6))
        XCTAssertEqual(c.update([]), .offline)
    }

    func testNoRouteSinceStart_isNotOffline_untilOneWasSeenToGo() {
        var c = Connectivity()
        XCTAssertEqual(c.update([]), .none)
        XCTAssertFalse(c.isOffline, "a LAN-only machine syncs as if nothing watched the routes")
        XCTAssertEqual(c.update([wifi]), .online(via: wifi), "the first route still catches up")
        XCTAssertEqual(c.update([]), .offline)
        XCTAssertTrue(c.isOffline)
    }

    func testOffline_defersScheduledRunsAndRetries_keepsTheirCount_andLetsOnDemandRun() {
        var s = Scheduler(maxConcurrent: 4, retryAfter: .seconds(10), maxBackoff: .seconds(3600))
        s.configure("mail", interval: .seconds(60), flags: .full, runAtStartup: false, paused: false, now: t0)
        s.configure("flaky", interval: .seconds(3600), flags: .full, runAtStartup: true, paused: false, now: t0)
        s.configure("notes", interval: .seconds(60), flags: .full, runAtStartup: false, paused: false, now: t0)
        XCTAssertEqual(s.takeDue(now: t0).map(\.store), ["flaky"])
        s.finished("flaky", result: .network, now: t0)
        XCTAssertEqual(s.retry("flaky"), 1)

        s.offline = true
        let later = t0 + .seconds(600)  // mail's interval and flaky's retry are long due
        XCTAssertEqual(s.takeDue(now: later), [])
        XCTAssertNil(s.nextDue(), "nothing to wake up for")
        XCTAssertNil(s.due("mail"))
        XCTAssertEqual(s.waitingLine(now: later), [], "no place in a line that does not move")
        XCTAssertEqual(s.retry("flaky"), 1, "no retry burned")
        s.requestPush("notes", scope: SyncScope(folders: ["INBOX"]))
        XCTAssertEqual(s.takeDue(now: later), [], "a push run waits too")
        XCTAssertEqual(s.requestNow("notes", flags: []), .queued)
        XCTAssertEqual(s.takeDue(now: later).map(\.trigger), [.onDemand], "someone asked: it runs")

        s.offline = false
        for name in ["mail", "flaky", "notes"] { s.catchUp(name, now: later) }
        let starts = s.takeDue(now: later)
        XCTAssertEqual(starts.map(\.store), ["flaky", "mail"])
        XCTAssertEqual(starts.map(\.trigger), [.retry, .schedule], "the retry is still retry 1")
        s.finished("flaky", result: .network, now: later)
        XCTAssertEqual(s.retry("flaky"), 2)
    }
}
