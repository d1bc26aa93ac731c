import NIOCore
import XCTest

@testable import IMAPProtocol

/// How a test feeds bytes to the parser.
enum Feed: CustomStringConvertible {
    case batch
    case byteByByte
    case chunks(Int)

    /// Every way each parser test is run; the results must agree.
    static let all: [Feed] = [.batch, .byteByByte, .chunks(2), .chunks(3), .chunks(7), .chunks(64)]

    var description: String {
        switch self {
        case .batch: return "batch"
        case .byteByByte: return "byte-by-byte"
        case .chunks(let size): return "chunks of \(size)"
        }
    }
}

/// What a parse run produced: events (body chunks merged), the error if one was thrown, and the
/// bytes left unconsumed.
struct ParseOutcome: Equatable {
    var events: [ResponseEvent]
    var error: IMAPParseError.Code?
    var leftover: Int
}

/// `text` with every LF not already preceded by CR turned into CRLF: transcripts are typed with
/// newlines.
func crlf(_ text: String) -> String {
    var bytes: [UInt8] = []
    for byte in text.utf8 {
        if byte == 0x0A && bytes.last != 0x0D { bytes.append(0x0D) }
        bytes.append(byte)
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// The bytes of `text` with line ends made CRLF (see ``crlf(_:)``).
func wire(_ text: String) -> [UInt8] { Array(crlf(text).utf8) }

/// `{n}` CRLF and `content` (line ends made CRLF): a literal whose length is counted, not typed.
func literal(_ content: String) -> String {
    let content = crlf(content)
    return "{\(content.utf8.count)}\r\n" + content
}

/// A buffer with these bytes.
func buffer(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

/// Merges consecutive body chunks, so runs that split a body differently compare equal.
func mergingChunks(_ events: [ResponseEvent]) -> [ResponseEvent] {
    var merged: [ResponseEvent] = []
    for event in events {
        if case .bodyChunk(var next) = event, case .bodyChunk(var previous)? = merged.last {
            previous.writeBuffer(&next)
            merged[merged.count - 1] = .bodyChunk(previous)
        } else {
            merged.append(event)
        }
    }
    return merged
}

/// Runs the parser over `bytes` fed as `feed`, checking after every nil that the buffer is
/// exactly as it was.
func parse(
    _ bytes: [UInt8], feed: Feed, limits: ResponseParser.Limits = .init(), file: StaticString = #filePath,
    line: UInt = #line
) -> ParseOutcome {
    var parser = ResponseParser(limits: limits)
    var inbox = ByteBuffer()
    var events: [ResponseEvent] = []
    let size: Int
    switch feed {
    case .batch: size = max(bytes.count, 1)
    case .byteByByte: size = 1
    case .chunks(let n): size = n
    }
    var offset = 0
    repeat {
        let end = min(offset + size, bytes.count)
        inbox.writeBytes(bytes[offset..<end])
        offset = end
        while true {
            let before = inbox
            let event: ResponseEvent?
            do {
                event = try parser.next(&inbox)
            } catch {
                return ParseOutcome(events: mergingChunks(events), error: error.code, leftover: inbox.readableBytes)
            }
            guard let event else {
                XCTAssertEqual(inbox, before, "nil must leave the buffer as it was (\(feed))", file: file, line: line)
                XCTAssertEqual(inbox.readerIndex, before.readerIndex, file: file, line: line)
                break
            }
            events.append(event)
        }
    } while offset < bytes.count
    return ParseOutcome(events: mergingChunks(events), error: nil, leftover: inbox.readableBytes)
}

/// Parses `bytes` in every ``Feed``, asserts that all agree, and returns the batch outcome.
@discardableResult
func parseAllWays(
    _ bytes: [UInt8], limits: ResponseParser.Limits = .init(), file: StaticString = #filePath, line: UInt = #line
) -> ParseOutcome {
    let reference = parse(bytes, feed: .batch, limits: limits, file: file, line: line)
    for feed in Feed.all.dropFirst() {
        let outcome = parse(bytes, feed: feed, limits: limits, file: file, line: line)
        XCTAssertEqual(outcome.events, reference.events, "events differ when fed \(feed)", file: file, line: line)
        XCTAssertEqual(outcome.error, reference.error, "error differs when fed \(feed)", file: file, line: line)
    }
    return reference
}

/// Asserts that `bytes` parse, in every feed, into exactly `expected` with nothing left over.
func assertEvents(
    _ bytes: [UInt8], _ expected: [ResponseEvent], limits: ResponseParser.Limits = .init(),
    file: StaticString = #filePath, line: UInt = #line
) {
    let outcome = parseAllWays(bytes, limits: limits, file: file, line: line)
    XCTAssertNil(outcome.error, "unexpected error", file: file, line: line)
    XCTAssertEqual(outcome.events, expected, file: file, line: line)
    XCTAssertEqual(outcome.leftover, 0, "bytes left unconsumed", file: file, line: line)
}

/// Asserts that `bytes` make the parser throw `code` in every feed, after `eventsBefore`.
func assertFailure(
    _ bytes: [UInt8], _ code: IMAPParseError.Code, eventsBefore: [ResponseEvent] = [],
    limits: ResponseParser.Limits = .init(), file: StaticString = #filePath, line: UInt = #line
) {
    let outcome = parseAllWays(bytes, limits: limits, file: file, line: line)
    XCTAssertEqual(outcome.error, code, file: file, line: line)
    XCTAssertEqual(outcome.events, eventsBefore, file: file, line: line)
}

/// The events of one FETCH response holding one body.
func fetchWithBody(
    _ sequenceNumber: UInt32, before: [FetchAttribute] = [], section: BodySection = .complete, origin: Int? = nil,
    body: String, after: [FetchAttribute] = []
) -> [ResponseEvent] {
    let body = crlf(body)
    var events: [ResponseEvent] = [.fetchStart(sequenceNumber)]
    events += before.map(ResponseEvent.fetchAttribute)
    events.append(.bodyStart(section, origin: origin, size: body.utf8.count))
    if !body.isEmpty { events.append(.bodyChunk(buffer(body))) }
    events.append(.bodyEnd)
    events += after.map(ResponseEvent.fetchAttribute)
    events.append(.fetchEnd)
    return events
}

extension StatusResponse {
    static func ok(_ code: ResponseCode? = nil, _ text: String) -> StatusResponse { StatusResponse(.ok, code: code, text: text) }
}
