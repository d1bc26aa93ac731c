import SyncIPC
import SyncProtocol
import XCTest

final class ReplayTests: XCTestCase {
    func testReplay_whenSeqStillHeld_sendsMissedEventsAndNoSnapshot() async throws {
        let server = try await makeServer()
        await server.announce("mail")
        let reporter = server.reporter(store: "mail", run: 1)
        reporter.started(flags: .full, trigger: .schedule)
        let seen = server.publisher.nextSeq - 1
        reporter.progress(index: 1, max: 3)
        reporter.error(.warning, "one skipped")
        await server.waitForForwarder(server.publisher.nextSeq - 1)

        let client = try await SyncClient.connect(to: server.socketPath, clientName: "test")
        let (start, updates) = try await client.subscribe(since: seen)
        XCTAssertEqual(start, .replay(since: seen))
        reporter.done(.ok)
        let events = try await collect(3, from: updates).compactMap(\.event)
        XCTAssertEqual(events.map(\.seq), [seen + 1, seen + 2, seen + 3])
        XCTAssertEqual(events.last?.kind, .done(result: .ok))
        await server.stop()
    }

    func testReplay_whenSeqTooOld_saysResyncAndSendsSnapshot() async throws {
        let server = try await makeServer { $0.replayEvents = 10 }
        await server.announce("mail")
        let reporter = server.reporter(store: "mail", run: 1)
        reporter.started(flags: .full, trigger: .schedule)
        // One forwarded batch at a time, so the ring (which keeps whole batches) holds exactly 10.
        for i in 1...50 {
            reporter.progress(index: UInt32(i), max: 50)
            await server.waitForForwarder(server.publisher.nextSeq - 1)
        }
        let latest = server.publisher.nextSeq - 1

        let client = try await SyncClient.connect(to: server.socketPath, clientName: "test")
        let (start, updates) = try await client.subscribe(since: 3)
        XCTAssertEqual(start, .resync(since: 3, oldest: latest - 9))
        guard case .snapshot(let snapshot) = try await collect(1, from: updates)[0] else {
            return XCTFail("a resync must be followed by a snapshot")
        }
        XCTAssertEqual(snapshot.seq, latest)
        XCTAssertEqual(snapshot.stores.first?.run?.index, 50)
        await server.stop()
    }

    func testReplay_whenSeqFromAnEarlierServerLife_resyncs() async throws {
        // A viewer that saw seq 500 from a daemon that restarted without its state.
        let server = try await makeServer()
        await server.announce("mail")
        let client = try await SyncClient.connect(to: server.socketPath, clientName: "test")
        let (start, _) = try await client.subscribe(since: 500)
        guard case .resync(since: 500, _) = start else { return XCTFail("got \(start)") }
        await server.stop()
    }

    func testWatch_reconnectsAfterServerRestart_andReplaysWhatItMissed() async throws {
        let path = temporarySocketPath()
        var server = try await makeServer(path: path)
        await server.announce("mail")
        var iterator = SyncClient.watch(socketPath: path, clientName: "test", retryDelay: .milliseconds(50))
            .makeAsyncIterator()
        guard case .connected? = await iterator.next(), case .snapshot(let first)? = await iterator.next() else {
            return XCTFail("watch did not start with connected + snapshot")
        }
        XCTAssertEqual(first.stores.map(\.name), ["mail"])
        server.reporter(store: "mail", run: 1).done(.ok)
        guard case .event(let done)? = await iterator.next() else { return XCTFail("no event") }

        await server.stop()
        guard case .disconnected(let reason)? = await iterator.next() else { return XCTFail("no disconnect notice") }
        XCTAssertTrue(reason.contains("shutting down"), reason)

        // The daemon comes back, continuing its sequence numbers from its saved state.
        server = try await makeServer(path: path, firstSeq: done.seq + 1)
        await server.announce("mail")
        guard case .connected? = await iterator.next() else { return XCTFail("did not reconnect") }
        guard case .event(let next)? = await iterator.next() else { return XCTFail("no replayed event") }
        XCTAssertEqual(next.seq, done.seq + 1, "nothing skipped, nothing repeated")
        await server.stop()
    }
}
