import NIOCore
import SyncIPC
import SyncProtocol
import XCTest

/// Each hostile or broken peer is closed with a reason, and nobody else notices.
final class BadInputTests: XCTestCase {
    var server: SyncServer!
    var bystander: SyncClient!

    override func setUp() async throws {
        server = try await makeServer {
            $0.handshakeTimeout = .milliseconds(300)
            $0.maxViewers = 8
            $0.reservedControlSlots = 0
            $0.maxViewersPerUser = 100
        }
        await server.announce("mail")
        bystander = try await SyncClient.connect(to: server.socketPath, clientName: "bystander")
    }

    override func tearDown() async throws {
        // The well-behaved viewer still works after whatever the test did.
        let stores = try await bystander.status().stores.map(\.name)
        XCTAssertEqual(stores, ["mail"])
        await server.stop()
    }

    private func goodbye(after bytes: [UInt8]) throws -> Goodbye? {
        let peer = try RawViewer(path: server.socketPath)
        peer.send(bytes)
        return try peer.drainToEOF().last?.goodbye
    }

    func testGarbageBytes_closeWithReason() throws {
        let garbage = Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        let goodbye = try XCTUnwrap(try goodbye(after: garbage))
        XCTAssertEqual(goodbye.code, .frameTooLarge, "'GET ' read as a length is huge")
    }

    func testOversizeLength_refusedBeforeBuffering() throws {
        let goodbye = try XCTUnwrap(try goodbye(after: [0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x01]))
        XCTAssertEqual(goodbye.code, .frameTooLarge)
        XCTAssertTrue(goodbye.message.contains("4294967295"), goodbye.message)
    }

    func testLengthTooShortForType_isMalformed() throws {
        let goodbye = try XCTUnwrap(try goodbye(after: [0, 0, 0, 1, 0]))
        XCTAssertEqual(goodbye.code, .malformedFrame)
    }

    func testTruncatedPayload_isMalformed() throws {
        // A hello whose length covers only half its magic.
        let goodbye = try XCTUnwrap(try goodbye(after: [0, 0, 0, 4, 0, 1, 0x53, 0x59]))
        XCTAssertEqual(goodbye.code, .malformedFrame)
    }

    func testWrongMagic_isMalformed() throws {
        var hello = Array(Frame.encode(.hello(Hello(client: "x"))).readableBytesView)
        hello[6] = 0x58
        let goodbye = try XCTUnwrap(try goodbye(after: hello))
        XCTAssertEqual(goodbye.code, .malformedFrame)
    }

    func testNoCommonVersion_saysWhichVersionsTheServerSpeaks() throws {
        let hello = Frame.encode(.hello(Hello(versions: 7...9, client: "future")))
        let goodbye = try XCTUnwrap(try goodbye(after: Array(hello.readableBytesView)))
        XCTAssertEqual(goodbye.code, .unsupportedVersion)
        XCTAssertEqual(goodbye.message, "client speaks versions 7...9, server speaks 1...1")
    }

    func testRequestBeforeHello_isUnexpected() throws {
        let request = Frame.encode(.request(Request(id: 1, command: .status(stores: []))))
        let goodbye = try XCTUnwrap(try goodbye(after: Array(request.readableBytesView)))
        XCTAssertEqual(goodbye.code, .unexpectedMessage)
    }

    func testServerMessageFromViewer_isUnexpected() throws {
        let peer = try RawViewer(path: server.socketPath)
        try peer.handshake(subscribe: false)
        peer.send(.welcome(Welcome(version: 1, access: .control, seq: 0, server: "fake")))
        XCTAssertEqual(try peer.drainToEOF().last?.goodbye?.code, .unexpectedMessage)
    }

    func testTruncatedFrameThenEOF_closesQuietly() throws {
        let peer = try RawViewer(path: server.socketPath)
        try peer.handshake()
        peer.send([0, 0, 0, 40, 0, 0x41, 1, 2])
        shutdown(peer.fd, Int32(SHUT_WR))
        XCTAssertNil(try peer.drainToEOF().last?.goodbye)
    }

    func testUnknownMessageType_isSkipped() throws {
        let peer = try RawViewer(path: server.socketPath)
        try peer.handshake(subscribe: false)
        var future = ByteBuffer()
        Frame.encode(.unknown(type: MessageType(rawValue: 0x0BAD), payload: ByteBuffer(bytes: [1, 2, 3])), into: &future)
        peer.send(Array(future.readableBytesView))
        peer.send(.request(Request(id: 9, command: .status(stores: []))))
        guard case .statusReply(let reply)? = try peer.next() else { return XCTFail("no status reply") }
        XCTAssertEqual(reply.requestID, 9)
    }

    func testSilentPeer_isClosedAfterHandshakeTimeout() throws {
        let peer = try RawViewer(path: server.socketPath)
        let started = ContinuousClock.now
        XCTAssertEqual(try peer.drainToEOF().last?.goodbye?.code, .handshakeTimeout)
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(5))
    }

    func testConnectionFlood_pastMaxIsRefused() throws {
        // The bystander holds one of the 8 places.
        var peers: [RawViewer] = []
        for _ in 0..<7 {
            let peer = try RawViewer(path: server.socketPath)
            try peer.handshake()
            peers.append(peer)
        }
        let extra = try RawViewer(path: server.socketPath)
        XCTAssertEqual(try extra.drainToEOF().last?.goodbye?.code, .tooManyViewers)
        // A place frees up when a viewer leaves.
        peers.removeLast()
        var admitted = false
        for _ in 0..<100 where !admitted {
            let retry = try RawViewer(path: server.socketPath)
            retry.send(.hello(Hello(client: "retry")))
            if case .welcome? = try retry.next() { admitted = true } else { usleep(10_000) }
        }
        XCTAssertTrue(admitted)
    }
}
