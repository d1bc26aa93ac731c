import NIOCore
import XCTest
@testable import SyncProtocol

final class FrameTests: XCTestCase {
    private var allFrames: ByteBuffer {
        var buffer = ByteBuffer()
        for (_, message) in GoldenVectors.all { Frame.encode(message, into: &buffer) }
        return buffer
    }

    func testDecode_fedByteByByte_yieldsEveryMessageOnceWhole() throws {
        let bytes = Array(allFrames.readableBytesView)
        var inbox = ByteBuffer()
        var decoded: [Message] = []
        for byte in bytes {
            inbox.writeInteger(byte)
            let before = inbox
            if let message = try Frame.decode(from: &inbox, limit: Frame.defaultServerFrameLimit) {
                decoded.append(message)
            } else {
                XCTAssertEqual(inbox, before, "a partial frame leaves the buffer as it was")
            }
        }
        XCTAssertEqual(decoded, GoldenVectors.all.map(\.message))
    }

    func testDecode_inOneBatch_yieldsEveryMessage() throws {
        var buffer = allFrames
        var decoded: [Message] = []
        while let message = try Frame.decode(from: &buffer, limit: Frame.defaultServerFrameLimit) {
            decoded.append(message)
        }
        XCTAssertEqual(decoded, GoldenVectors.all.map(\.message))
        XCTAssertEqual(buffer.readableBytes, 0)
    }

    /// The fan-out encodes Progress on a path of its own; it must give the bytes of the general one.
    func testProgressFastPath_givesTheBytesOfTheFieldByFieldEncoding() throws {
        let long = String(repeating: "é", count: 40_000)  // 80 000 bytes: cut by the general path
        let vectors = GoldenVectors.all.compactMap { vector -> SyncEvent? in
            if case .event(let event) = vector.message { return event }
            return nil
        }
        let events = vectors + [
            SyncEvent(seq: 1, time: Timestamp(rawValue: 2), store: "", run: 3, kind: .progress(step: "", index: 0, max: 0)),
            SyncEvent(seq: .max, time: Timestamp(rawValue: .max), store: "flood01", run: .max,
                      kind: .progress(step: "item 2147483647", index: .max, max: .max), callbacks: .max),
            SyncEvent(seq: 9, time: .now(), store: "Boîte de réception — très longue, pas en ligne", run: 1,
                      kind: .progress(step: "📬 " + String(repeating: "x", count: 300), index: 5, max: 10)),
            SyncEvent(seq: 10, time: .now(), store: "mail", run: 1, kind: .progress(step: long, index: 1, max: 2)),
        ]
        for event in events {
            var fast = ByteBuffer()
            Frame.encode(event, into: &fast)
            var general = ByteBuffer()
            Frame.encode(Message.event(event), into: &general)
            XCTAssertEqual(Array(fast.readableBytesView), Array(general.readableBytesView), "\(event.kind)")
        }
        // Appended after other frames, it lands after them and leaves them alone.
        var both = ByteBuffer()
        Frame.encode(events[0], into: &both)
        Frame.encode(events[events.count - 2], into: &both)
        var expected = ByteBuffer()
        Frame.encode(Message.event(events[0]), into: &expected)
        Frame.encode(Message.event(events[events.count - 2]), into: &expected)
        XCTAssertEqual(both, expected)
    }

    func testHostileLength_isRejectedFromTheLengthFieldAlone() {
        // Only the 4 length bytes have arrived: the decoder must not wait for 4 GiB.
        var buffer = ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF])
        XCTAssertThrowsError(try Frame.decode(from: &buffer, limit: 1024)) { error in
            XCTAssertEqual(error as? ProtocolError, .frameTooLarge(length: 0xFFFF_FFFF, limit: 1024))
            XCTAssertEqual((error as? ProtocolError)?.status, .frameTooLarge)
        }
        XCTAssertEqual(buffer.readableBytes, 4, "left as it was")
    }

    func testLengthBelowTypeSize_isMalformed() {
        var buffer = ByteBuffer(bytes: [0, 0, 0, 1, 0x00])
        XCTAssertThrowsError(try Frame.decode(from: &buffer, limit: 1024)) { error in
            XCTAssertEqual(error as? ProtocolError, .frameTooShort(length: 1))
            XCTAssertEqual((error as? ProtocolError)?.status, .malformedFrame)
        }
    }

    func testTruncatedPayload_isMalformed() {
        // A Done event whose payload stops inside the store name.
        var buffer = ByteBuffer(bytes: [0, 0, 0, 0x1C, 0x00, 0x13] + [UInt8](repeating: 0, count: 24) + [0x00, 0x04])
        XCTAssertThrowsError(try Frame.decode(from: &buffer, limit: 1024)) { error in
            XCTAssertEqual(error as? ProtocolError, .truncatedPayload)
        }
    }

    func testUnknownType_isReturnedWithItsPayloadForSkipping() throws {
        var buffer = ByteBuffer(bytes: [0, 0, 0, 5, 0x7F, 0x01, 0xAA, 0xBB, 0xCC])
        let message = try Frame.decode(from: &buffer, limit: 1024)
        XCTAssertEqual(message, .unknown(type: MessageType(rawValue: 0x7F01), payload: ByteBuffer(bytes: [0xAA, 0xBB, 0xCC])))
    }

    func testTrailingFieldsFromNewerPeer_areIgnored() throws {
        let done = Message.event(SyncEvent(seq: 1, time: Timestamp(rawValue: 5), store: "s", run: 2, kind: .done(result: .ok)))
        var frame = Frame.encode(done)
        frame.writeBytes([1, 2, 3])  // a field from the future...
        frame.setInteger(UInt32(frame.readableBytes - 4), at: 0)  // ...covered by the length
        XCTAssertEqual(try Frame.decode(from: &frame, limit: 1024), done)
    }

    func testBadOptionalMarker_isMalformed() {
        var frame = Frame.encode(.event(SyncEvent(
            seq: 1, time: Timestamp(rawValue: 5), store: "s", run: 2, kind: .progress(step: nil, index: 1, max: 2))))
        frame.setInteger(UInt8(7), at: frame.writerIndex - 5)  // the marker, before the callbacks count
        XCTAssertThrowsError(try Frame.decode(from: &frame, limit: 1024)) { error in
            XCTAssertEqual(error as? ProtocolError, .invalidField("optional string marker 7"))
        }
    }

    func testLongText_isCutAtACharacterBoundary() throws {
        let message = String(repeating: "é", count: 40_000)  // 80 000 bytes of 2-byte characters
        let error = Message.event(SyncEvent(
            seq: 1, time: Timestamp(rawValue: 1), store: "s", run: 1, kind: .error(code: .failed, message: message)))
        var frame = Frame.encode(error)
        guard case .event(let decoded)? = try Frame.decode(from: &frame, limit: Frame.defaultServerFrameLimit),
              case .error(_, let text) = decoded.kind
        else { return XCTFail("did not decode") }
        XCTAssertEqual(text.utf8.count, 65_534)
        XCTAssertEqual(text, String(repeating: "é", count: 32_767))
    }

    func testInvalidUTF8_isReplacedNotFatal() throws {
        var frame = Frame.encode(.goodbye(Goodbye(code: .failed, message: "ab")))
        frame.setInteger(UInt8(0xFF), at: frame.writerIndex - 1)
        guard case .goodbye(let goodbye)? = try Frame.decode(from: &frame, limit: 1024) else { return XCTFail() }
        XCTAssertEqual(goodbye.message, "a\u{FFFD}")
    }

    func testLyingListCount_failsWithoutAllocating() {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(0))
        buffer.writeInteger(MessageType.status.rawValue)
        buffer.writeInteger(UInt32(1))  // request id
        buffer.writeInteger(UInt16(1000))  // 1000 stores follow... but none do
        buffer.setInteger(UInt32(buffer.readableBytes - 4), at: 0)
        XCTAssertThrowsError(try Frame.decode(from: &buffer, limit: 1024)) { error in
            XCTAssertEqual(error as? ProtocolError, .truncatedPayload)
        }
    }

    func testRequestNamingTooManyStores_isRefusedBeforeDecodingThem() {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(0))
        buffer.writeInteger(MessageType.errors.rawValue)
        buffer.writeInteger(UInt32(1))  // request id
        buffer.writeInteger(UInt16(Request.maxStoreNames + 1))
        for _ in 0...Request.maxStoreNames { buffer.writeInteger(UInt16(4)); buffer.writeString("demo") }
        buffer.setInteger(UInt32(buffer.readableBytes - 4), at: 0)
        XCTAssertThrowsError(try Frame.decode(from: &buffer, limit: 65_536)) { error in
            XCTAssertEqual(error as? ProtocolError, .invalidField("a list of 1025 names; at most 1024 are accepted"))
        }
    }
}

final class SyncStatusTests: XCTestCase {
    func testSeverity() {
        XCTAssertTrue(SyncStatus.ok.isOK)
        XCTAssertFalse(SyncStatus.ok.isWarning)
        XCTAssertTrue(SyncStatus.partial.isWarning)
        XCTAssertFalse(SyncStatus.partial.isFailure)
        XCTAssertTrue(SyncStatus.cancelled.isFailure)
        XCTAssertFalse(SyncStatus.cancelled.isWarning)
    }

    func testNames_areUniqueAndRoundTrip() {
        let names = SyncStatus.allKnown.map(\.name)
        XCTAssertEqual(Set(names).count, names.count)
        for status in SyncStatus.allKnown { XCTAssertEqual(SyncStatus(name: status.name), status) }
    }

    func testUnknownCode_readsAsHex() {
        let code = SyncStatus(0x8004_0A99)
        XCTAssertEqual(code.name, "0x80040A99")
        XCTAssertEqual(code.text, "error 0x80040A99")
        XCTAssertEqual(SyncStatus(0x0000_0007).text, "warning 0x00000007")
    }

    func testMAPIValues() {
        XCTAssertEqual(SyncStatus.cancelled.rawValue, 0x8004_0113)  // MAPI_E_USER_CANCEL
        XCTAssertEqual(SyncStatus.authFailed.rawValue, 0x8004_0111)  // MAPI_E_LOGON_FAILED
        XCTAssertEqual(SyncStatus.partial.rawValue, 0x0004_0680)  // MAPI_W_PARTIAL_COMPLETION
    }

    func testFlags_haveMAPIBitsAndReadableNames() {
        XCTAssertEqual(SyncFlags.downloadContents.rawValue, 0x80)
        XCTAssertEqual(SyncFlags.headersOnly.rawValue, 0x0200_0000)
        XCTAssertEqual(SyncFlags.onDemand.rawValue, 0x2000_0000)
        XCTAssertEqual(SyncFlags([.downloadHierarchy, .onDemand]).description, "download-hierarchy,on-demand")
        XCTAssertEqual(SyncFlags(rawValue: 0x4).description, "0x4")
    }

    func testVersionNegotiation() {
        XCTAssertEqual(ProtocolVersion.negotiate(1...3), 1)
        XCTAssertNil(ProtocolVersion.negotiate(2...3))
    }
}
