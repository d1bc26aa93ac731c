#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SyncIPC
import SyncProtocol
import TestSupport
import XCTest

/// `/events`, `/api/...` and the control gate against a real daemon.
final class EventsTests: XCTestCase {
    static let config = """
        [store.alpha]
        provider = "synthetic"
        steps = 4
        rate = 200
        run_at_startup = false
        """

    /// The SSE frames of a stream read for `seconds`: (id, event type) per frame.
    func frames(_ url: String, lastEventID: UInt64? = nil, seconds: Int = 1) -> [(id: UInt64?, type: String)] {
        let body = http(url + "/events", headers: lastEventID.map { ["Last-Event-ID: \($0)"] } ?? [], maxTime: seconds).body
        return body.components(separatedBy: "\n\n").compactMap { block in
            var id: UInt64?, type: String?
            for line in block.split(separator: "\n") {
                if line.hasPrefix("id: ") { id = UInt64(line.dropFirst(4)) }
                if line.hasPrefix("event: ") { type = String(line.dropFirst(7)) }
            }
            return type.map { (id, $0) }
        }
    }

    func testEvents_lastEventIDGetsTheMissedEventsNotASnapshot() async throws {
        let daemon = try DaemonProcess(config: Self.config)
        try await daemon.start()
        let bridge = try await BridgeProcess(daemon: daemon)
        let first = frames(bridge.url)
        XCTAssertEqual(first.map(\.type), ["daemon", "snapshot"])
        let client = try await daemon.client()
        let (_, updates) = try await client.subscribe()
        _ = try await client.send(.syncNow(store: "alpha", flags: []))
        let seen = try await events(from: updates) { $0.isDone }
        // Give syncd-http the same events (it is another viewer of the same daemon).
        try await until("syncd-http to see the Done") { http(bridge.url + "/metrics").body.contains("syncd_runs_total{") }
        let since = try XCTUnwrap(first.last?.id)
        let resumed = frames(bridge.url, lastEventID: since)
        XCTAssertEqual(resumed.first?.type, "daemon")
        XCTAssertFalse(resumed.contains { $0.type == "snapshot" }, "a known Last-Event-ID resumes without a snapshot: \(resumed)")
        let ids = resumed.compactMap(\.id)
        XCTAssertEqual(ids.first, seen.first.map(\.seq), "the first frame is the first event after Last-Event-ID")
        XCTAssertTrue(ids.contains(seen.last!.seq))
        XCTAssertEqual(ids, ids.sorted())
        XCTAssertTrue(resumed.contains { $0.type == "done" })
        // A number it never handed out gets the current state instead.
        XCTAssertEqual(frames(bridge.url, lastEventID: 9_999_999).map(\.type), ["daemon", "snapshot"])
        await client.close()
    }

    func testAPIStatus_isTheDocumentOfSyncctlStatusJSON() async throws {
        let daemon = try DaemonProcess(config: Self.config)
        try await daemon.start()
        let bridge = try await BridgeProcess(daemon: daemon)
        let api = http(bridge.url + "/api/status")
        XCTAssertEqual(api.status, 200)
        let syncctl = runTool(try builtProduct("syncctl"), ["--socket", daemon.socket, "status", "--json"])
        XCTAssertEqual(syncctl.status, 0)
        let a = try JSONSerialization.jsonObject(with: Data(api.body.utf8)) as? NSDictionary
        let b = try JSONSerialization.jsonObject(with: Data(syncctl.stdout.utf8)) as? NSDictionary
        XCTAssertEqual(a, b)
        let errors = try JSONSerialization.jsonObject(with: Data(http(bridge.url + "/api/errors").body.utf8)) as? [Any]
        XCTAssertEqual(errors?.count, 0)
        XCTAssertEqual(http(bridge.url + "/api/status?store=nope").status, 404)
        XCTAssertEqual(http(bridge.url + "/api/errors?store=nope").status, 404)
    }

    func testControls_onlyWithTheToken() async throws {
        let daemon = try DaemonProcess(config: Self.config)
        try await daemon.start()
        let tokenFile = daemon.directory + "/token"
        let token = "0123456789abcdef0123456789abcdef"
        _ = FileManager.default.createFile(atPath: tokenFile, contents: Data(token.utf8), attributes: [.posixPermissions: 0o600])
        let open = try await BridgeProcess(daemon: daemon)
        XCTAssertEqual(http(open.url + "/api/stores/alpha/sync", method: "POST", headers: ["X-Syncd-Control: 1"]).status, 403)
        open.stop()

        let gated = try await BridgeProcess(daemon: daemon, arguments: ["--control-token-file", tokenFile])
        let sync = gated.url + "/api/stores/alpha/sync"
        XCTAssertEqual(http(sync, method: "POST", headers: ["X-Syncd-Control: 1"]).status, 401)
        XCTAssertEqual(http(sync, method: "POST", headers: ["X-Syncd-Control: 1", "Authorization: Bearer wrong-wrong-wrong-wrong"]).status, 401)
        // Without the CSRF header even the right token is refused: a cross-site form cannot add it.
        XCTAssertEqual(http(sync, method: "POST", headers: ["Authorization: Bearer \(token)"]).status, 401)

        let client = try await daemon.client()
        let (_, updates) = try await client.subscribe()
        let allowed = http(sync, method: "POST", headers: ["X-Syncd-Control: 1", "Authorization: Bearer \(token)"])
        XCTAssertEqual(allowed.status, 200, allowed.body)
        let started = try await events(from: updates) { $0.isRunStarted }
        XCTAssertEqual(started.last?.store, "alpha")
        let unknown = http(gated.url + "/api/stores/nope/sync", method: "POST", headers: ["X-Syncd-Control: 1", "Authorization: Bearer \(token)"])
        XCTAssertEqual(unknown.status, 404, unknown.body)
        await client.close()
    }

    func testTokenFile_readableByOthersIsRefused() async throws {
        let daemon = try DaemonProcess(config: Self.config)
        let tokenFile = daemon.directory + "/token"
        _ = FileManager.default.createFile(atPath: tokenFile, contents: Data("0123456789abcdef0123".utf8), attributes: [.posixPermissions: 0o644])
        let result = runTool(try builtProduct("syncd-http"), ["--socket", daemon.socket, "--control-token-file", tokenFile],
                             mergeStandardError: true)
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stdout.contains("readable by others"), result.stdout)
    }

    func testUnixSocket_behindATrustedProxyMayControl() async throws {
        let daemon = try DaemonProcess(config: Self.config)
        try await daemon.start()
        let path = daemon.directory + "/http.sock"
        let log = daemon.directory + "/http-unix.log"
        guard let pid = startTool(try builtProduct("syncd-http"), ["--socket", daemon.socket, "--listen", "unix:" + path, "--trust-proxy"],
                                  outputFile: log) else { throw TestError("could not start syncd-http") }
        defer { kill(pid, SIGTERM); _ = waitForTool(pid) }
        try await until("syncd-http to listen on \(path)") {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("listening on unix:")
        }
        var info = stat()
        XCTAssertEqual(stat(path, &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o660, "only the proxy's group may reach the socket")
        func post(_ headers: [String]) -> String {
            runTool("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", path, "-X", "POST"]
                    + headers.flatMap { ["-H", $0] } + ["http://localhost/api/stores/alpha/sync"]).stdout
        }
        XCTAssertEqual(post([]), "401", "the CSRF header is needed behind a proxy too")
        let client = try await daemon.client()
        let (_, updates) = try await client.subscribe()
        XCTAssertEqual(post(["X-Syncd-Control: 1"]), "200")
        let started = try await events(from: updates) { $0.isRunStarted }
        XCTAssertEqual(started.last?.store, "alpha")
        await client.close()
    }

    func testListen_refusesWhatWouldExposeControls() throws {
        let tool = try builtProduct("syncd-http")
        let proxyOnTCP = runTool(tool, ["--trust-proxy", "--listen", "127.0.0.1:0"], mergeStandardError: true)
        XCTAssertNotEqual(proxyOnTCP.status, 0)
        XCTAssertTrue(proxyOnTCP.stdout.contains("--trust-proxy needs --listen unix:PATH"), proxyOnTCP.stdout)
        let noHost = runTool(tool, ["--listen", ":9477"], mergeStandardError: true)
        XCTAssertNotEqual(noHost.status, 0)
        XCTAssertTrue(noHost.stdout.contains("name the address"), noHost.stdout)
    }
}
