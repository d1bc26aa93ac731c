#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import SyncIPC
import SyncProtocol
import XCTest

/// Records control requests and answers as a daemon would.
final class RecordingControl: ControlHandler {
    let requests = Mutex<[(Request.Command, PeerCredentials)]>([])

    func handle(_ command: Request.Command, from peer: PeerCredentials) async -> ControlResult {
        requests.withLock { $0.append((command, peer)) }
        if case .syncNow(let store, _) = command, store != "mail" {
            return ControlResult(.notFound, "no store named '\(store)'")
        }
        return ControlResult(.ok, "\(command.name) accepted")
    }
}

final class AccessTests: XCTestCase {
    func testWatchOnlyPeer_controlIsDeniedWithHint_butConnectionStaysAndCanWatch() async throws {
        // Tests run as root, whom the group policy always lets control; a policy that makes
        // everyone a watcher stands in for an ordinary user (the end-to-end tests use a real one).
        let control = RecordingControl()
        let strict = try await makeServer(
            access: AccessPolicy(controlHint: "control needs membership in group 'syncd'") { _ in .watch },
            control: control)
        await strict.announce("mail")
        let client = try await SyncClient.connect(to: strict.socketPath, clientName: "test")
        XCTAssertEqual(client.welcome.access, .watch)
        let reply = try await client.send(.syncNow(store: "mail", flags: []))
        XCTAssertEqual(reply.status, .permissionDenied)
        XCTAssertEqual(reply.message, "permission denied: sync-now — control needs membership in group 'syncd'")
        XCTAssertTrue(control.requests.withLock { $0.isEmpty }, "a denied request never reaches the daemon")
        // Still connected, still allowed to watch.
        let (start, _) = try await client.subscribe()
        XCTAssertEqual(start, .snapshot)
        await strict.stop()
    }

    func testControlPeer_requestReachesHandlerWithPeerCredentials() async throws {
        let control = RecordingControl()
        let server = try await makeServer(access: .owner(uid: getuid()), control: control)
        await server.announce("mail")
        let client = try await SyncClient.connect(to: server.socketPath, clientName: "test")
        XCTAssertEqual(client.welcome.access, .control)

        let ok = try await client.send(.syncNow(store: "mail", flags: [.headersOnly]))
        XCTAssertEqual(ok, Reply(requestID: ok.requestID, status: .ok, message: "sync-now accepted"))
        let unknown = try await client.send(.syncNow(store: "nope", flags: []))
        XCTAssertEqual(unknown.status, .notFound)
        XCTAssertNotEqual(ok.requestID, unknown.requestID)

        let seen = control.requests.withLock { $0 }
        XCTAssertEqual(seen.map(\.0), [.syncNow(store: "mail", flags: [.headersOnly]), .syncNow(store: "nope", flags: [])])
        // SO_PEERCRED names this very process.
        XCTAssertEqual(seen.first?.1.pid, getpid())
        XCTAssertEqual(seen.first?.1.uid, getuid())
        await server.stop()
    }

    func testControlGroupPolicy_rootControls_strangerWatches() {
        let policy = AccessPolicy.controlGroup("root")
        XCTAssertEqual(policy.access(for: PeerCredentials(pid: 1, uid: 0, gid: 0)), .control)
        // uid 65534 (nobody) is not in group root.
        XCTAssertEqual(policy.access(for: PeerCredentials(pid: 1, uid: 65534, gid: 65534)), .watch)
        // Primary group membership counts.
        XCTAssertEqual(policy.access(for: PeerCredentials(pid: 1, uid: 65534, gid: 0)), .control)
        let missing = AccessPolicy.controlGroup("no-such-group-here")
        XCTAssertEqual(missing.access(for: PeerCredentials(pid: 1, uid: 65534, gid: 65534)), .watch)
        XCTAssertEqual(missing.access(for: PeerCredentials(pid: 1, uid: 0, gid: 0)), .control)
    }

    func testNoControlHandler_refusesControlRequests() async throws {
        let server = try await makeServer(access: .owner(uid: getuid()))
        let client = try await SyncClient.connect(to: server.socketPath, clientName: "test")
        let reply = try await client.send(.reload)
        XCTAssertEqual(reply.status, .failed)
        XCTAssertEqual(reply.message, "this server accepts no reload requests")
        await server.stop()
    }
}
