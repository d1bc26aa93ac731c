import NIOCore
import XCTest

@testable import IMAPProtocol

/// FETCH responses: small attributes, body sections in every form, and their grammar errors.
final class FetchResponseTests: XCTestCase {
    func testSmallAttributes() {
        assertEvents(
            wire("* 12 FETCH (UID 4827313 FLAGS (\\Seen $Forwarded) RFC822.SIZE 44827 INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" MODSEQ (624140003))\n"),
            [
                .fetchStart(12),
                .fetchAttribute(.uid(4_827_313)),
                .fetchAttribute(.flags([.seen, .forwarded])),
                .fetchAttribute(.rfc822Size(44827)),
                .fetchAttribute(
                    .internalDate(InternalDate(year: 1996, month: 7, day: 17, hour: 2, minute: 44, second: 25, zoneOffsetMinutes: -420)!)),
                .fetchAttribute(.modSeq(624_140_003)),
                .fetchEnd,
            ])
    }

    func testBodyLiteral_thenMoreAttributes() {
        assertEvents(
            wire("* 1 FETCH (UID 5 BODY[] \(literal("Subject: x\n\nbody\n")) FLAGS (\\Seen))\n"),
            fetchWithBody(1, before: [.uid(5)], body: "Subject: x\n\nbody\n", after: [.flags([.seen])]))
    }

    func testBodySections_headerTextPartsFieldsAndOrigin() {
        let transcript =
            "* 2 FETCH (BODY[HEADER] \(literal("A: b\n\n")))\n"
            + "* 2 FETCH (BODY[TEXT] \(literal("text\n")))\n"
            + "* 2 FETCH (BODY[1.2.MIME] \(literal("Content-Type: text/plain\n\n")))\n"
            + "* 2 FETCH (BODY[3] \(literal("part")))\n"
            + "* 2 FETCH (BODY[HEADER.FIELDS (From \"Subject\")] \(literal("From: x\n\n")))\n"
            + "* 2 FETCH (BODY[1.HEADER.FIELDS.NOT (DATE)] \(literal("To: y\n\n")))\n"
            + "* 2 FETCH (BODY[]<0> \(literal("Recei")))\n"
        var expected: [ResponseEvent] = []
        expected += fetchWithBody(2, section: .header, body: "A: b\n\n")
        expected += fetchWithBody(2, section: .text, body: "text\n")
        expected += fetchWithBody(2, section: BodySection(part: [1, 2], .mime), body: "Content-Type: text/plain\n\n")
        expected += fetchWithBody(2, section: BodySection(part: [3]), body: "part")
        expected += fetchWithBody(2, section: BodySection(.headerFields(["FROM", "SUBJECT"])), body: "From: x\n\n")
        expected += fetchWithBody(2, section: BodySection(part: [1], .headerFieldsNot(["date"])), body: "To: y\n\n")
        expected += fetchWithBody(2, origin: 0, body: "Recei")
        assertEvents(wire(transcript), expected)
    }

    func testRFC822Forms_areBodies() {
        let transcript =
            "* 3 FETCH (RFC822 \(literal("whole")))\n"
            + "* 3 FETCH (RFC822.HEADER \(literal("head")) RFC822.TEXT \(literal("text")))\n"
        var expected = fetchWithBody(3, body: "whole")
        expected += [.fetchStart(3)]
        expected += [.bodyStart(.header, origin: nil, size: 4), .bodyChunk(buffer("head")), .bodyEnd]
        expected += [.bodyStart(.text, origin: nil, size: 4), .bodyChunk(buffer("text")), .bodyEnd, .fetchEnd]
        assertEvents(wire(transcript), expected)
    }

    func testBody_quotedNILEmptyLiteralPlusAndLiteral8() {
        let transcript =
            "* 4 FETCH (BODY[HEADER] \"a \\\"q\\\" \\\\ b\")\n"
            + "* 4 FETCH (BODY[TEXT] NIL)\n"
            + "* 4 FETCH (BODY[] \"\")\n"
            + "* 4 FETCH (BODY[] {0}\n)\n"
            + "* 4 FETCH (BODY[] {3+}\nabc)\n"
            + "* 4 FETCH (BODY[] ~{4}\na\u{0}bc)\n"
        var expected = fetchWithBody(4, section: .header, body: "a \"q\" \\ b")
        expected += [.fetchStart(4), .bodyStart(.text, origin: nil, size: 0), .bodyEnd, .fetchEnd]
        expected += [.fetchStart(4), .bodyStart(.complete, origin: nil, size: 0), .bodyEnd, .fetchEnd]
        expected += [.fetchStart(4), .bodyStart(.complete, origin: nil, size: 0), .bodyEnd, .fetchEnd]
        expected += fetchWithBody(4, body: "abc")
        expected += fetchWithBody(4, body: "a\u{0}bc")
        assertEvents(wire(transcript), expected)
    }

    func testBodyBytes_areDeliveredVerbatim_bareLFAndBinary() {
        var bytes = Array("* 1 FETCH (BODY[] {6}\r\n".utf8)
        let body: [UInt8] = [0x0A, 0x0D, 0x00, 0xFF, 0x29, 0x0A]
        bytes += body + Array(")\r\n".utf8)
        assertEvents(
            bytes,
            [.fetchStart(1), .bodyStart(.complete, origin: nil, size: 6), .bodyChunk(ByteBuffer(bytes: body)), .bodyEnd, .fetchEnd])
    }

    func testUnknownAttributes_keptRawWithLiteralsInside() {
        let envelope = "(\"date\" \(literal("sub)ject")) NIL NIL)"
        let transcript =
            "* 5 FETCH (UID 9 ENVELOPE \(envelope) BINARY.SIZE[1] 1234 X-GM-LABELS (\\Inbox \"x y\") EMAILID (M1) BODYSTRUCTURE (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 5 1))\n"
        assertEvents(
            wire(transcript),
            [
                .fetchStart(5),
                .fetchAttribute(.uid(9)),
                .fetchAttribute(.other(name: "ENVELOPE", value: buffer(crlf(envelope)))),
                .fetchAttribute(.other(name: "BINARY.SIZE[1]", value: buffer("1234"))),
                .fetchAttribute(.other(name: "X-GM-LABELS", value: buffer("(\\Inbox \"x y\")"))),
                .fetchAttribute(.other(name: "EMAILID", value: buffer("(M1)"))),
                .fetchAttribute(.other(name: "BODYSTRUCTURE", value: buffer("(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 5 1)"))),
                .fetchEnd,
            ])
    }

    func testDeeplyNestedUnknownValue_doesNotRecurse() {
        let depth = 50_000
        let value = String(repeating: "(", count: depth) + "x" + String(repeating: ")", count: depth)
        let outcome = parse(wire("* 1 FETCH (X-DEEP \(value))\n"), feed: .batch)
        XCTAssertNil(outcome.error)
        XCTAssertEqual(outcome.events.count, 3)
    }

    func testEmptyAttributeList_isTolerated() {
        assertEvents(wire("* 1 FETCH ()\n"), [.fetchStart(1), .fetchEnd])
    }

    func testGrammarErrors() {
        assertFailure(wire("* 1 FETCH UID 1\n"), .syntax)
        assertFailure(wire("* 1 FETCH (UID 1 FLAGS (\\Seen)\n"), .syntax, eventsBefore: [.fetchStart(1), .fetchAttribute(.uid(1)), .fetchAttribute(.flags([.seen]))])
        assertFailure(wire("* 1 FETCH (UIDX)\n"), .syntax, eventsBefore: [.fetchStart(1)])
        assertFailure(wire("* 1 FETCH (UID 0)\n"), .invalidNumber, eventsBefore: [.fetchStart(1)])
        assertFailure(wire("* 1 FETCH (MODSEQ 5)\n"), .syntax, eventsBefore: [.fetchStart(1)])
        assertFailure(wire("* 1 FETCH (INTERNALDATE \"31-Feb-2024 00:00:00 +0000\")\n"), .syntax, eventsBefore: [.fetchStart(1)])
        assertFailure(wire("* 1 FETCH (BODY[FOO] {1}\nx)\n"), .syntax, eventsBefore: [.fetchStart(1)])
        assertFailure(wire("* 1 FETCH (BODY[] 12)\n"), .syntax, eventsBefore: [.fetchStart(1)])
        assertFailure(wire("* 1 FETCH (BODY[] {2}\nabFLAGS ())\n"), .syntax, eventsBefore: Array(fetchWithBody(1, body: "ab").dropLast()))
        assertFailure(wire("* 1 FETCH (X-FOO ))\n"), .syntax, eventsBefore: [.fetchStart(1)])
    }
}
