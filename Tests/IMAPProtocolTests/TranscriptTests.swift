import NIOCore
import XCTest

@testable import IMAPProtocol

/// Whole server transcripts, typed from the RFCs and from what Dovecot 2.3 sends, parsed in every
/// feed (batch, byte by byte, small chunks).
final class TranscriptTests: XCTestCase {
    static let dovecotGreeting =
        "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN] Dovecot ready.\n"

    func testDovecotGreeting_isUntaggedOKWithCapabilities() {
        let capabilities = ["IMAP4rev1", "SASL-IR", "LOGIN-REFERRALS", "ID", "ENABLE", "IDLE", "LITERAL+", "AUTH=PLAIN"]
        assertEvents(
            wire(Self.dovecotGreeting),
            [.untagged(.ok(.capability(capabilities.map(Capability.init)), "Dovecot ready."))])
    }

    func testDovecotSession_loginEnableListSelectFetchLogout() {
        let body = "From: a@example.org\nTo: b@example.org\nSubject: hi\n\nHello, world.\n"
        let transcript =
            Self.dovecotGreeting
            + "A0001 OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT UIDPLUS CONDSTORE QRESYNC ESEARCH LITERAL+ SPECIAL-USE MOVE] Logged in\n"
            + "* ENABLED CONDSTORE QRESYNC\n"
            + "A0002 OK Enabled.\n"
            + "* LIST (\\HasNoChildren) \".\" INBOX\n"
            + "* LIST (\\HasNoChildren \\Drafts) \".\" Entw&APw-rfe\n"
            + "* LIST (\\HasNoChildren \\Sent) \".\" \"Gesendete Objekte\"\n"
            + "* LIST (\\Noselect \\HasChildren) \".\" \"&ZeVnLIqe-\"\n"
            + "A0003 OK List completed (0.001 + 0.000 secs).\n"
            + "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded)\n"
            + "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded \\*)] Flags permitted.\n"
            + "* 2 EXISTS\n"
            + "* 0 RECENT\n"
            + "* OK [UIDVALIDITY 1732526400] UIDs valid\n"
            + "* OK [UIDNEXT 3] Predicted next UID\n"
            + "* OK [HIGHESTMODSEQ 5] Highest\n"
            + "A0004 OK [READ-WRITE] Select completed (0.002 + 0.000 + 0.001 secs).\n"
            + "* 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE \(crlf(body).utf8.count) INTERNALDATE \"25-Nov-2024 09:30:00 +0100\" MODSEQ (4) BODY[] \(literal(body)))\n"
            + "* 2 FETCH (UID 2 FLAGS () RFC822.SIZE 0 INTERNALDATE \" 5-Nov-2024 23:59:59 -0000\" MODSEQ (5) BODY[] {0}\n)\n"
            + "A0005 OK Fetch completed (0.001 + 0.000 secs).\n"
            + "* BYE Logging out\n"
            + "A0006 OK Logout completed (0.001 + 0.000 secs).\n"
        let loginCapabilities = [
            "IMAP4rev1", "SASL-IR", "LOGIN-REFERRALS", "ID", "ENABLE", "IDLE", "SORT", "UIDPLUS", "CONDSTORE", "QRESYNC",
            "ESEARCH", "LITERAL+", "SPECIAL-USE", "MOVE",
        ]
        let date1 = InternalDate(year: 2024, month: 11, day: 25, hour: 9, minute: 30, second: 0, zoneOffsetMinutes: 60)!
        let date2 = InternalDate(year: 2024, month: 11, day: 5, hour: 23, minute: 59, second: 59, zoneOffsetMinutes: 0)!
        var expected: [ResponseEvent] = [
            .untagged(
                .ok(
                    .capability(["IMAP4rev1", "SASL-IR", "LOGIN-REFERRALS", "ID", "ENABLE", "IDLE", "LITERAL+", "AUTH=PLAIN"].map(Capability.init)),
                    "Dovecot ready.")),
            .tagged(tag: "A0001", .ok(.capability(loginCapabilities.map(Capability.init)), "Logged in")),
            .enabled([.condstore, .qresync]),
            .tagged(tag: "A0002", .ok(nil, "Enabled.")),
            .list(MailboxListEntry(attributes: [.hasNoChildren], delimiter: ".", name: .inbox)),
            .list(MailboxListEntry(attributes: [.hasNoChildren, .drafts], delimiter: ".", name: MailboxName("Entwürfe"))),
            .list(MailboxListEntry(attributes: [.hasNoChildren, .sent], delimiter: ".", name: MailboxName("Gesendete Objekte"))),
            .list(MailboxListEntry(attributes: [.noSelect, .hasChildren], delimiter: ".", name: MailboxName("日本語"))),
            .tagged(tag: "A0003", .ok(nil, "List completed (0.001 + 0.000 secs).")),
            .flags([.answered, .flagged, .deleted, .seen, .draft, .forwarded]),
            .untagged(
                .ok(.permanentFlags([.answered, .flagged, .deleted, .seen, .draft, .forwarded, .mayCreateKeywords]), "Flags permitted.")),
            .exists(2),
            .recent(0),
            .untagged(.ok(.uidValidity(1_732_526_400), "UIDs valid")),
            .untagged(.ok(.uidNext(3), "Predicted next UID")),
            .untagged(.ok(.highestModSeq(5), "Highest")),
            .tagged(tag: "A0004", .ok(.readWrite, "Select completed (0.002 + 0.000 + 0.001 secs).")),
        ]
        expected += fetchWithBody(
            1, before: [.uid(1), .flags([.seen]), .rfc822Size(crlf(body).utf8.count), .internalDate(date1), .modSeq(4)], body: body)
        expected += fetchWithBody(2, before: [.uid(2), .flags([]), .rfc822Size(0), .internalDate(date2), .modSeq(5)], body: "")
        expected += [
            .tagged(tag: "A0005", .ok(nil, "Fetch completed (0.001 + 0.000 secs).")),
            .untagged(StatusResponse(.bye, text: "Logging out")),
            .tagged(tag: "A0006", .ok(nil, "Logout completed (0.001 + 0.000 secs).")),
        ]
        assertEvents(wire(transcript), expected)
    }

    func testDovecotQResyncSelect_reportsClosedVanishedEarlierAndChangedFlags() {
        let transcript = """
            * OK [CLOSED] Previous mailbox closed.
            * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)
            * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.
            * 9 EXISTS
            * 0 RECENT
            * OK [UIDVALIDITY 67890007] UIDs valid
            * OK [UIDNEXT 600] Predicted next UID
            * OK [HIGHESTMODSEQ 20010715194045319] Highest
            * VANISHED (EARLIER) 41,43:116,118,120:211,214:540
            * 49 FETCH (UID 117 FLAGS (\\Seen \\Answered) MODSEQ (20010715194032001))
            * 50 FETCH (UID 119 FLAGS (\\Draft $MDNSent) MODSEQ (20010715194032001))
            A0010 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).

            """
        var vanished = UIDSet()
        for range: ClosedRange<UInt32> in [41...41, 43...116, 118...118, 120...211, 214...540] { vanished.insert(range) }
        let expected: [ResponseEvent] = [
            .untagged(.ok(.closed, "Previous mailbox closed.")),
            .flags([.answered, .flagged, .deleted, .seen, .draft]),
            .untagged(.ok(.permanentFlags([.answered, .flagged, .deleted, .seen, .draft, .mayCreateKeywords]), "Flags permitted.")),
            .exists(9),
            .recent(0),
            .untagged(.ok(.uidValidity(67_890_007), "UIDs valid")),
            .untagged(.ok(.uidNext(600), "Predicted next UID")),
            .untagged(.ok(.highestModSeq(20_010_715_194_045_319), "Highest")),
            .vanished(vanished, earlier: true),
            .fetchStart(49), .fetchAttribute(.uid(117)), .fetchAttribute(.flags([.seen, .answered])),
            .fetchAttribute(.modSeq(20_010_715_194_032_001)), .fetchEnd,
            .fetchStart(50), .fetchAttribute(.uid(119)), .fetchAttribute(.flags([.draft, Flag("$MDNSent")!])),
            .fetchAttribute(.modSeq(20_010_715_194_032_001)), .fetchEnd,
            .tagged(tag: "A0010", .ok(.readWrite, "Select completed (0.001 + 0.000 secs).")),
        ]
        XCTAssertEqual(vanished.description, "41,43:116,118,120:211,214:540")
        assertEvents(wire(transcript), expected)
    }

    func testDovecotIdle_continuationThenLiveUpdates() {
        let transcript = """
            + idling
            * 10 EXISTS
            * VANISHED 405,407
            * 3 FETCH (UID 7 MODSEQ (30) FLAGS (\\Seen \\Flagged))
            A0011 OK Idle completed (0.001 + 12.004 secs).

            """
        assertEvents(
            wire(transcript),
            [
                .continuation("idling"), .exists(10), .vanished(UIDSet([405, 407]), earlier: false),
                .fetchStart(3), .fetchAttribute(.uid(7)), .fetchAttribute(.modSeq(30)),
                .fetchAttribute(.flags([.seen, .flagged])), .fetchEnd,
                .tagged(tag: "A0011", .ok(nil, "Idle completed (0.001 + 12.004 secs).")),
            ])
    }

    func testDovecotAuthenticationFailure_otherCodeWithoutText() {
        assertEvents(
            wire("+ \nA0002 NO [AUTHENTICATIONFAILED] Authentication failed.\n"),
            [
                .continuation(""),
                .tagged(tag: "A0002", StatusResponse(.no, code: .other(name: "AUTHENTICATIONFAILED", text: nil), text: "Authentication failed.")),
            ])
    }

    /// RFC 3501 §8, the sample session.
    func testRFC3501SampleSession() {
        let envelope = """
            ("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes" \
            (("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) \
            (("Terry Gray" NIL "gray" "cac.washington.edu")) ((NIL NIL "imap" "cac.washington.edu")) \
            ((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL \
            "<B27397-0100000@cac.washington.edu>")
            """
        let structure = #"("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92)"#
        let header = """
            Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)
            From: Terry Gray <gray@cac.washington.edu>
            Subject: IMAP4rev1 WG mtg summary and minutes
            To: imap@cac.washington.edu
            cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>
            Message-Id: <B27397-0100000@cac.washington.edu>
            MIME-Version: 1.0
            Content-Type: TEXT/PLAIN; CHARSET=US-ASCII


            """
        let transcript =
            "* OK IMAP4rev1 Service Ready\n"
            + "a001 OK LOGIN completed\n"
            + "* 18 EXISTS\n"
            + "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\n"
            + "* 2 RECENT\n"
            + "* OK [UNSEEN 17] Message 17 is the first unseen message\n"
            + "* OK [UIDVALIDITY 3857529045] UIDs valid\n"
            + "a002 OK [READ-WRITE] SELECT completed\n"
            + "* 12 FETCH (FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 4286 ENVELOPE \(envelope) BODY \(structure))\n"
            + "a003 OK FETCH completed\n"
            + "* 12 FETCH (BODY[HEADER] \(literal(header)))\n"
            + "a004 OK FETCH completed\n"
            + "* 12 FETCH (FLAGS (\\Seen \\Deleted))\n"
            + "a005 OK +FLAGS completed\n"
            + "* BYE IMAP4rev1 server terminating connection\n"
            + "a006 OK LOGOUT completed\n"
        let date = InternalDate(year: 1996, month: 7, day: 17, hour: 2, minute: 44, second: 25, zoneOffsetMinutes: -420)!
        var expected: [ResponseEvent] = [
            .untagged(.ok(nil, "IMAP4rev1 Service Ready")),
            .tagged(tag: "a001", .ok(nil, "LOGIN completed")),
            .exists(18),
            .flags([.answered, .flagged, .deleted, .seen, .draft]),
            .recent(2),
            .untagged(.ok(.unseen(17), "Message 17 is the first unseen message")),
            .untagged(.ok(.uidValidity(3_857_529_045), "UIDs valid")),
            .tagged(tag: "a002", .ok(.readWrite, "SELECT completed")),
            .fetchStart(12),
            .fetchAttribute(.flags([.seen])),
            .fetchAttribute(.internalDate(date)),
            .fetchAttribute(.rfc822Size(4286)),
            .fetchAttribute(.other(name: "ENVELOPE", value: buffer(envelope))),
            .fetchAttribute(.other(name: "BODY", value: buffer(structure))),
            .fetchEnd,
            .tagged(tag: "a003", .ok(nil, "FETCH completed")),
        ]
        expected += fetchWithBody(12, section: .header, body: header)
        expected += [
            .tagged(tag: "a004", .ok(nil, "FETCH completed")),
            .fetchStart(12), .fetchAttribute(.flags([.seen, .deleted])), .fetchEnd,
            .tagged(tag: "a005", .ok(nil, "+FLAGS completed")),
            .untagged(StatusResponse(.bye, text: "IMAP4rev1 server terminating connection")),
            .tagged(tag: "a006", .ok(nil, "LOGOUT completed")),
        ]
        assertEvents(wire(transcript), expected)
    }

    /// RFC 7162 §3.1 and §3.2 examples: CONDSTORE data, and a conditional STORE that failed.
    func testRFC7162Examples() {
        let transcript = """
            * OK [HIGHESTMODSEQ 715194045007]
            * OK [NOMODSEQ] Sorry, this mailbox format doesn't support modsequences
            * 7 FETCH (MODSEQ (12121231000))
            * SEARCH 2 5 6 7 11 12 18 19 20 23 (MODSEQ 917162500)
            * 50 FETCH (MODSEQ (12111230047))
            d105 OK [MODIFIED 7,9] Conditional STORE failed

            """
        assertEvents(
            wire(transcript),
            [
                .untagged(.ok(.highestModSeq(715_194_045_007), "")),
                .untagged(.ok(.noModSeq, "Sorry, this mailbox format doesn't support modsequences")),
                .fetchStart(7), .fetchAttribute(.modSeq(12_121_231_000)), .fetchEnd,
                .search([2, 5, 6, 7, 11, 12, 18, 19, 20, 23], modSeq: 917_162_500),
                .fetchStart(50), .fetchAttribute(.modSeq(12_111_230_047)), .fetchEnd,
                .tagged(tag: "d105", .ok(.modified(UIDSet([7, 9])), "Conditional STORE failed")),
            ])
    }
}
