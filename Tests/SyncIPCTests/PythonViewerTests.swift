import Foundation
import SyncIPC
import SyncProtocol
import XCTest

/// examples/viewer.py was written from docs/PROTOCOL.md alone; these run it against a real
/// server, proving the document is enough to write a viewer.
final class PythonViewerTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let viewer = repository.appendingPathComponent("examples/viewer.py").path

    /// Runs viewer.py; `meanwhile` runs once it is under way. Returns its exit status and stdout lines.
    private func viewer(
        _ arguments: [String], connectingTo server: SyncServer? = nil, meanwhile: () async -> Void = {}
    ) async throws -> (status: Int32, lines: [String]) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.viewer] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        if let server {
            // Wait until the viewer is connected and has had time to subscribe.
            while await server.viewerCount() == 0 { try await Task.sleep(nanoseconds: 5_000_000) }
            try await Task.sleep(nanoseconds: 200_000_000)
        }
        await meanwhile()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output.split(separator: "\n").map(String.init))
    }

    func testPythonViewer_subscribesAndPrintsLiveEvents() async throws {
        let server = try await makeServer()
        await server.announce("mail", provider: "imap")
        let reporter = server.reporter(store: "mail", run: 7)
        reporter.started(flags: [.downloadContents, .onDemand], trigger: .onDemand)
        await server.waitForForwarder(server.publisher.nextSeq - 1)
        let base = server.publisher.nextSeq

        let (status, lines) = try await viewer(["--socket", server.socketPath, "--count", "3"], connectingTo: server) {
            reporter.progress(step: "Posteingang/Größe", index: 40, max: 200)
            reporter.error(.network, "connection reset")
            reporter.done(.partial)
        }
        XCTAssertEqual(status, 0)
        XCTAssertEqual(lines, [
            "welcome version=1 access=watch seq=\(base - 1) server=\"test\"",
            "subscribed id=1 mode=snapshot",
            "snapshot seq=\(base - 1) stores=1",
            "  store \"mail\" provider=\"imap\" run=7 index=0 max=0 step=- interval=0s flags=0x00000000",
            "event seq=\(base) store=\"mail\" run=7 progress index=40 max=200 step=\"Posteingang/Gr\\u00f6\\u00dfe\"",
            "event seq=\(base + 1) store=\"mail\" run=7 error code=0x80040115 (network) severity=error message=\"connection reset\"",
            "event seq=\(base + 2) store=\"mail\" run=7 done result=0x00040680 (partial)",
        ])
        await server.stop()
    }

    func testPythonViewer_printsGoodbyeReasonAndExits3() async throws {
        let server = try await makeServer()
        let (status, lines) = try await viewer(["--socket", server.socketPath], connectingTo: server) {
            await server.stop()
        }
        XCTAssertEqual(status, 3)
        XCTAssertEqual(lines.last,
                       "goodbye code=0x80040A05 (shutting-down) message=\"the daemon is shutting down\"")
    }

    func testPythonViewer_decodesEveryGoldenVector() async throws {
        let vectors = Self.repository.appendingPathComponent("docs/vectors")
        let files = try FileManager.default.contentsOfDirectory(atPath: vectors.path)
            .filter { $0.hasSuffix(".hex") }.sorted().map { vectors.appendingPathComponent($0).path }
        XCTAssertGreaterThanOrEqual(files.count, 35)
        let (status, output) = try await viewer(["--decode"] + files)
        XCTAssertEqual(status, 0)
        let lines = Set(output)
        for expected in [
            "event seq=42 store=\"mail\" run=7 run-started flags=0x20000082 trigger=on-demand",
            "event seq=44 store=\"mail\" run=7 progress index=40 max=200 step=\"INBOX\" callbacks=3",
            "event seq=45 store=\"mail\" run=7 progress index=41 max=200 step=-",
            "event seq=48 store=\"mail\" run=0 store-changed provider=\"imap\" paused=0 stalled=0 last-result=0x00040680 (partial) interval=900s flags=0x00000082 push=listening push-detail=\"IDLE, 3 folders\"",
            "  store \"mail\" provider=\"imap\" run=7 index=40 max=200 step=\"INBOX\" interval=900s flags=0x00000082 push=listening push-detail=\"IDLE, 3 folders\"",
            "event seq=60 store=\"mail\" run=8 run-started flags=0x00000082 trigger=push",
            "event seq=63 store=\"mail\" run=8 new-messages folder=\"INBOX\" count=1",
            "  message from=\"Alice Example <alice@example.org>\" subject=\"Lunch?\" date=1764001140",
            "event seq=64 store=\"mail\" run=0 store-changed provider=\"imap\" paused=0 stalled=0 last-result=0x00000000 (ok) interval=900s flags=0x00000082 push=reconnecting push-detail=\"in 20s: connection reset\"",
            "  store \"notes\" provider=\"exec\" idle last-result=0x00000000 (ok) queued=1 interval=900s flags=0x00000082",
            "request id=2 subscribe since=45 stores=[\"mail\"]",
            "request id=4 sync-now store=\"mail\" flags=0x00000000",
            "subscribed id=2 mode=resync since=45 oldest=47",
            "reply id=4 status=0x80070005 (permission-denied) message=\"permission denied\"",
            "request id=9 errors stores=[\"mail\"]",
            "  error store=\"mail\" run=7 code=0x80040115 (network) message=\"connection reset\"",
            "request id=11 ping",
            "  viewers watching=2 dropped-too-slow=1",
            "reply id=11 status=0x00000000 (ok) message=\"pong\"",
            "request id=10 runs stores=[\"mail\"]",
            "request id=12 login store=\"mail\"",
            "  run store=\"mail\" run=7 flags=0x20000082 trigger=on-demand seconds=12 result=0x00040680 (partial) warnings=0 errors=1",
        ] {
            XCTAssertTrue(lines.contains(expected), "missing: \(expected)")
        }
    }
}
