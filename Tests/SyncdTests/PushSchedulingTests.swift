import SyncProtocol
import XCTest
@testable import SyncDaemon

/// Targeted runs a listener asks for (push), in the scheduler.
final class PushSchedulingTests: XCTestCase {
    let t0 = ContinuousClock.now

    private func scheduler() -> Scheduler {
        var s = Scheduler(maxConcurrent: 2, retryAfter: .seconds(30), maxBackoff: .seconds(3600))
        s.configure("mail", interval: .seconds(600), flags: .full, runAtStartup: false, paused: false, now: t0)
        return s
    }

    func testPush_mergesScopes_startsWithTriggerPush_andKeepsTheSchedule() {
        var s = scheduler()
        s.requestPush("mail", scope: SyncScope(folders: ["INBOX"]))
        s.requestPush("mail", scope: SyncScope(folders: ["Lists"], localOnly: true))
        XCTAssertEqual(s.takeDue(now: t0 + .seconds(1)), [
            .init(store: "mail", flags: .full, trigger: .push, scope: SyncScope(folders: ["INBOX", "Lists"], localOnly: false)),
        ])
        s.finished("mail", result: .ok, now: t0 + .seconds(2))
        XCTAssertEqual(s.takeDue(now: t0 + .seconds(599)), [], "the interval's run is not pushed back by a push run")
        XCTAssertEqual(s.takeDue(now: t0 + .seconds(600)).first?.trigger, .schedule)
    }

    func testPushDuringARun_waitsForItsEnd_andAWholeRunCoversAQueuedPush() {
        var s = scheduler()
        XCTAssertEqual(s.requestNow("mail", flags: []), .queued)
        _ = s.takeDue(now: t0)
        s.requestPush("mail", scope: SyncScope(folders: ["INBOX"]))
        XCTAssertEqual(s.takeDue(now: t0), [], "one run per store")
        s.finished("mail", result: .ok, now: t0 + .seconds(1))
        XCTAssertEqual(s.takeDue(now: t0 + .seconds(1)).first?.trigger, .push, "a change seen during the run gets its own")
        s.finished("mail", result: .ok, now: t0 + .seconds(2))
        s.requestPush("mail", scope: SyncScope(folders: ["INBOX"]))
        XCTAssertEqual(s.takeDue(now: t0 + .seconds(700)).first?.trigger, .schedule, "the due whole run covers it")
        s.finished("mail", result: .ok, now: t0 + .seconds(701))
        XCTAssertEqual(s.takeDue(now: t0 + .seconds(702)), [], "and nothing is left queued")
    }

    func testPush_isDropped_forAPausedStore() {
        var s = scheduler()
        XCTAssertTrue(s.pause("mail"))
        XCTAssertFalse(s.requestPush("mail", scope: SyncScope(folders: ["INBOX"])))
        XCTAssertEqual(s.takeDue(now: t0), [])
    }
}
