#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import SyncIPC
import SyncProtocol
import TestSupport
import XCTest

/// A control handler that takes its time, as a daemon busy with a reload does.
final class SlowControl: ControlHandler {
    let handled = Atomic<Int>(0)
    /// Requests being handled now, and the most there ever were at once.
    let running = Atomic<Int>(0)
    let mostAtOnce = Atomic<Int>(0)

    func handle(_ command: Request.Command, from peer: PeerCredentials) async -> ControlResult {
        let now = running.add(1, ordering: .relaxed).newValue
        var most = mostAtOnce.load(ordering: .relaxed)
        while now > most {
            let (exchanged, original) = mostAtOnce.compareExchange(expected: most, desired: now, ordering: .relaxed)
            if exchanged { break }
            most = original
        }
        try? await Task.sleep(for: .milliseconds(500))
        running.subtract(1, ordering: .relaxed)
        handled.add(1, ordering: .relaxed)
        return ControlResult(.ok, "done")
    }
}

/// What a hostile local user tried, in one process: each attack costs only the attacker.
final class UnderAttackTests: XCTestCase {
    /// Everyone in these tests is the same uid; this switch plays "is in the control group".
    final class Membership: Sendable {
        let granted = Atomic<Bool>(false)
        func grant() { granted.store(true, ordering: .relaxed) }
        var policy: AccessPolicy {
            AccessPolicy(controlHint: "control needs group 'ops'") { [self] _ in
                granted.load(ordering: .relaxed) ? AccessLevel.control : AccessLevel.watch
            }
        }
    }

    func testClosedConnections_freeTheirHandlers() async throws {
        let server = try await makeServer()
        await server.announce("mail")
        let before = SyncServer.liveViewerHandlers
        for _ in 0..<2_000 {
            let peer = try RawViewer(path: server.socketPath)
            peer.send(.hello(Hello(client: "churn")))
            _ = try peer.next()
        }
        // Every connection is closed by now; the server notices each close on its loop.
        let deadline = ContinuousClock.now + .seconds(10)
        while SyncServer.liveViewerHandlers > before, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTAssertEqual(SyncServer.liveViewerHandlers, before, "a closed connection's handler stays alive")
        await server.stop()
    }

    /// Connects once more, expecting Goodbye `too-many-viewers`; fails with `admitted` otherwise.
    static func refusal(_ server: SyncServer, _ admitted: String) async throws -> Goodbye? {
        do {
            _ = try await SyncClient.connect(to: server.socketPath, clientName: "one-too-many")
            XCTFail(admitted)
            return nil
        } catch SyncClientError.closedByServer(let goodbye) {
            XCTAssertEqual(goodbye.code, .tooManyViewers)
            return goodbye
        }
    }

    func testWatchOnlyUser_isCappedPerUser_andCannotTakeReservedSlots() async throws {
        let control = Membership()
        let server = try await makeServer(access: control.policy) {
            $0.maxViewers = 12
            $0.reservedControlSlots = 4
            $0.maxViewersPerUser = 5
        }
        var held: [SyncClient] = []
        for _ in 0..<5 { held.append(try await SyncClient.connect(to: server.socketPath, clientName: "hog")) }
        let goodbye = try await Self.refusal(server, "a sixth connection of one watch-only user was admitted")
        XCTAssertTrue(goodbye?.message.contains("the limit per user is 5") == true, "\(String(describing: goodbye))")
        // Control peers are not capped per user and may use the reserved slots.
        control.grant()
        for _ in 0..<7 { held.append(try await SyncClient.connect(to: server.socketPath, clientName: "root")) }
        let count = await server.viewerCount()
        XCTAssertEqual(count, 12)
        await server.stop()
    }

    func testReservedSlots_keepControlPeersIn_whenWatchersFillTheRest() async throws {
        let control = Membership()
        let server = try await makeServer(access: control.policy) {
            $0.maxViewers = 10
            $0.reservedControlSlots = 3
            $0.maxViewersPerUser = 100
        }
        var held: [SyncClient] = []
        for _ in 0..<7 { held.append(try await SyncClient.connect(to: server.socketPath, clientName: "watcher")) }
        _ = try await Self.refusal(server, "a watcher took a reserved slot")
        control.grant()
        let admin = try await SyncClient.connect(to: server.socketPath, clientName: "admin")
        XCTAssertEqual(admin.welcome.access, .control)
        _ = try await admin.status()
        await server.stop()
    }

    func testFullServer_refusesAtOnce_neverHangsTheClient() async throws {
        let server = try await makeServer {
            $0.maxViewers = 32
            $0.reservedControlSlots = 0
            $0.maxViewersPerUser = 32
        }
        var held: [SyncClient] = []
        for _ in 0..<32 { held.append(try await SyncClient.connect(to: server.socketPath, clientName: "hog")) }
        // The goodbye often arrives before the client waits for its welcome; it must still end.
        for _ in 0..<40 {
            let started = ContinuousClock.now
            do {
                _ = try await SyncClient.connect(to: server.socketPath, clientName: "late", timeout: .seconds(3))
                XCTFail("admitted past the limit")
            } catch SyncClientError.closedByServer(let goodbye) {
                XCTAssertEqual(goodbye.code, .tooManyViewers)
            } catch SyncClientError.disconnected {
                // Closed before the goodbye could be read: still a prompt, clear end.
            }
            XCTAssertLessThan(ContinuousClock.now - started, .seconds(2))
        }
        await server.stop()
    }

    func testPeerThatSaysHelloThenNothing_isClosedAfterTheIdleTimeout() async throws {
        let server = try await makeServer { $0.idleTimeout = .milliseconds(300) }
        let silent = try RawViewer(path: server.socketPath)
        try silent.handshake(subscribe: false)
        let started = ContinuousClock.now
        XCTAssertEqual(try silent.drainToEOF().last?.goodbye?.code, .handshakeTimeout)
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(5))
        // A subscribed viewer is asking for something (events) and stays.
        let watcher = try RawViewer(path: server.socketPath)
        try watcher.handshake(subscribe: true)
        try await Task.sleep(for: .milliseconds(600))
        let count = await server.viewerCount()
        XCTAssertEqual(count, 1)
        await server.stop()
    }

    func testPipelinedControlRequests_beyondTheBound_areAnsweredBusy() async throws {
        let control = SlowControl()
        let server = try await makeServer(access: .owner(uid: getuid()), control: control) { $0.requestsInFlight = 4 }
        let peer = try RawViewer(path: server.socketPath)
        try peer.handshake(subscribe: false)
        for id in 1...50 as ClosedRange<UInt32> {
            peer.send(.request(Request(id: id + 1, command: .pause(store: "mail"))))
        }
        var ok = 0
        var busy = 0
        while ok + busy < 50, case .reply(let reply)? = try peer.next() {
            if reply.status == .busy { busy += 1 } else if reply.status == .ok { ok += 1 }
        }
        // How many get in depends on how the 50 frames arrive (at once: 4 in, 46 busy; spread
        // over reads, more get in as answers free places); the bound holds either way.
        XCTAssertEqual(ok + busy, 50, "every request is answered")
        XCTAssertLessThanOrEqual(control.mostAtOnce.load(ordering: .relaxed), 4, "never more than the bound at the daemon at once")
        XCTAssertGreaterThanOrEqual(ok, 4)
        XCTAssertEqual(control.handled.load(ordering: .relaxed), ok, "only what was answered ok reached the daemon")
        await server.stop()
    }

    func testControlGroupChange_appliesToOpenConnections() async throws {
        let control = RecordingControl()
        let server = try await makeServer(access: .owner(uid: getuid()), control: control)
        await server.announce("mail")
        let client = try await SyncClient.connect(to: server.socketPath, clientName: "admin")
        let allowed = try await client.send(.pause(store: "mail"))
        XCTAssertEqual(allowed.status, .ok)
        await server.setAccess(AccessPolicy(controlHint: "control needs group 'ops'") { _ in .watch })
        let denied = try await client.send(.pause(store: "mail"))
        XCTAssertEqual(denied.status, .permissionDenied, "access revoked by a reload holds without a reconnect")
        XCTAssertTrue(denied.message.contains("group 'ops'"), denied.message)
        await server.stop()
    }

    func testViewerDroppedAsTooSlow_readsTheNoticeAfterItsBacklog() async throws {
        let server = try await makeServer { $0.viewerQueueBytes = 64 * 1024 }
        await server.announce("mail")
        let slow = try RawViewer(path: server.socketPath, receiveBuffer: 4096)
        try slow.handshake(subscribe: true)
        // Errors are never dropped, so enough of them overflow the queue of a viewer that reads nothing.
        let text = String(repeating: "x", count: 1000)
        for _ in 0..<2_000 {
            server.publisher.publish(store: "mail", run: 1, .error(code: .network, message: text))
        }
        try await Task.sleep(for: .milliseconds(500))
        let frames = try slow.drainToEOF()
        XCTAssertEqual(frames.last?.goodbye?.code, .tooSlow, "the notice comes after what the socket held")
        XCTAssertGreaterThan(frames.count, 2)
        await server.stop()
    }
}
