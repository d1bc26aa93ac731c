import NIOCore
import XCTest

@testable import IMAPProtocol

/// Hostile input: literal lengths, long lines, deep nesting, garbage; and that a failed parser
/// stays failed.
final class LimitsAndGarbageTests: XCTestCase {
    func testHostileBodyLength_throwsFromTheHeaderAlone() {
        // Only the literal header has arrived: the parser must not wait for a gigabyte.
        assertFailure(wire("* 1 FETCH (BODY[] {1073741825}\n"), .literalTooLarge, eventsBefore: [.fetchStart(1)])
        assertFailure(wire("* 1 FETCH (BODY[] {99999999999999999999999999}\n"), .literalTooLarge, eventsBefore: [.fetchStart(1)])
    }

    func testHostileBodyLength_throwsBeforeTheClosingBrace() {
        let outcome = parse(Array("* 1 FETCH (BODY[] {99999999999".utf8), feed: .byteByByte)
        XCTAssertEqual(outcome.error, .literalTooLarge)
        XCTAssertEqual(outcome.events, [.fetchStart(1)])
    }

    func testBodyLength_atTheLimitIsAccepted_aboveIsNot() {
        let limits = ResponseParser.Limits(maxBodySize: 5)
        assertEvents(wire("* 1 FETCH (BODY[] {5}\n12345)\n"), fetchWithBody(1, body: "12345"), limits: limits)
        assertFailure(wire("* 1 FETCH (BODY[] {6}\n"), .literalTooLarge, eventsBefore: [.fetchStart(1)], limits: limits)
    }

    func testStringLiteral_aboveLimit_throwsBeforeItsData() {
        let limits = ResponseParser.Limits(maxStringLiteralSize: 8)
        assertEvents(
            wire("* LIST () \"/\" {8}\n12345678\n"),
            [.list(MailboxListEntry(attributes: [], delimiter: "/", name: MailboxName("12345678")))], limits: limits)
        assertFailure(wire("* LIST () \"/\" {9}\n"), .literalTooLarge, limits: limits)
        assertFailure(wire("* 1 FETCH (ENVELOPE ({9}\n"), .literalTooLarge, eventsBefore: [.fetchStart(1)], limits: limits)
        // The default string limit is 64 KiB.
        assertFailure(wire("* LIST () \"/\" {65537}\n"), .literalTooLarge)
    }

    func testLongLine_throwsBeforeItsEndArrives() {
        let limits = ResponseParser.Limits(maxLineLength: 64)
        let endless = Array("* OK ".utf8) + [UInt8](repeating: 0x61, count: 200)
        for feed in Feed.all {
            XCTAssertEqual(parse(endless, feed: feed, limits: limits).error, .lineTooLong, "\(feed)")
        }
    }

    func testLineLength_countsBytesBeforeLF() {
        let limits = ResponseParser.Limits(maxLineLength: 64)
        let fits = "* OK " + String(repeating: "a", count: 58)  // 63 bytes, then CR: 64 before the LF
        assertEvents(wire(fits + "\n"), [.untagged(.ok(nil, String(repeating: "a", count: 58)))], limits: limits)
        assertFailure(wire(fits + "b\n"), .lineTooLong, limits: limits)
    }

    func testLineLimit_defaultIsOneMebibyte() {
        let text = String(repeating: "x", count: 1 << 20)
        let outcome = parse(wire("* OK " + text + "\n"), feed: .chunks(65536))
        XCTAssertEqual(outcome.error, .lineTooLong)
        let fits = String(repeating: "x", count: (1 << 20) - 6)
        XCTAssertEqual(parse(wire("* OK " + fits + "\n"), feed: .chunks(65536)).events, [.untagged(.ok(nil, fits))])
    }

    func testLineLimit_spansTheAttributesOfOneFetchLine() {
        // Each attribute is small, but together they make one line longer than the limit; the
        // error comes after the same events however the bytes are split.
        let limits = ResponseParser.Limits(maxLineLength: 40)
        let outcome = parseAllWays(wire("* 1 FETCH (UID 1 UID 2 UID 3 UID 4 UID 5 UID 6 UID 7)\n"), limits: limits)
        XCTAssertEqual(outcome.error, .lineTooLong)
        // "UID 5" ends at byte 39; the SP after it is byte 40, the last one a 40-byte line may reach.
        XCTAssertEqual(outcome.events, [.fetchStart(1)] + (1...5).map { .fetchAttribute(.uid($0)) })
    }

    func testLiteralData_doesNotCountTowardTheLineLimit() {
        let limits = ResponseParser.Limits(maxLineLength: 40, maxStringLiteralSize: 1000)
        let big = String(repeating: "n", count: 500)
        assertEvents(
            wire("* LIST () \"/\" {500}\n\(big)\n* 1 FETCH (BODY[] {500}\n\(big) UID 3)\n"),
            [.list(MailboxListEntry(attributes: [], delimiter: "/", name: MailboxName(big)))]
                + fetchWithBody(1, body: big, after: [.uid(3)]),
            limits: limits)
    }

    func testGarbageLines_throwSyntax() {
        for garbage in ["\u{1}\u{2}\n", ")))\n", "\n", " * OK\n", "*OK\n", "* \n", "* (x)\n", "A1\n", "+OK\r\r\n", "* OK a\rb\n"] {
            let outcome = parseAllWays(wire(garbage))
            XCTAssertEqual(outcome.error, .syntax, "\(garbage.debugDescription) gave \(outcome)")
        }
    }

    func testGarbageAfterKnownResponse_throwsSyntax() {
        assertFailure(wire("* 5 EXISTS junk\n"), .syntax)
        assertFailure(wire("* LIST garbage\n"), .syntax)
        assertFailure(wire("* FLAGS \\Seen\n"), .syntax)
        assertFailure(wire("* CAPABILITY IMAP4rev1 (x)\n"), .syntax)
        assertFailure(wire("* OK [UIDNEXT 5]x\n* STATUS \"unterminated\n"), .syntax, eventsBefore: [.untagged(.ok(.uidNext(5), "x"))])
        assertFailure(wire("* LIST () \"/\" \"a\\xb\"\n"), .syntax)
    }

    func testLoneCR_isNotALineEnd() {
        assertFailure(Array("A1 OK\rA2 OK\r\n".utf8), .syntax)
    }

    func testFailedParser_staysFailed() throws {
        var parser = ResponseParser()
        var input = buffer("* 1 FETCH (BODY[] {99999999999}\r\n")
        XCTAssertEqual(try parser.next(&input), .fetchStart(1))
        XCTAssertThrowsError(try parser.next(&input))
        var good = buffer("A1 OK fine\r\n")
        XCTAssertThrowsError(try parser.next(&good)) { error in
            XCTAssertEqual((error as? IMAPParseError)?.code, .literalTooLarge)
        }
        XCTAssertEqual(good.readableBytes, 12, "nothing consumed once failed")
    }

    func testUnknownResponses_doNotStopTheStream() {
        assertEvents(
            wire("* XYZZY\n* 9 XWHAT ever\n* 4 EXISTS\n"),
            [.unknown("XYZZY"), .unknown("XWHAT"), .exists(4)])
    }
}
