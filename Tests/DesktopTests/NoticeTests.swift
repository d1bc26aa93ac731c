@testable import syncd_desktop
import SyncProtocol
import XCTest

/// The words of the notifications, and the coalescing that keeps them from storming (end to end:
/// NewMailNotificationTests and DesktopNotificationTests).
final class NoticeTests: XCTestCase {
    let alice = NewMessages.Summary(from: "Alice Example <alice@example.org>", subject: "Lunch?", date: nil)
    let bob = NewMessages.Summary(from: "\"Bob\" <bob@example.org>", subject: "Re: the plan", date: nil)
    let carol = NewMessages.Summary(from: "<carol@example.org>", subject: "", date: nil)

    func testNewMail_summaryNamesTheSenders() {
        XCTAssertEqual(NoticeText.newMailSummary(count: 1, summaries: [alice]), "New message from Alice Example")
        XCTAssertEqual(NoticeText.newMailSummary(count: 3, summaries: [alice, alice, alice]), "3 new messages from Alice Example")
        XCTAssertEqual(NoticeText.newMailSummary(count: 2, summaries: [alice, bob]), "2 new messages from Alice Example and Bob")
        XCTAssertEqual(NoticeText.newMailSummary(count: 9, summaries: [alice, bob]), "9 new messages from Alice Example, Bob and others")
        XCTAssertEqual(NoticeText.newMailSummary(count: 3, summaries: [alice, bob, carol]), "3 new messages from Alice Example, Bob and others")
        XCTAssertEqual(NoticeText.newMailSummary(count: 4, summaries: []), "4 new messages")
    }

    func testNewMail_bodyListsSubjects_thenWhere() {
        let notice = Notice(.newMail(count: 3, summaries: [alice, carol], folders: ["INBOX"]), store: "mail")
        XCTAssertEqual(notice.summary, "3 new messages from Alice Example, carol@example.org and others")
        XCTAssertEqual(notice.body, "Alice Example: Lunch?\ncarol@example.org: (no subject)\n… and 1 more\nmail · INBOX")
        XCTAssertEqual(notice.actions, [.open])
        XCTAssertEqual(notice.category, "email.arrived")
    }

    func testMarkup_isEscapedForServersThatReadIt() {
        XCTAssertEqual(NoticeText.markupEscaped("a <b> & c"), "a &lt;b&gt; &amp; c")
    }

    func testFailureAndLogin_text() {
        XCTAssertEqual(Notice(.failure(count: 1, result: .network, message: "connection refused"), store: "mail").body,
                       "connection refused (network error)")
        XCTAssertEqual(NoticeText.failureBody(result: .failed, message: "exited with status 1"), "exited with status 1")
        XCTAssertEqual(Notice(.failure(count: 4, result: .stalled, message: nil), store: "mail").summary, "Sync of mail failed (4 times)")
        let login = Notice(.login(instructions: nil), store: "work")
        XCTAssertEqual(login.summary, "work needs a login")
        XCTAssertEqual(login.body, "Run: syncctl login work")
        XCTAssertEqual(login.actions, [.login])
        XCTAssertEqual(login.urgency, .critical)
    }

    func testCoalescer_showsFirstAtOnce_mergesTheRestIntoOneAtTheWindowsEnd() {
        var coalescer = Coalescer(window: .seconds(5))
        let key = NoticeKey(store: "mail", topic: .newMail)
        let start = ContinuousClock.now
        XCTAssertTrue(coalescer.offer(key, .newMail(count: 1, summaries: [alice], folders: ["INBOX"]), at: start))
        coalescer.shown(key, id: 7)
        for second in 1...3 {
            XCTAssertFalse(coalescer.offer(key, .newMail(count: 2, summaries: [bob], folders: ["Lists"]), at: start + .seconds(second)))
        }
        XCTAssertEqual(coalescer.due(at: start + .seconds(4)), [])
        XCTAssertEqual(coalescer.nextDue, start + .seconds(5))
        XCTAssertEqual(coalescer.due(at: start + .seconds(5)), [key])
        XCTAssertEqual(coalescer.replacing(key), 7, "the merged one replaces the one on screen")
        guard case .newMail(let count, let summaries, let folders)? = coalescer.content(key) else { return XCTFail() }
        XCTAssertEqual(count, 7)
        XCTAssertEqual(summaries, [alice, bob, bob, bob])
        XCTAssertEqual(folders, ["INBOX", "Lists"])
        XCTAssertNil(coalescer.nextDue)
    }

    func testCoalescer_afterTheNotificationClosed_countsAfresh() {
        var coalescer = Coalescer(window: .seconds(5))
        let key = NoticeKey(store: "mail", topic: .failure)
        let start = ContinuousClock.now
        XCTAssertTrue(coalescer.offer(key, .failure(count: 1, result: .network, message: "a"), at: start))
        coalescer.shown(key, id: 3)
        coalescer.closed(id: 3)
        XCTAssertTrue(coalescer.offer(key, .failure(count: 1, result: .timeout, message: "b"), at: start + .seconds(6)))
        XCTAssertEqual(coalescer.content(key), .failure(count: 1, result: .timeout, message: "b"))
        XCTAssertEqual(coalescer.replacing(key), 0)
    }

    func testCoalescer_keysAreIndependent() {
        var coalescer = Coalescer(window: .seconds(5))
        let now = ContinuousClock.now
        XCTAssertTrue(coalescer.offer(NoticeKey(store: "a", topic: .failure), .failure(count: 1, result: .failed, message: nil), at: now))
        XCTAssertTrue(coalescer.offer(NoticeKey(store: "b", topic: .failure), .failure(count: 1, result: .failed, message: nil), at: now))
        XCTAssertTrue(coalescer.offer(NoticeKey(store: "a", topic: .login), .login(instructions: nil), at: now))
    }
}
