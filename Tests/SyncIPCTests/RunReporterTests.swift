import SyncIPC
import SyncProtocol
import XCTest

final class RunReporterTests: XCTestCase {
    func testMisbehavingProvider_cannotCorruptWhatViewersSee() async throws {
        let server = try await makeServer()
        await server.announce("mail")
        let client = try await SyncClient.connect(to: server.socketPath, clientName: "test")
        let (_, updates) = try await client.subscribe()
        let reporter = server.reporter(store: "mail", run: 5)
        reporter.started(flags: .full, trigger: .schedule)
        reporter.progress(index: 12, max: 10)  // past max: clamped
        XCTAssertTrue(reporter.done(.ok))
        XCTAssertFalse(reporter.done(.failed), "a second Done is refused")
        XCTAssertEqual(reporter.progress(index: 1, max: 10), .cancel, "progress after Done tells the provider to stop")
        reporter.error(.network, "after done")
        server.reporter(store: "mail", run: 6).started(flags: .full, trigger: .schedule)

        let events = try await collect(5, from: updates).compactMap(\.event)
        XCTAssertEqual(events.map(\.kind), [
            .runStarted(flags: .full, trigger: .schedule),
            .progress(step: nil, index: 10, max: 10),
            .done(result: .ok),
            .runStarted(flags: .full, trigger: .schedule),
        ])
        XCTAssertEqual(events.last?.run, 6, "nothing of run 5 after its Done")
        await server.stop()
    }

    func testCancelRequest_isAnsweredOnNextProgress() async throws {
        let server = try await makeServer()
        let reporter = server.reporter(store: "mail", run: 1)
        XCTAssertEqual(reporter.progress(index: 1, max: 3), .continue)
        reporter.requestCancel()
        XCTAssertEqual(reporter.progress(index: 2, max: 3), .cancel)
        XCTAssertTrue(reporter.isCancelRequested)
        await server.stop()
    }

    func testDoneFromManyThreadsAtOnce_publishesExactlyOne() async throws {
        let server = try await makeServer()
        let reporter = server.reporter(store: "mail", run: 1)
        let first = server.publisher.nextSeq
        let wins = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<16 { group.addTask { reporter.done(.cancelled) } }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        XCTAssertEqual(wins, 1)
        XCTAssertEqual(server.publisher.nextSeq, first + 1)
        await server.stop()
    }

    func testCallbackStorm_costsOnePendingProgressPerRun_andKeepsOrderWithErrors() async throws {
        let server = try await makeServer()
        await server.announce("mail")
        let client = try await SyncClient.connect(to: server.socketPath, clientName: "test")
        let (_, updates) = try await client.subscribe()
        let reporter = server.reporter(store: "mail", run: 1)
        let first = server.publisher.nextSeq
        reporter.started(flags: .full, trigger: .schedule)
        let storm = 1_000_000
        for i in 1...storm {
            reporter.progress(index: UInt32(i), max: UInt32(storm))
            if i == storm / 2 { reporter.error(.warning, "halfway") }
        }
        reporter.done(.ok)
        let used = server.publisher.nextSeq - first
        // How many are merged depends on how fast the forwarder drains beside this tight loop
        // (171 k of the million in a debug build once it no longer idled between drains).
        XCTAssertLessThan(used, UInt64(storm / 2), "replaced Progress takes no new sequence number")

        var events: [SyncEvent] = []
        for try await update in updates {
            guard let event = update.event else { continue }
            events.append(event)
            if case .done = event.kind { break }
        }
        XCTAssertEqual(events.map(\.seq), events.map(\.seq).sorted())
        let halfway = try XCTUnwrap(events.firstIndex { $0.kind == .error(code: .warning, message: "halfway") })
        // Every Progress before the Error is from the first half, every one after from the second.
        for (position, event) in events.enumerated() {
            guard case .progress(_, let index, _) = event.kind else { continue }
            XCTAssertEqual(position < halfway, Int(index) <= storm / 2, "progress \(index) crossed the Error")
        }
        XCTAssertEqual(events.dropLast().last?.kind, .progress(step: nil, index: UInt32(storm), max: UInt32(storm)))
        await server.stop()
    }
}
