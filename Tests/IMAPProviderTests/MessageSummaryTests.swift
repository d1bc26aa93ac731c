import MessageHeaders
import SyncProtocol
import XCTest
@testable import IMAPProvider

/// From, Subject and Date for NewMessages, read from a header (RFC 2047 encoded words decoded).
final class MessageSummaryTests: XCTestCase {
    func testEncodedWords_QAndB_inSeveralCharsets_andWhitespaceBetweenWordsDropped() {
        XCTAssertEqual(MessageHeaders.decodeEncodedWords("=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus?= K=?ISO-8859-1?Q?=F6?=ln"), "Grüße aus Köln")
        XCTAssertEqual(MessageHeaders.decodeEncodedWords("=?utf-8?B?w4TDpMOk?= =?utf-8?B?w7w=?="), "Äää" + "ü")
        XCTAssertEqual(MessageHeaders.decodeEncodedWords("=?windows-1252?Q?=80_5?= only"), "€ 5 only")
        XCTAssertEqual(MessageHeaders.decodeEncodedWords("plain text"), "plain text")
        XCTAssertEqual(MessageHeaders.decodeEncodedWords("=?broken"), "=?broken", "a malformed word stays")
        XCTAssertEqual(MessageHeaders.decodeEncodedWords("a =?x-unknown?Q?abc?= b"), "a abc b")
    }

    func testSummary_readsFoldedFields_andTheDate_andStopsAtTheBody() {
        let header = "Subject: =?UTF-8?Q?Lunch?=\r\n =?UTF-8?Q?_tomorrow=3F?=\r\nFrom: =?UTF-8?Q?J=C3=BCrgen?= <j@example.org>\r\n"
            + "Date: Wed, 25 Nov 2026 10:00:00 +0100 (CET)\r\n\r\nFrom: not a header\r\n"
        let summary = MessageSummary.summary(of: Array(header.utf8))
        XCTAssertEqual(summary.subject, "Lunch tomorrow?")
        XCTAssertEqual(summary.from, "Jürgen <j@example.org>")
        XCTAssertEqual(summary.date, Timestamp(rawValue: 1_795_597_200_000_000))
        XCTAssertNil(MessageSummary.parseDate("yesterday"))
        XCTAssertEqual(MessageSummary.parseDate("25 Nov 2026 10:00 +0000"), Timestamp(rawValue: 1_795_600_800_000_000))
    }
}
