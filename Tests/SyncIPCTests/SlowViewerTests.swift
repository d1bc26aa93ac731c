import SyncIPC
import SyncProtocol
import XCTest

final class SlowViewerTests: XCTestCase {
    func testStalledViewer_underProgressFlood_staysConnectedAndGetsLatestBar() async throws {
        let server = try await makeServer { $0.viewerQueueBytes = 256 * 1024 }
        await server.announce("mail")
        let stalled = try RawViewer(path: server.socketPath, receiveBuffer: 4096)
        try stalled.handshake()
        let client = try await SyncClient.connect(to: server.socketPath, clientName: "healthy")
        let (_, healthy) = try await client.subscribe()

        let reporter = server.reporter(store: "mail", run: 1)
        reporter.started(flags: .full, trigger: .schedule)
        _ = try await collect(2, from: healthy)
        // The healthy viewer gets everything, in order, while the other does not read at all.
        // Published in steps the healthy viewer keeps up with, so only the stalled one falls behind.
        let count = 40_000
        for chunk in stride(from: 1, through: count, by: 1000) {
            // Straight to the publisher, so every Progress is a separate event (a RunReporter
            // would merge the ones the forwarder has not taken yet).
            for i in chunk..<(chunk + 1000) {
                server.publisher.publish(store: "mail", run: 1, .progress(step: "INBOX", index: UInt32(i), max: UInt32(count)))
            }
            let received = try await collect(1000, from: healthy)
            XCTAssertEqual(received.last?.event?.kind, .progress(step: "INBOX", index: UInt32(chunk + 999), max: UInt32(count)))
        }
        reporter.done(.ok)
        let done = try await collect(1, from: healthy)
        XCTAssertEqual(done.first?.event?.kind, .done(result: .ok))

        // Now the stalled viewer reads: it has every must-deliver event, progress only where it
        // could keep up, and the last bar before Done.
        var events: [SyncEvent] = []
        while let message = try stalled.next() {
            guard case .event(let event) = message else { continue }
            events.append(event)
            if case .done = event.kind { break }
        }
        XCTAssertEqual(events.first?.kind, .runStarted(flags: .full, trigger: .schedule))
        XCTAssertEqual(events.last?.kind, .done(result: .ok))
        XCTAssertEqual(events.dropLast().last?.kind, .progress(step: "INBOX", index: UInt32(count), max: UInt32(count)))
        XCTAssertLessThan(events.count, count, "stale progress was superseded")
        XCTAssertEqual(events.map(\.seq), events.map(\.seq).sorted())
        await server.stop()
    }

    func testStalledViewer_pastHardCap_getsTooSlowAndOthersLoseNothing() async throws {
        let server = try await makeServer {
            $0.viewerQueueBytes = 256 * 1024
            $0.goodbyeGrace = .seconds(30)
        }
        await server.announce("mail")
        let stalled = try RawViewer(path: server.socketPath, receiveBuffer: 4096)
        try stalled.handshake()
        let client = try await SyncClient.connect(to: server.socketPath, clientName: "healthy")
        let (_, healthy) = try await client.subscribe()

        // Errors are never dropped, so a viewer that reads none of them must overflow.
        let reporter = server.reporter(store: "mail", run: 1)
        _ = try await collect(1, from: healthy)
        let count = 20_000
        for chunk in stride(from: 1, through: count, by: 1000) {
            for i in chunk..<(chunk + 1000) { reporter.error(.warning, "message \(i) skipped") }
            let received = try await collect(1000, from: healthy).compactMap(\.event)
            XCTAssertEqual(received.last?.kind, .error(code: .warning, message: "message \(chunk + 999) skipped"))
        }

        let messages = try stalled.drainToEOF()
        let goodbye = try XCTUnwrap(messages.last?.goodbye, "the stalled viewer was told why")
        XCTAssertEqual(goodbye.code, .tooSlow)
        XCTAssertTrue(goodbye.message.contains("reconnect with since="), goodbye.message)
        // What it did get is a gap-free prefix: it can resume exactly where it stopped.
        let seqs = messages.compactMap { message -> UInt64? in
            if case .event(let event) = message { return event.seq }
            return nil
        }
        XCTAssertEqual(seqs, Array(seqs.first!...seqs.last!))
        let viewers = await server.viewerCount()
        XCTAssertEqual(viewers, 1, "only the healthy viewer remains")
        let counts = try await client.statusReply().viewers
        XCTAssertEqual(counts, ViewerCounts(watching: 1, droppedAsTooSlow: 1), "status tells of the drop")
        await server.stop()
    }
}
