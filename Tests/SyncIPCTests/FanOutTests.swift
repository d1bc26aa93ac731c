#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import SyncIPC
import SyncProtocol
import TestSupport
import XCTest

final class FanOutTests: XCTestCase {
    func testSubscribe_getsSnapshotThenLiveEventsInOrder() async throws {
        let server = try await makeServer()
        await server.announce("mail", provider: "imap")
        let reporter = server.reporter(store: "mail", run: 7)
        reporter.started(flags: .full, trigger: .schedule)
        reporter.progress(step: "INBOX", index: 1, max: 10)
        await server.waitForForwarder(server.publisher.nextSeq - 1)

        let client = try await SyncClient.connect(to: server.socketPath, clientName: "test")
        let (start, updates) = try await client.subscribe()
        XCTAssertEqual(start, .snapshot)
        reporter.progress(index: 2, max: 10)
        reporter.error(.warning, "one message skipped")
        reporter.done(.ok)

        let received = try await collect(4, from: updates)
        guard case .snapshot(let snapshot) = received[0] else { return XCTFail("expected a snapshot first") }
        XCTAssertEqual(snapshot.stores.map(\.name), ["mail"])
        XCTAssertEqual(snapshot.stores[0].info.provider, "imap")
        XCTAssertEqual(snapshot.stores[0].run?.id, 7)
        XCTAssertEqual(snapshot.stores[0].run?.step, "INBOX")
        XCTAssertEqual(snapshot.stores[0].run?.index, 1)

        let events = received.dropFirst().compactMap(\.event)
        XCTAssertEqual(events.map(\.kind), [
            .progress(step: nil, index: 2, max: 10),
            .error(code: .warning, message: "one message skipped"),
            .done(result: .ok),
        ])
        XCTAssertEqual(events.map(\.seq), [snapshot.seq + 1, snapshot.seq + 2, snapshot.seq + 3])
        XCTAssert(events.allSatisfy { $0.store == "mail" && $0.run == 7 })
        await client.close()
        await server.stop()
    }

    func testManyViewers_eachGetsEveryEventOnceInOrder() async throws {
        let server = try await makeServer { $0.maxViewersPerUser = 100 }
        await server.announce("a")
        await server.announce("b")
        var streams: [AsyncThrowingStream<ViewerUpdate, Error>] = []
        var clients: [SyncClient] = []
        for _ in 0..<20 {
            let client = try await SyncClient.connect(to: server.socketPath, clientName: "test")
            clients.append(client)
            streams.append(try await client.subscribe().updates)
        }
        // Publish from two threads at once, as two providers would. (Straight to the publisher:
        // a RunReporter would merge Progress the forwarder has not taken yet.)
        let perThread = 2000
        let publisher = server.publisher
        await withTaskGroup(of: Void.self) { group in
            for store in ["a", "b"] {
                let run: RunID = store == "a" ? 1 : 2
                group.addTask {
                    publisher.publish(store: store, run: run, .runStarted(flags: .full, trigger: .schedule))
                    for i in 1...perThread {
                        publisher.publish(store: store, run: run, .progress(step: nil, index: UInt32(i), max: UInt32(perThread)))
                    }
                }
            }
        }
        for stream in streams {
            let received = try await collect(1 + 2 * (perThread + 1), from: stream)
            let seqs = received.compactMap(\.event?.seq)
            XCTAssertEqual(seqs, seqs.sorted())
            XCTAssertEqual(Set(seqs).count, seqs.count, "no event twice")
            let lastA = received.compactMap(\.event).last { $0.store == "a" }
            XCTAssertEqual(lastA?.kind, .progress(step: nil, index: UInt32(perThread), max: UInt32(perThread)))
        }
        for client in clients { await client.close() }
        await server.stop()
    }

    func testStoreFilter_viewerSeesOnlyItsStores() async throws {
        let server = try await makeServer()
        await server.announce("mail")
        await server.announce("notes")
        let client = try await SyncClient.connect(to: server.socketPath, clientName: "test")
        let (_, updates) = try await client.subscribe(stores: ["notes"])
        server.reporter(store: "mail", run: 1).done(.ok)
        server.reporter(store: "notes", run: 2).done(.failed)
        let received = try await collect(2, from: updates)
        guard case .snapshot(let snapshot) = received[0] else { return XCTFail("no snapshot") }
        XCTAssertEqual(snapshot.stores.map(\.name), ["notes"])
        XCTAssertEqual(received[1].event?.store, "notes")
        XCTAssertEqual(received[1].event?.kind, .done(result: .failed))
        await server.stop()
    }

    func testStatus_reflectsFinishedRun() async throws {
        let server = try await makeServer()
        await server.announce("mail")
        let reporter = server.reporter(store: "mail", run: 3)
        reporter.started(flags: .full, trigger: .onDemand)
        reporter.error(.network, "reset")
        reporter.done(.partial)
        await server.waitForForwarder(server.publisher.nextSeq - 1)
        let client = try await SyncClient.connect(to: server.socketPath, clientName: "test")
        let snapshot = try await client.status()
        XCTAssertNil(snapshot.stores[0].run)
        XCTAssertEqual(snapshot.stores[0].info.lastResult, .partial)
        XCTAssertNotNil(snapshot.stores[0].info.lastSuccess, "a warning result still counts as success")
        await server.stop()
    }

    func testStatus_unknownStore_namesTheKnownOnes() async throws {
        let server = try await makeServer()
        await server.announce("mail")
        await server.announce("notes")
        let client = try await SyncClient.connect(to: server.socketPath, clientName: "test")
        do {
            _ = try await client.status(stores: ["mial"])
            XCTFail("status of an unknown store succeeded")
        } catch SyncClientError.refused(let reply) {
            XCTAssertEqual(reply.status, .notFound)
            XCTAssertEqual(reply.message, "no store named 'mial'; known stores: mail, notes")
        }
        // The connection is still usable.
        let stores = try await client.status().stores
        XCTAssertEqual(stores.count, 2)
        await server.stop()
    }

    func testStop_viewersGetShuttingDownGoodbyeAfterPendingEvents() async throws {
        let server = try await makeServer()
        let client = try await SyncClient.connect(to: server.socketPath, clientName: "test")
        let (_, updates) = try await client.subscribe()
        server.reporter(store: "mail", run: 1).done(.cancelled)
        await server.stop()
        var events: [SyncEvent] = []
        do {
            for try await update in updates { if let event = update.event { events.append(event) } }
            XCTFail("stream ended without an error")
        } catch SyncClientError.closedByServer(let goodbye) {
            XCTAssertEqual(goodbye.code, .shuttingDown)
        }
        XCTAssertEqual(events.map(\.kind), [.done(result: .cancelled)], "the Done published before stop arrives")
    }

    func testAdoptedDescriptor_servesViewers() async throws {
        // What systemd socket activation hands over: a bound, listening socket.
        let path = temporarySocketPath()
        let fd = try bindListeningSocket(path)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let server = SyncServer(configuration: .init(listener: .descriptor(fd), logger: logger))
        try await server.start()
        let client = try await SyncClient.connect(to: path, clientName: "test")
        XCTAssertEqual(client.welcome.version, 1)
        await server.stop()
        unlink(path)
    }

    func testSecondServerOnLivePath_isRefused_staleFileIsReplaced() async throws {
        let server = try await makeServer()
        do {
            _ = try await makeServer(path: server.socketPath)
            XCTFail("a second server stole the socket")
        } catch {
            XCTAssertEqual("\(error)", "another server is already listening on \(server.socketPath)")
        }
        // A viewer of the first server is unaffected.
        _ = try await SyncClient.connect(to: server.socketPath, clientName: "test")
        await server.stop()

        // A socket file left by a crashed server is no obstacle.
        let path = temporarySocketPath()
        let fd = try bindListeningSocket(path)
        close(fd)
        let second = try await makeServer(path: path)
        _ = try await SyncClient.connect(to: path, clientName: "test")
        await second.stop()
    }
}
