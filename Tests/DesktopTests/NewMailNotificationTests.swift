#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SyncIPC
import SyncProtocol
import TestSupport
import XCTest

/// New mail on the desktop: from the real syncd (a synthetic store that reports new messages as
/// the imap provider does), and, where the test needs messages of its own making (markup in a
/// subject, two folders), from SyncIPC's own server — the fan-out syncd runs — started in the
/// test. syncd-desktop and dunst are the real ones.
final class NewMailNotificationTests: XCTestCase {
    func testARunWithNewMail_throughTheRealDaemon_isANotification() async throws {
        let session = try await DesktopSession()
        defer { session.stop() }
        let daemon = try DaemonProcess(config: """
            [store.mail]
            provider = "synthetic"
            steps = 2
            rate = 100
            new_messages = 2
            run_at_startup = false
            """)
        try await daemon.start()
        try session.startDesktop(socket: daemon.socket, arguments: ["--coalesce", "1"])
        try await session.waitForDesktop(connections: 1)
        XCTAssertEqual(try ctl(["sync", "--wait", "mail"], daemon), 0)
        try await session.waitUntil("the new-mail notification") {
            session.notifyCalls(summaryPrefix: "2 new messages from Synthetic Sender") == 1
        }
        let history = try session.closeAllAndReadHistory()
        XCTAssertEqual(history.count, 1, "\(history)")
        XCTAssertTrue(history.first?.body.hasPrefix("Synthetic Sender: Synthetic message 1 of run ") == true, "\(history)")
    }

    func testNewMessages_becomeOneNotification_whoseCountGrows() async throws {
        let session = try await DesktopSession()
        defer { session.stop() }
        let socket = "/tmp/desk-\(UInt32.random(in: 0...UInt32.max)).sock"
        let server = SyncServer(configuration: .init(listener: .path(socket), serverName: "syncd (test)"))
        try await server.start()
        defer { Task { await server.stop() } }
        _ = server.publisher.publish(store: "mail", run: 0, .storeChanged(StoreInfo(provider: "imap")))
        let peer = try await session.startJobViewPeer(cancelOnProgress: false)  // records the dock's signal
        try session.startDesktop(socket: socket, arguments: ["--coalesce", "1"])
        try await session.waitForDesktop(connections: 1)

        let alice = NewMessages.Summary(from: "Alice Example <alice@example.org>", subject: "Lunch?", date: nil)
        let bob = NewMessages.Summary(from: "Bob <bob@example.org>", subject: "Re: <the> plan & more", date: nil)
        _ = server.publisher.publish(store: "mail", run: 8, .newMessages(NewMessages(folder: "INBOX", count: 3, summaries: [alice, alice, alice])))
        try await session.waitUntil("the first notification") { session.notifyCalls(summaryPrefix: "3 new messages from Alice Example") == 1 }
        _ = server.publisher.publish(store: "mail", run: 9, .newMessages(NewMessages(folder: "INBOX", count: 1, summaries: [bob])))
        _ = server.publisher.publish(store: "mail", run: 9, .newMessages(NewMessages(folder: "Lists/swift", count: 1, summaries: [bob])))
        try await session.waitUntil("the merged notification") {
            session.notifyCalls(summaryPrefix: "5 new messages from Alice Example and Bob") == 1
        }
        try await session.waitUntil("the dock's count") {
            try JobViewTests.calls(peer).contains { update in
                guard update.member == "Update", let properties = update.args.last as? [String: Any] else { return false }
                return properties["count"] as? Int == 5 && properties["count-visible"] as? Bool == true
            }
        }
        XCTAssertEqual(session.notifyCalls(summaryPrefix: ""), 2, "two events within the window made one more Notify, not two")
        let history = try session.closeAllAndReadHistory()
        XCTAssertEqual(history.count, 1, "the merged notification replaced the first: \(history)")
        XCTAssertEqual(history.first?.summary, "5 new messages from Alice Example and Bob")
        // dunst reads markup ("body-markup"), so the body went escaped; its history keeps it as sent.
        XCTAssertEqual(history.first?.body, """
            Alice Example: Lunch?
            Alice Example: Lunch?
            Alice Example: Lunch?
            Bob: Re: &lt;the&gt; plan &amp; more
            Bob: Re: &lt;the&gt; plan &amp; more
            mail · INBOX · Lists/swift
            """)
    }
}
