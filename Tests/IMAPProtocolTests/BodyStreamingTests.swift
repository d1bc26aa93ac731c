import NIOCore
import XCTest

@testable import IMAPProtocol

/// Large bodies are streamed: the parser hands out slices as bytes arrive and never holds a body.
final class BodyStreamingTests: XCTestCase {
    private static func bodyByte(_ index: Int) -> UInt8 { UInt8(truncatingIfNeeded: index &* 31 &+ index >> 9) }

    func testTenMebibyteBody_fed64KiBAtATime_staysInASmallBuffer() throws {
        let size = 10 << 20
        let feed = 64 << 10
        var input = Array("* 1 FETCH (UID 42 BODY[] {\(size)}\r\n".utf8)
        let headerLength = input.count
        input.reserveCapacity(headerLength + size + 64)
        for index in 0..<size { input.append(Self.bodyByte(index)) }
        input += Array(" FLAGS (\\Seen))\r\nA0007 OK Fetch completed.\r\n".utf8)

        var parser = ResponseParser()
        var inbox = ByteBuffer()
        var others: [ResponseEvent] = []
        var received = 0
        var chunks = 0
        var mismatches = 0
        var largestLeftover = 0
        var largestCapacity = 0
        for start in stride(from: 0, to: input.count, by: feed) {
            inbox.writeBytes(input[start..<min(start + feed, input.count)])
            while let event = try parser.next(&inbox) {
                guard case .bodyChunk(let chunk) = event else {
                    others.append(event)
                    continue
                }
                chunks += 1
                XCTAssertLessThanOrEqual(chunk.readableBytes, feed)
                chunk.withUnsafeReadableBytes { bytes in
                    for (offset, byte) in bytes.enumerated() where byte != Self.bodyByte(received + offset) {
                        mismatches += 1
                    }
                }
                received += chunk.readableBytes
            }
            // Between feeds the parser has consumed everything but a partial token.
            largestLeftover = max(largestLeftover, inbox.readableBytes)
            inbox.discardReadBytes()
            largestCapacity = max(largestCapacity, inbox.capacity)
        }
        XCTAssertEqual(received, size)
        XCTAssertEqual(mismatches, 0)
        XCTAssertGreaterThanOrEqual(chunks, size / feed)
        XCTAssertLessThan(largestLeftover, 64, "the parser held body bytes back")
        XCTAssertLessThanOrEqual(largestCapacity, 256 << 10, "the buffer grew with the body")
        XCTAssertEqual(inbox.readableBytes, 0)
        XCTAssertEqual(
            others,
            [
                .fetchStart(1), .fetchAttribute(.uid(42)), .bodyStart(.complete, origin: nil, size: size), .bodyEnd,
                .fetchAttribute(.flags([.seen])), .fetchEnd, .tagged(tag: "A0007", .ok(nil, "Fetch completed.")),
            ])
    }

    func testBodyChunks_areHandedOutAsSoonAsBytesArrive() throws {
        var parser = ResponseParser()
        var inbox = buffer("* 3 FETCH (BODY[] {10}\r\nab")
        XCTAssertEqual(try parser.next(&inbox), .fetchStart(3))
        XCTAssertEqual(try parser.next(&inbox), .bodyStart(.complete, origin: nil, size: 10))
        XCTAssertFalse(parser.isAtResponseBoundary)
        XCTAssertEqual(try parser.next(&inbox), .bodyChunk(buffer("ab")))
        XCTAssertNil(try parser.next(&inbox))
        inbox.writeString("cdefghij)\r\n* 4 EXISTS\r\n")
        XCTAssertEqual(try parser.next(&inbox), .bodyChunk(buffer("cdefghij")), "a chunk stops at the literal's end")
        XCTAssertEqual(try parser.next(&inbox), .bodyEnd)
        XCTAssertEqual(try parser.next(&inbox), .fetchEnd)
        XCTAssertTrue(parser.isAtResponseBoundary)
        XCTAssertEqual(try parser.next(&inbox), .exists(4))
        XCTAssertNil(try parser.next(&inbox))
    }

    func testBodyChunk_isASliceOfTheInputNotACopy() throws {
        var parser = ResponseParser()
        var inbox = buffer("* 1 FETCH (BODY[] {4}\r\nbody)\r\n")
        _ = try parser.next(&inbox)
        _ = try parser.next(&inbox)
        let event = try parser.next(&inbox)
        guard case .bodyChunk(let chunk)? = event else { return XCTFail("expected a chunk, got \(String(describing: event))") }
        let sameStorage = chunk.withUnsafeReadableBytes { chunkBytes in
            inbox.withUnsafeReadableBytes { rest in chunkBytes.baseAddress! + 4 == rest.baseAddress! }
        }
        XCTAssertTrue(sameStorage)
    }

    func testManyBodiesInOneBuffer_eachEndsWhereItsLiteralEnds() {
        var transcript = ""
        var expected: [ResponseEvent] = []
        for number in 1...20 {
            let body = String(repeating: "line \(number)\n", count: number)
            transcript += "* \(number) FETCH (UID \(number + 100) BODY[] \(literal(body)))\n"
            expected += fetchWithBody(UInt32(number), before: [.uid(UInt32(number + 100))], body: body)
        }
        transcript += "A1 OK done\n"
        expected.append(.tagged(tag: "A1", .ok(nil, "done")))
        assertEvents(wire(transcript), expected)
    }
}
