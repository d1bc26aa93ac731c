#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MailServers
import SyncIPC
import SyncProtocol
import TestSupport
import XCTest

/// An imap store's listener across the default route's going and coming back: syncd and Dovecot
/// both in a network namespace of the test's own (Dovecot on its loopback, which the route does
/// not carry, so that what the test sees is the daemon's doing, not a lost connection's).
final class IMAPNetworkTests: XCTestCase {
    private var namespace: NetworkNamespace?
    private var dovecot: Dovecot?
    private var daemon: DaemonProcess?

    override func tearDown() async throws {
        // What runs inside first: a process still there keeps the namespace alive after its deletion.
        if let daemon {
            daemon.signal(SIGTERM)
            _ = try? await daemon.waitForExit(timeout: .seconds(15))
        }
        daemon = nil
        dovecot = nil
        namespace = nil
    }

    func testRouteGone_closesTheListener_andItsReturn_listensAgainAndFetchesWhatCameMeanwhile() async throws {
        let namespace: NetworkNamespace
        do {
            namespace = try NetworkNamespace()
        } catch let unavailable as NetworkNamespace.Unavailable {
            throw XCTSkip("needs a network namespace of its own: \(unavailable)")
        }
        self.namespace = namespace
        let dovecot = try Dovecot(messages: 1, folders: "INBOX", prefix: namespace.prefix)
        self.dovecot = dovecot
        let daemon = try DaemonProcess(config: "")
        self.daemon = daemon
        try daemon.writeIMAPStore(dovecot, """
            timeout = "5s"
            push_notify = false
            push_local = false
            interval = "1h"
            """)
        try await daemon.start(prefix: namespace.prefix)
        let client = try await daemon.client()
        let (_, updates) = try await client.subscribe()
        let startup = try await events(from: updates, timeout: .seconds(30)) { $0.isDone }
        XCTAssertEqual(startup.last?.doneResult, .ok)
        try await untilListening(updates)

        let removed = ContinuousClock.now
        try namespace.ip("route", "del", "default")
        let offline = try await events(from: updates, timeout: .seconds(5)) { Self.pushState($0)?.0 == .offline }
        XCTAssertLessThan(ContinuousClock.now - removed, .seconds(1), "offline within a second")
        XCTAssertEqual(Self.pushState(offline.last!)?.1, "no network")
        print("push: offline \(ContinuousClock.now - removed) after the route went")
        try dovecot.deliver(subject: "while offline")
        // A listener would have asked for a run within about a second of the delivery.
        try await Task.sleep(for: .seconds(2))
        let quiet = try await client.status(stores: ["mail"])
        XCTAssertNil(quiet.stores.first?.run, "no run while offline")
        XCTAssertEqual(quiet.stores.first?.info.push, .offline)

        let restored = ContinuousClock.now
        try namespace.ip("route", "add", "default", "via", NetworkNamespace.gateway, "dev", NetworkNamespace.uplink)
        let caughtUp = try await events(from: updates, timeout: .seconds(10)) { event in
            if case .newMessages(let news) = event.kind { return news.summaries.first?.subject == "while offline" }
            return false
        }
        let latency = ContinuousClock.now - restored
        XCTAssertLessThan(latency, .seconds(3), "what came meanwhile is on disk within 3 s of the route's return")
        print("mail that came offline on disk \(latency) after the route came back")
        XCTAssertTrue(caughtUp.contains { if case .runStarted(_, .schedule) = $0.kind { true } else { false } }, "a catch-up run: \(caughtUp.map(\.kind))")
        XCTAssertFalse(caughtUp.contains { if case .runStarted(_, .push) = $0.kind { true } else { false } }, "not a push: the listener was closed")
        try await untilListening(updates)
        print("listening again \(ContinuousClock.now - restored) after the route came back")
        XCTAssertTrue(daemon.stderr.contains("network: online via uplink0 (gateway 10.200.0.1)"), daemon.stderr)
        await client.close()
    }

    private static func pushState(_ event: SyncEvent) -> (PushState, String?)? {
        if case .storeChanged(let info) = event.kind { return (info.push, info.pushDetail) }
        return nil
    }

    private func untilListening(_ updates: AsyncThrowingStream<ViewerUpdate, Error>) async throws {
        _ = try await events(from: updates, timeout: .seconds(30)) { event in
            guard let (state, detail) = Self.pushState(event) else { return false }
            return state == .listening && (detail ?? "").contains("IDLE, 1 folder")
        }
    }
}
