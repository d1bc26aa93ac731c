import NIOCore
import XCTest

@testable import IMAPProtocol

/// Untagged data responses: CAPABILITY, ENABLED, LIST/LSUB, STATUS, FLAGS, EXISTS, RECENT,
/// EXPUNGE, VANISHED, SEARCH, ESEARCH, and unknown ones.
final class UntaggedResponseTests: XCTestCase {
    func testCapability_listIsUpperCased() {
        assertEvents(
            wire("* CAPABILITY IMAP4rev1 STARTTLS AUTH=GSSAPI literal+ LOGINDISABLED\n* CAPABILITY\n"),
            [
                .capability([.imap4rev1, .startTLS, .auth("gssapi"), .literalPlus, .loginDisabled]),
                .capability([]),
            ])
    }

    func testEnabled_possiblyEmpty() {
        assertEvents(wire("* ENABLED CONDSTORE QRESYNC\n* ENABLED\n"), [.enabled([.condstore, .qresync]), .enabled([])])
    }

    func testList_nameAsAtomQuotedAndLiteral_delimiterQuotedOrNIL() {
        let transcript =
            "* LIST (\\Noselect) \"/\" \"\"\n"
            + "* LIST () \".\" #news.comp.mail.misc\n"
            + "* LIST (\\HasNoChildren) NIL Flat\n"
            + "* LIST () \"\\\\\" \"Tom &- Jerry\"\n"
            + "* LSUB () \"/\" \"say \\\"hi\\\"\"\n"
            + "* LIST (\\HasNoChildren) \"/\" \(literal("&ZeVnLIqe-/x]y"))\n"
            + "* list (\\hasnochildren \\TRASH) \"/\" inbox\n"
        assertEvents(
            wire(transcript),
            [
                .list(MailboxListEntry(attributes: [.noSelect], delimiter: "/", name: MailboxName(""))),
                .list(MailboxListEntry(attributes: [], delimiter: ".", name: MailboxName("#news.comp.mail.misc"))),
                .list(MailboxListEntry(attributes: [.hasNoChildren], delimiter: nil, name: MailboxName("Flat"))),
                .list(MailboxListEntry(attributes: [], delimiter: "\\", name: MailboxName("Tom & Jerry"))),
                .lsub(MailboxListEntry(attributes: [], delimiter: "/", name: MailboxName("say \"hi\""))),
                .list(MailboxListEntry(attributes: [.hasNoChildren], delimiter: "/", name: MailboxName("日本語/x]y"))),
                .list(MailboxListEntry(attributes: [.hasNoChildren, .trash], delimiter: "/", name: .inbox)),
            ])
    }

    func testList_extendedDataIsSkipped() {
        assertEvents(
            wire("* LIST (\\Subscribed) \"/\" \"Foo\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\n"),
            [.list(MailboxListEntry(attributes: [.subscribed], delimiter: "/", name: MailboxName("Foo")))])
    }

    func testList_nonCanonicalWireName_isKeptVerbatim() {
        let outcome = parseAllWays(wire("* LIST () \"/\" \"&AOQ-&AOQ-\"\n"))
        guard case .list(let entry)? = outcome.events.first else { return XCTFail("no LIST: \(outcome)") }
        XCTAssertEqual(entry.name.bytes, Array("&AOQ-&AOQ-".utf8))
        XCTAssertThrowsError(try entry.name.decoded())
    }

    func testList_badDelimiter_isSyntaxError() {
        assertFailure(wire("* LIST () \"//\" foo\n"), .syntax)
        assertFailure(wire("* LIST () NOPE foo\n"), .syntax)
        assertFailure(wire("* LIST \"/\" foo\n"), .syntax)
    }

    func testStatus_knownAndUnknownAttributes() {
        assertEvents(
            wire("* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\n"
                + "* STATUS \"INBOX\" (MESSAGES 3 RECENT 0 UIDNEXT 4 UIDVALIDITY 1732526400 UNSEEN 1 HIGHESTMODSEQ 9 SIZE 12345 X-FOO (a b) APPENDLIMIT NIL)\n"
                + "* STATUS Empty ()\n"),
            [
                .status(MailboxName("blurdybloop"), MailboxStatus(messages: 231, uidNext: 44292)),
                .status(
                    .inbox,
                    MailboxStatus(
                        messages: 3, recent: 0, uidNext: 4, uidValidity: 1_732_526_400, unseen: 1, highestModSeq: 9, size: 12345)),
                .status(MailboxName("Empty"), MailboxStatus()),
            ])
    }

    func testFlags_systemFlagsAndKeywords() {
        assertEvents(
            wire("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\Recent $Forwarded $Junk NonJunk)\n"),
            [.flags([.answered, .flagged, .deleted, .seen, .draft, .recent, .forwarded, Flag("$Junk")!, Flag("NonJunk")!])])
    }

    func testMessageCounts_existsRecentExpunge() {
        assertEvents(
            wire("* 0 EXISTS\n* 4294967295 EXISTS\n* 0 RECENT\n* 7 EXPUNGE\n"),
            [.exists(0), .exists(UInt32.max), .recent(0), .expunge(7)])
    }

    func testMessageCounts_outOfRange() {
        assertFailure(wire("* 4294967296 EXISTS\n"), .invalidNumber)
        assertFailure(wire("* 0 EXPUNGE\n"), .invalidNumber)
        assertFailure(wire("* 0 FETCH (UID 1)\n"), .invalidNumber)
        assertFailure(wire("* 99999999999999999999999 EXISTS\n"), .invalidNumber)
    }

    func testVanished_liveAndEarlier() {
        assertEvents(
            wire("* VANISHED 405,407,410,425\n* VANISHED (EARLIER) 300:310,405,411\n"),
            [
                .vanished(UIDSet([405, 407, 410, 425]), earlier: false),
                .vanished(try! UIDSet(parsing: "300:310,405,411"), earlier: true),
            ])
        assertFailure(wire("* VANISHED (LATER) 1\n"), .syntax)
        assertFailure(wire("* VANISHED 0\n"), .invalidSequenceSet)
    }

    func testSearch_emptyNumbersAndModSeq() {
        assertEvents(
            wire("* SEARCH\n* SEARCH 2 84 882\n* SEARCH 2 5 (MODSEQ 917162500)\n* SEARCH \n"),
            [.search([], modSeq: nil), .search([2, 84, 882], modSeq: nil), .search([2, 5], modSeq: 917_162_500), .search([], modSeq: nil)])
        assertFailure(wire("* SEARCH 1 x\n"), .syntax)
    }

    func testESearch_RFC4731Examples() {
        assertEvents(
            wire("""
                * ESEARCH (TAG "A282") MIN 2 COUNT 3
                * ESEARCH (TAG "A283") ALL 2,10:11
                * ESEARCH (TAG "A285") UID MIN 7 MAX 3800
                * ESEARCH (TAG "A286") UID
                * ESEARCH (TAG "A287") UID COUNT 5 ALL 1:5 MODSEQ 12 PARTIAL (1:5 1,3)
                * ESEARCH

                """),
            [
                .esearch(ESearchResponse(tag: "A282", min: 2, count: 3)),
                .esearch(ESearchResponse(tag: "A283", all: try! UIDSet(parsing: "2,10:11"))),
                .esearch(ESearchResponse(tag: "A285", isUID: true, min: 7, max: 3800)),
                .esearch(ESearchResponse(tag: "A286", isUID: true)),
                .esearch(ESearchResponse(tag: "A287", isUID: true, count: 5, all: UIDSet(1...5), modSeq: 12)),
                .esearch(ESearchResponse()),
            ])
    }

    func testUnknownResponses_areSkippedWholeIncludingLiterals() {
        let transcript =
            "* ID (\"name\" \"Dovecot\" \"version\" NIL)\n"
            + "* NAMESPACE ((\"\" \".\")) NIL NIL\n"
            + "* XFOO \(literal("a)b\"c\n{9}\n")) tail \"quoted {5}\n"
            + "* 3 XBAR (\"x\" {3}\nabc)\n"
            + "* METADATA \"\" (/private/comment \(literal("multi\nline")))\n"
            + "* XBRACE {not a literal} \"a \\\" b\"\n"
            + "A1 OK done\n"
        assertEvents(
            wire(transcript),
            [
                .unknown("ID"), .unknown("NAMESPACE"), .unknown("XFOO"), .unknown("XBAR"), .unknown("METADATA"),
                .unknown("XBRACE"), .tagged(tag: "A1", .ok(nil, "done")),
            ])
    }

    func testUnknownResponse_literalAboveStringLimit_throws() {
        let limits = ResponseParser.Limits(maxStringLiteralSize: 10)
        assertFailure(wire("* XFOO {11}\n"), .literalTooLarge, limits: limits)
        assertEvents(wire("* XFOO {10}\n0123456789\n"), [.unknown("XFOO")], limits: limits)
    }
}
