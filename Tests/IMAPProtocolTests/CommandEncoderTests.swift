import NIOCore
import XCTest

@testable import IMAPProtocol

/// The exact bytes of every command.
final class CommandEncoderTests: XCTestCase {
    private let plain = CommandEncoder()

    private func text(_ command: Command, _ encoder: CommandEncoder = CommandEncoder(), tag: String = "A0001") throws -> String {
        let encoded = try encoder.encode(command, tag: tag)
        XCTAssertEqual(encoded.tag, tag)
        return String(buffer: encoded.bytes)
    }

    private func parts(_ command: Command, _ encoder: CommandEncoder = CommandEncoder()) throws -> [String] {
        try encoder.encode(command, tag: "A0001").parts.map { String(buffer: $0) }
    }

    private func assertThrows(
        _ command: Command, _ code: CommandEncodingError.Code, tag: String = "A1", file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertThrowsError(try plain.encode(command, tag: tag), file: file, line: line) { error in
            XCTAssertEqual((error as? CommandEncodingError)?.code, code, file: file, line: line)
        }
    }

    func testArgumentlessCommands() throws {
        XCTAssertEqual(try text(.capability), "A0001 CAPABILITY\r\n")
        XCTAssertEqual(try text(.noop), "A0001 NOOP\r\n")
        XCTAssertEqual(try text(.logout), "A0001 LOGOUT\r\n")
        XCTAssertEqual(try text(.startTLS), "A0001 STARTTLS\r\n")
        XCTAssertEqual(try text(.idle), "A0001 IDLE\r\n")
        XCTAssertEqual(String(buffer: CommandEncoder.idleDone), "DONE\r\n")
    }

    func testLogin_quotesAndEscapes() throws {
        XCTAssertEqual(try text(.login(username: "alice", password: "pa\"ss\\word")), "A0001 LOGIN \"alice\" \"pa\\\"ss\\\\word\"\r\n")
        XCTAssertEqual(try text(.login(username: "", password: "x y")), "A0001 LOGIN \"\" \"x y\"\r\n")
        XCTAssertTrue(try plain.encode(.login(username: "a", password: "b"), tag: "A1").containsCredentials)
        XCTAssertFalse(try plain.encode(.noop, tag: "A1").containsCredentials)
    }

    func testLogin_8bitString_becomesSynchronizingLiteral() throws {
        XCTAssertEqual(
            try parts(.login(username: "jörg", password: "secret")),
            ["A0001 LOGIN {5}\r\n", "jörg \"secret\"\r\n"])
        XCTAssertEqual(
            try parts(.login(username: "jörg", password: "pässwörd")),
            ["A0001 LOGIN {5}\r\n", "jörg {10}\r\n", "pässwörd\r\n"])
        XCTAssertEqual(try parts(.login(username: "u", password: "line\nbreak")), ["A0001 LOGIN \"u\" {10}\r\n", "line\nbreak\r\n"])
    }

    func testLogin_withLiteralPlus_isOnePart() throws {
        let encoder = CommandEncoder(literalMode: .literalPlus)
        XCTAssertEqual(try parts(.login(username: "jörg", password: "pässwörd"), encoder), ["A0001 LOGIN {5+}\r\njörg {10+}\r\npässwörd\r\n"])
    }

    func testLiteralMinus_nonSynchronizingUpTo4096Bytes() throws {
        let encoder = CommandEncoder(literalMode: .literalMinus)
        let small = "ä" + String(repeating: "x", count: 4094)  // 4096 bytes
        let large = small + "x"
        XCTAssertEqual(try parts(.login(username: "u", password: small), encoder), ["A0001 LOGIN \"u\" {4096+}\r\n\(small)\r\n"])
        XCTAssertEqual(try parts(.login(username: "u", password: large), encoder), ["A0001 LOGIN \"u\" {4097}\r\n", "\(large)\r\n"])
    }

    func testNUL_cannotBeEncoded() {
        assertThrows(.login(username: "a", password: "b\u{0}c"), .unencodableString)
        assertThrows(.authenticatePlain(username: "a\u{0}", password: "b"), .unencodableString)
    }

    func testAuthenticatePlain_withAndWithoutSASLIR() throws {
        // RFC 4616 §4: authcid "tim", password "tanstaaftanstaaf".
        let command = Command.authenticatePlain(username: "tim", password: "tanstaaftanstaaf")
        XCTAssertEqual(
            try text(command, CommandEncoder(saslInitialResponse: true)),
            "A0001 AUTHENTICATE PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n")
        XCTAssertEqual(try parts(command), ["A0001 AUTHENTICATE PLAIN\r\n", "AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n"])
        XCTAssertEqual(
            try text(.authenticatePlain(username: "tim", password: "tanstaaftanstaaf", authorizationIdentity: "Ursel"), CommandEncoder(saslInitialResponse: true)),
            "A0001 AUTHENTICATE PLAIN VXJzZWwAdGltAHRhbnN0YWFmdGFuc3RhYWY=\r\n")
        XCTAssertTrue(try plain.encode(command, tag: "A1").containsCredentials)
    }

    func testEncoderFromCapabilities() {
        let dovecot = CommandEncoder(capabilities: [.imap4rev1, .saslIR, .literalPlus, .auth("PLAIN")])
        XCTAssertEqual(dovecot.literalMode, .literalPlus)
        XCTAssertTrue(dovecot.saslInitialResponse)
        let minus = CommandEncoder(capabilities: [Capability("literal-")])
        XCTAssertEqual(minus.literalMode, .literalMinus)
        XCTAssertFalse(minus.saslInitialResponse)
        XCTAssertEqual(CommandEncoder(capabilities: []).literalMode, .synchronizing)
    }

    func testEnable() throws {
        XCTAssertEqual(try text(.enable([.condstore, .qresync])), "A0001 ENABLE CONDSTORE QRESYNC\r\n")
        assertThrows(.enable([]), .invalidArgument)
        assertThrows(.enable([Capability("TWO WORDS")]), .invalidArgument)
    }

    func testList() throws {
        XCTAssertEqual(try text(.list()), "A0001 LIST \"\" \"*\"\r\n")
        XCTAssertEqual(
            try text(.list(reference: MailboxName("Archiv"), pattern: "Entwürfe/%")), "A0001 LIST \"Archiv\" \"Entw&APw-rfe/%\"\r\n")
    }

    func testStatus() throws {
        XCTAssertEqual(
            try text(.status(.inbox, [.messages, .uidNext, .uidValidity, .unseen, .highestModSeq])),
            "A0001 STATUS \"INBOX\" (MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ)\r\n")
        XCTAssertEqual(try text(.status(MailboxName("日本語"), [.recent, .size])), "A0001 STATUS \"&ZeVnLIqe-\" (RECENT SIZE)\r\n")
        assertThrows(.status(.inbox, []), .invalidArgument)
    }

    func testSelectAndExamine_withCondstoreAndQResync() throws {
        XCTAssertEqual(try text(.select(MailboxName("Entwürfe"))), "A0001 SELECT \"Entw&APw-rfe\"\r\n")
        XCTAssertEqual(try text(.select(MailboxName("Tom & \"Jerry\""))), "A0001 SELECT \"Tom &- \\\"Jerry\\\"\"\r\n")
        XCTAssertEqual(try text(.select(.inbox, .condstore)), "A0001 SELECT \"INBOX\" (CONDSTORE)\r\n")
        XCTAssertEqual(try text(.examine(MailboxName("Gesendete Objekte"))), "A0001 EXAMINE \"Gesendete Objekte\"\r\n")
        // RFC 7162 §3.2.5.2.
        XCTAssertEqual(
            try text(.select(.inbox, .qresync(uidValidity: 67_890_007, modSeq: 20_050_715_194_045_000, knownUIDs: try UIDSet(parsing: "41,43:211,214:541")))),
            "A0001 SELECT \"INBOX\" (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n")
        XCTAssertEqual(
            try text(.examine(.inbox, .qresync(uidValidity: 1, modSeq: 2))), "A0001 EXAMINE \"INBOX\" (QRESYNC (1 2))\r\n")
        assertThrows(.select(.inbox, .qresync(uidValidity: 0, modSeq: 2)), .invalidArgument)
        assertThrows(.select(.inbox, .qresync(uidValidity: 1, modSeq: 2, knownUIDs: .from(5))), .invalidArgument)
    }

    func testSelect_8bitWireName_isSentAsLiteral() throws {
        let raw = MailboxName(wire: Array("Entwürfe".utf8))
        XCTAssertEqual(try parts(.select(raw)), ["A0001 SELECT {9}\r\n", "Entwürfe\r\n"])
    }

    func testCreate() throws {
        XCTAssertEqual(try text(.create(MailboxName("日本語"))), "A0001 CREATE \"&ZeVnLIqe-\"\r\n")
    }

    func testUIDFetch() throws {
        XCTAssertEqual(
            try text(.uidFetch(.from(1), [.uid, .flags, .modSeq], changedSince: 12345, vanished: true)),
            "A0001 UID FETCH 1:* (UID FLAGS MODSEQ) (CHANGEDSINCE 12345 VANISHED)\r\n")
        XCTAssertEqual(
            try text(.uidFetch(.from(1), [.flags], changedSince: 7)), "A0001 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 7)\r\n")
        XCTAssertEqual(
            try text(.uidFetch(try UIDSet(parsing: "1:5,7"), [.uid, .rfc822Size, .internalDate, .body(.complete)])),
            "A0001 UID FETCH 1:5,7 (UID RFC822.SIZE INTERNALDATE BODY.PEEK[])\r\n")
        XCTAssertEqual(
            try text(.uidFetch(.last, [.envelope, .bodyStructure, .body(.header), .body(BodySection(part: [1, 2], .mime))])),
            "A0001 UID FETCH * (ENVELOPE BODYSTRUCTURE BODY.PEEK[HEADER] BODY.PEEK[1.2.MIME])\r\n")
        XCTAssertEqual(
            try text(.uidFetch(UIDSet(9), [.body(BodySection(.headerFields(["From", "Message-ID"])), peek: false, partial: 0..<1024)])),
            "A0001 UID FETCH 9 (BODY[HEADER.FIELDS (FROM MESSAGE-ID)]<0.1024>)\r\n")
        XCTAssertEqual(
            try text(.uidFetch(UIDSet(9), [.body(BodySection(part: [2], .headerFieldsNot(["X-Spam"])), partial: 100..<150)])),
            "A0001 UID FETCH 9 (BODY.PEEK[2.HEADER.FIELDS.NOT (X-SPAM)]<100.50>)\r\n")
    }

    func testUIDFetch_invalidArguments() {
        assertThrows(.uidFetch(UIDSet(), [.uid]), .invalidArgument)
        assertThrows(.uidFetch(UIDSet(1), []), .invalidArgument)
        assertThrows(.uidFetch(UIDSet(1), [.uid], vanished: true), .invalidArgument)
        assertThrows(.uidFetch(UIDSet(1), [.body(BodySection(.mime))]), .invalidArgument)
        assertThrows(.uidFetch(UIDSet(1), [.body(BodySection(.headerFields([])))]), .invalidArgument)
        assertThrows(.uidFetch(UIDSet(1), [.body(BodySection(.headerFields(["A B"])))]), .invalidArgument)
        assertThrows(.uidFetch(UIDSet(1), [.body(.complete, partial: 5..<5)]), .invalidArgument)
    }

    func testUIDStore() throws {
        XCTAssertEqual(try text(.uidStore(UIDSet(1...3), .add, [.seen])), "A0001 UID STORE 1:3 +FLAGS.SILENT (\\Seen)\r\n")
        XCTAssertEqual(
            try text(.uidStore(try UIDSet(parsing: "4,6"), .remove, [.deleted, .forwarded])),
            "A0001 UID STORE 4,6 -FLAGS.SILENT (\\Deleted $Forwarded)\r\n")
        XCTAssertEqual(try text(.uidStore(UIDSet(5), .replace, [], silent: false)), "A0001 UID STORE 5 FLAGS ()\r\n")
        // RFC 7162 §3.1.3.
        XCTAssertEqual(
            try text(.uidStore(UIDSet(7), .add, [.deleted], unchangedSince: 320_162_338)),
            "A0001 UID STORE 7 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)\r\n")
        assertThrows(.uidStore(UIDSet(1), .add, [.mayCreateKeywords]), .invalidFlag)
        assertThrows(.uidStore(UIDSet(1), .add, [Flag(unchecked: "two words")]), .invalidFlag)
        assertThrows(.uidStore(UIDSet(), .add, [.seen]), .invalidArgument)
    }

    func testUIDSearch() throws {
        XCTAssertEqual(try text(.uidSearch([.modSeq(620_162_338)])), "A0001 UID SEARCH MODSEQ 620162338\r\n")
        XCTAssertEqual(try text(.uidSearch([])), "A0001 UID SEARCH ALL\r\n")
        XCTAssertEqual(
            try text(
                .uidSearch(
                    [.not(.flag(.deleted)), .flag(.forwarded), .or(.flag(.seen), .uid(.from(100))), .and([.all, .uid(UIDSet(1))])],
                    returning: [.all, .count])),
            "A0001 UID SEARCH RETURN (ALL COUNT) NOT DELETED KEYWORD $Forwarded OR SEEN UID 100:* (ALL UID 1)\r\n")
        XCTAssertEqual(
            try text(.uidSearch([.flag(.answered), .flag(.flagged), .flag(.draft), .flag(.recent)])),
            "A0001 UID SEARCH ANSWERED FLAGGED DRAFT RECENT\r\n")
        assertThrows(.uidSearch([.flag(Flag("\\Custom")!)]), .invalidFlag)
        assertThrows(.uidSearch([.and([])]), .invalidArgument)
    }

    func testUIDSearch_headerAndSize() throws {
        XCTAssertEqual(
            try text(.uidSearch([.header("Message-ID", "<a\"b@example.org>"), .larger(99), .smaller(101)])),
            "A0001 UID SEARCH HEADER Message-ID \"<a\\\"b@example.org>\" LARGER 99 SMALLER 101\r\n")
        assertThrows(.uidSearch([.header("Message-ID", "<ä@x>")]), .unencodableString)
        assertThrows(.uidSearch([.header("Bad:Name", "x")]), .invalidArgument)
    }

    func testAppend_synchronizing_waitsBeforeTheMessage() throws {
        let date = try XCTUnwrap(InternalDate(year: 2026, month: 11, day: 5, hour: 9, minute: 3, second: 7, zoneOffsetMinutes: 60))
        let append = try plain.encodeAppend(to: MailboxName("Sent"), flags: [.seen, .flagged], internalDate: date, messageSize: 52_428_800, tag: "A7")
        XCTAssertEqual(append.command.parts.map { String(buffer: $0) }, ["A7 APPEND \"Sent\" (\\Seen \\Flagged) \"05-Nov-2026 09:03:07 +0100\" {52428800}\r\n"])
        XCTAssertTrue(append.waitsForContinuation)
        XCTAssertEqual(append.messageSize, 52_428_800)
        XCTAssertEqual(String(buffer: EncodedAppend.end), "\r\n")
        XCTAssertFalse(append.command.containsCredentials)
    }

    func testAppend_literalPlus_andLiteralMinus() throws {
        let plus = try CommandEncoder(literalMode: .literalPlus).encodeAppend(to: MailboxName("INBOX"), messageSize: 52_428_800, tag: "A1")
        XCTAssertEqual(String(buffer: plus.command.bytes), "A1 APPEND \"INBOX\" {52428800+}\r\n")
        XCTAssertFalse(plus.waitsForContinuation)
        let minus = CommandEncoder(literalMode: .literalMinus)
        XCTAssertFalse(try minus.encodeAppend(to: MailboxName("INBOX"), messageSize: 4096, tag: "A1").waitsForContinuation)
        let large = try minus.encodeAppend(to: MailboxName("INBOX"), messageSize: 4097, tag: "A1")
        XCTAssertTrue(large.waitsForContinuation)
        XCTAssertEqual(String(buffer: large.command.bytes), "A1 APPEND \"INBOX\" {4097}\r\n")
    }

    func testAppend_refusesEmptyMessagesRecentAndBadTags() throws {
        XCTAssertThrowsError(try plain.encodeAppend(to: MailboxName("INBOX"), messageSize: 0, tag: "A1")) {
            XCTAssertEqual(($0 as? CommandEncodingError)?.code, .invalidArgument)
        }
        XCTAssertThrowsError(try plain.encodeAppend(to: MailboxName("INBOX"), flags: [.recent], messageSize: 3, tag: "A1")) {
            XCTAssertEqual(($0 as? CommandEncodingError)?.code, .invalidFlag)
        }
        XCTAssertThrowsError(try plain.encodeAppend(to: MailboxName("INBOX"), messageSize: 3, tag: "A 1")) {
            XCTAssertEqual(($0 as? CommandEncodingError)?.code, .invalidTag)
        }
    }

    func testUIDExpunge() throws {
        XCTAssertEqual(try text(.uidExpunge(try UIDSet(parsing: "3:5"))), "A0001 UID EXPUNGE 3:5\r\n")
    }

    func testInvalidTags() {
        for tag in ["", "A 1", "A+1", "A\"1", "A*", "A(", "Ä1"] {
            assertThrows(.noop, .invalidTag, tag: tag)
        }
    }

    func testSynchronizingLiteral_endsThePartWithItsHeader() throws {
        // A synchronizing literal ends a part; the server's "+" releases the next.
        let encoded = try plain.encode(.login(username: "jörg", password: "x"), tag: "A0009")
        XCTAssertEqual(encoded.parts.count, 2)
        XCTAssertEqual(encoded.parts[0].readableBytesView.suffix(5).elementsEqual("{5}\r\n".utf8), true)
    }
}
