import NIOCore
import XCTest

@testable import IMAPProtocol

/// Tagged and untagged status responses, continuation requests, and every response code.
final class StatusResponseTests: XCTestCase {
    func testTagged_okNoBad() {
        assertEvents(
            wire("A1 OK done\nA2 NO [TRYCREATE] no such mailbox\nA3 BAD Command unknown\nA4 NO [ALREADYEXISTS] Mailbox already exists\n"),
            [
                .tagged(tag: "A1", .ok(nil, "done")),
                .tagged(tag: "A2", StatusResponse(.no, code: .tryCreate, text: "no such mailbox")),
                .tagged(tag: "A3", StatusResponse(.bad, text: "Command unknown")),
                .tagged(tag: "A4", StatusResponse(.no, code: .alreadyExists, text: "Mailbox already exists")),
            ])
    }

    func testKeywords_areCaseInsensitive() {
        assertEvents(
            wire("a1 ok [read-only] fine\n* bye [alert] going\n* 3 exists\n"),
            [
                .tagged(tag: "a1", .ok(.readOnly, "fine")),
                .untagged(StatusResponse(.bye, code: .alert, text: "going")),
                .exists(3),
            ])
    }

    func testUntagged_allConditions() {
        assertEvents(
            wire("* OK hi\n* NO [ALERT] quota\n* BAD what\n* PREAUTH [CAPABILITY IMAP4rev1] ready\n* BYE later\n"),
            [
                .untagged(.ok(nil, "hi")),
                .untagged(StatusResponse(.no, code: .alert, text: "quota")),
                .untagged(StatusResponse(.bad, text: "what")),
                .untagged(StatusResponse(.preauth, code: .capability([.imap4rev1]), text: "ready")),
                .untagged(StatusResponse(.bye, text: "later")),
            ])
    }

    func testStatusWithoutText_isTolerated() {
        assertEvents(
            wire("A1 OK\n* OK [READ-WRITE]\n"),
            [.tagged(tag: "A1", .ok(nil, "")), .untagged(.ok(.readWrite, ""))])
    }

    func testText_isDecodedAsUTF8() {
        assertEvents(wire("* OK Grüße [not a code]\n"), [.untagged(.ok(nil, "Grüße [not a code]"))])
    }

    func testBareLF_isToleratedAsLineEnd() {
        assertEvents(Array("* OK a\nA1 OK b\n".utf8), [.untagged(.ok(nil, "a")), .tagged(tag: "A1", .ok(nil, "b"))])
    }

    func testContinuation_withTextWithoutTextAndBare() {
        assertEvents(
            wire("+ Ready for literal data\n+ \n+\n+ dGVzdA==\n"),
            [.continuation("Ready for literal data"), .continuation(""), .continuation(""), .continuation("dGVzdA==")])
    }

    func testResponseCodes_withArguments() {
        let transcript = """
            * OK [UIDVALIDITY 3857529045] a
            * OK [UIDNEXT 4392] b
            * OK [UNSEEN 12] c
            * OK [HIGHESTMODSEQ 18446744073709551615] d
            * OK [PERMANENTFLAGS ()] e
            * OK [CAPABILITY IMAP4rev1 LITERAL+ auth=plain] f
            A1 NO [BADCHARSET (UTF-8 "US-ASCII")] g
            A2 NO [BADCHARSET] h
            A3 OK [APPENDUID 38505 3955] i
            A4 OK [COPYUID 38505 304,319:320 3956:3958] j
            A5 OK [MODIFIED 7,9:10] k
            A6 NO [PARSE] l
            A7 NO [UNAVAILABLE] m
            A8 NO [X-SOMETHING some text here] n

            """
        assertEvents(
            wire(transcript),
            [
                .untagged(.ok(.uidValidity(3_857_529_045), "a")),
                .untagged(.ok(.uidNext(4392), "b")),
                .untagged(.ok(.unseen(12), "c")),
                .untagged(.ok(.highestModSeq(UInt64.max), "d")),
                .untagged(.ok(.permanentFlags([]), "e")),
                .untagged(.ok(.capability([.imap4rev1, .literalPlus, .auth("PLAIN")]), "f")),
                .tagged(tag: "A1", StatusResponse(.no, code: .badCharset(["UTF-8", "US-ASCII"]), text: "g")),
                .tagged(tag: "A2", StatusResponse(.no, code: .badCharset([]), text: "h")),
                .tagged(tag: "A3", .ok(.appendUID(uidValidity: 38505, uids: UIDSet(3955)), "i")),
                .tagged(
                    tag: "A4",
                    .ok(.copyUID(uidValidity: 38505, source: try! UIDSet(parsing: "304,319:320"), destination: UIDSet(3956...3958)), "j")),
                .tagged(tag: "A5", .ok(.modified(try! UIDSet(parsing: "7,9:10")), "k")),
                .tagged(tag: "A6", StatusResponse(.no, code: .parse, text: "l")),
                .tagged(tag: "A7", StatusResponse(.no, code: .other(name: "UNAVAILABLE", text: nil), text: "m")),
                .tagged(tag: "A8", StatusResponse(.no, code: .other(name: "X-SOMETHING", text: "some text here"), text: "n")),
            ])
    }

    func testResponseCode_malformedKnownCode_isSyntaxError() {
        assertFailure(wire("* OK [UIDNEXT abc] x\n"), .syntax)
        assertFailure(wire("* OK [UIDVALIDITY 0] x\n"), .invalidNumber)
        assertFailure(wire("* OK [UIDNEXT 4294967296] x\n"), .invalidNumber)
        assertFailure(wire("* OK [HIGHESTMODSEQ 18446744073709551616] x\n"), .invalidNumber)
        assertFailure(wire("* OK [ALERT x\n"), .syntax)
        assertFailure(wire("* OK [X-FOO unterminated\n"), .syntax)
    }

    func testTaggedWithUntaggedOnlyCondition_isSyntaxError() {
        assertFailure(wire("A1 BYE x\n"), .syntax)
        assertFailure(wire("A1 PREAUTH x\n"), .syntax)
        assertFailure(wire("A1 FOO x\n"), .syntax)
    }
}
