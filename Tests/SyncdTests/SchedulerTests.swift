import SyncProtocol
import TestSupport
import XCTest
@testable import SyncDaemon

final class SchedulerTests: XCTestCase {
    let t0 = ContinuousClock.now

    private func scheduler(max: Int = 2) -> Scheduler {
        Scheduler(maxConcurrent: max, retryAfter: .seconds(30), maxBackoff: .seconds(3600))
    }

    func testStartupRuns_thenIntervals() {
        var s = scheduler()
        s.configure("mail", interval: .seconds(60), flags: .full, runAtStartup: true, paused: false, now: t0)
        s.configure("notes", interval: .seconds(60), flags: .full, runAtStartup: false, paused: false, now: t0)
        XCTAssertEqual(s.takeDue(now: t0), [.init(store: "mail", flags: .full, trigger: .startup)])
        XCTAssertEqual(s.takeDue(now: t0), [], "one run per store at a time")
        s.finished("mail", result: .ok, now: t0 + .seconds(5))
        XCTAssertEqual(s.takeDue(now: t0 + .seconds(59)), [])
        XCTAssertEqual(s.takeDue(now: t0 + .seconds(60)).map(\.store), ["notes"])
        XCTAssertEqual(s.takeDue(now: t0 + .seconds(65)), [.init(store: "mail", flags: .full, trigger: .schedule)])
    }

    func testOnDemand_jumpsTheQueue_andRespectsTheCap() {
        var s = scheduler(max: 1)
        for name in ["a", "b", "c"] {
            s.configure(name, interval: .seconds(60), flags: .full, runAtStartup: false, paused: false, now: t0)
        }
        let later = t0 + .seconds(120)  // all three are due
        XCTAssertEqual(s.requestNow("c", flags: [.headersOnly]), .queued)
        XCTAssertEqual(s.requestNow("c", flags: []), .alreadyQueued)
        XCTAssertEqual(s.takeDue(now: later), [.init(store: "c", flags: [.headersOnly, .onDemand], trigger: .onDemand)])
        XCTAssertEqual(s.requestNow("c", flags: []), .busy)
        XCTAssertEqual(s.takeDue(now: later), [], "cap of 1 reached")
        s.finished("c", result: .ok, now: later)
        XCTAssertEqual(s.takeDue(now: later).map(\.store), ["a"], "then the oldest scheduled one")
        XCTAssertEqual(s.requestNow("nope", flags: []), .unknown)
    }

    func testOutgoingMailAskedForWhileTheStoreRuns_followsTheRun_aPersonsSyncJoinsIt() {
        var s = scheduler()
        s.configure("mail", interval: .seconds(600), flags: .full, runAtStartup: true, paused: false, now: t0)
        XCTAssertEqual(s.takeDue(now: t0).map(\.store), ["mail"])
        XCTAssertEqual(s.requestNow("mail", flags: []), .busy, "syncctl sync waits for the run it joins")
        XCTAssertEqual(s.requestNow("mail", flags: [.outgoingMail, .onDemand]), .queuedBehindRun)
        XCTAssertEqual(s.requestNow("mail", flags: [.outgoingMail, .onDemand]), .alreadyQueued)
        XCTAssertEqual(s.takeDue(now: t0), [], "not while it runs")
        s.finished("mail", result: .ok, now: t0 + .seconds(1))
        XCTAssertEqual(s.takeDue(now: t0 + .seconds(1)), [.init(store: "mail", flags: [.outgoingMail, .onDemand], trigger: .onDemand)])
    }

    func testFailure_backsOffExponentially_cappedByInterval() {
        var s = scheduler()
        s.configure("mail", interval: .seconds(600), flags: .full, runAtStartup: true, paused: false, now: t0)
        var now = t0
        var waits: [Duration] = []
        for _ in 0..<6 {
            XCTAssertEqual(s.takeDue(now: now).count, 1)
            s.finished("mail", result: .network, now: now)
            let due = s.entries["mail"]!.due!
            XCTAssertEqual(s.entries["mail"]!.dueTrigger, .retry)
            waits.append(due - now)
            now = due
        }
        XCTAssertEqual(waits, [30, 60, 120, 240, 480, 600].map { .seconds($0) })
        XCTAssertEqual(s.takeDue(now: now).first?.trigger, .retry)
        s.finished("mail", result: .ok, now: now)
        XCTAssertEqual(s.entries["mail"]!.failures, 0)
        XCTAssertEqual(s.entries["mail"]!.due! - now, .seconds(600))
    }

    func testJitter_spreadsRetries() {
        var s = scheduler()
        s.configure("mail", interval: .seconds(600), flags: .full, runAtStartup: true, paused: false, now: t0)
        _ = s.takeDue(now: t0)
        s.finished("mail", result: .network, now: t0, jitter: 0.8)
        XCTAssertEqual(s.entries["mail"]!.due! - t0, .seconds(24))
    }

    func testPause_stopsScheduling_resumeRunsSoon() {
        var s = scheduler()
        s.configure("mail", interval: .seconds(60), flags: .full, runAtStartup: false, paused: false, now: t0)
        XCTAssertTrue(s.pause("mail"))
        XCTAssertEqual(s.requestNow("mail", flags: []), .paused)
        XCTAssertEqual(s.takeDue(now: t0 + .seconds(3600)), [])
        XCTAssertNil(s.nextDue())
        XCTAssertTrue(s.resume("mail", now: t0 + .seconds(3600)))
        XCTAssertEqual(s.takeDue(now: t0 + .seconds(3600)).map(\.store), ["mail"])
    }

    func testUserCancel_isNotRetried() {
        var s = scheduler()
        s.configure("mail", interval: .seconds(600), flags: .full, runAtStartup: true, paused: false, now: t0)
        _ = s.takeDue(now: t0)
        s.finished("mail", result: .cancelled, now: t0)
        XCTAssertEqual(s.entries["mail"]!.due! - t0, .seconds(600))
        XCTAssertEqual(s.entries["mail"]!.failures, 0)
    }

    func testRefusedLogin_waitsForTheInterval_notABackoffRetry() {
        var s = scheduler()
        s.configure("mail", interval: .seconds(600), flags: .full, runAtStartup: true, paused: false, now: t0)
        for result in [SyncStatus.authFailed, .config] {
            _ = s.takeDue(now: t0)
            s.finished("mail", result: result, now: t0)
            XCTAssertEqual(s.entries["mail"]!.due! - t0, .seconds(600), "\(result)")
            XCTAssertEqual(s.entries["mail"]!.dueTrigger, .schedule)
            s.configure("mail", interval: .seconds(600), flags: .full, runAtStartup: true, paused: false, now: t0)
        }
    }

    func testOnDemandOnlyStore_isNeverScheduled() {
        var s = scheduler()
        s.configure("manual", interval: nil, flags: .full, runAtStartup: false, paused: false, now: t0)
        XCTAssertEqual(s.takeDue(now: t0 + .seconds(86_400)), [])
        XCTAssertEqual(s.requestNow("manual", flags: []), .queued)
        XCTAssertEqual(s.takeDue(now: t0).first?.trigger, .onDemand)
        s.finished("manual", result: .network, now: t0)
        XCTAssertNil(s.entries["manual"]!.due, "no automatic retry without an interval")
    }
}
