import XCTest

@testable import IMAPProtocol

/// Flags, capabilities, mailbox attributes, INTERNALDATE, BASE64, section descriptions.
final class ValueTypeTests: XCTestCase {
    func testFlag_validationAndCaseInsensitiveEquality() {
        XCTAssertEqual(Flag("\\SEEN"), .seen)
        XCTAssertEqual(Flag("$forwarded"), .forwarded)
        XCTAssertEqual(Set([Flag("\\seen")!, .seen]).count, 1)
        XCTAssertEqual(Flag("\\*"), .mayCreateKeywords)
        XCTAssertNil(Flag("two words"))
        XCTAssertNil(Flag(""))
        XCTAssertNil(Flag("\\"))
        XCTAssertNil(Flag("a(b"))
        XCTAssertNil(Flag("ä"))
        XCTAssertTrue(Flag.seen.isSystemFlag)
        XCTAssertFalse(Flag.forwarded.isSystemFlag)
        XCTAssertEqual(Flag("\\SEEN")!.rawValue, "\\SEEN", "the spelling is kept")
    }

    func testCapability_upperCased() {
        XCTAssertEqual(Capability("literal+"), .literalPlus)
        XCTAssertEqual(Capability.auth("plain").rawValue, "AUTH=PLAIN")
    }

    func testMailboxAttribute_caseInsensitive() {
        XCTAssertEqual(MailboxAttribute("\\NOSELECT"), .noSelect)
        XCTAssertEqual(Set([MailboxAttribute("\\sent"), .sent]).count, 1)
    }

    func testInternalDate_parseAndInstant() throws {
        let date = try XCTUnwrap(InternalDate(parsing: Array("17-Jul-1996 02:44:25 -0700".utf8)))
        XCTAssertEqual(date.secondsSince1970, 837_596_665)
        XCTAssertEqual(date.description, "17-Jul-1996 02:44:25 -0700")
        let padded = try XCTUnwrap(InternalDate(parsing: Array(" 7-jan-2024 00:00:00 +0530".utf8)))
        XCTAssertEqual(padded.day, 7)
        XCTAssertEqual(padded.zoneOffsetMinutes, 330)
        XCTAssertEqual(padded.description, "07-Jan-2024 00:00:00 +0530")
        XCTAssertEqual(padded.secondsSince1970, 1_704_565_800)
        XCTAssertEqual(InternalDate(parsing: Array("1-Jan-1970 00:00:00 +0000".utf8))?.secondsSince1970, 0)
        XCTAssertEqual(InternalDate(parsing: Array("29-Feb-2000 12:00:00 +0000".utf8))?.month, 2)
    }

    func testInternalDate_fromSeconds_inUTC_roundTrips() throws {
        XCTAssertEqual(InternalDate(secondsSince1970: 837_596_665)?.description, "17-Jul-1996 09:44:25 +0000")
        XCTAssertEqual(InternalDate(secondsSince1970: 0)?.description, "01-Jan-1970 00:00:00 +0000")
        XCTAssertEqual(InternalDate(secondsSince1970: 951_825_600)?.description, "29-Feb-2000 12:00:00 +0000")
        XCTAssertEqual(InternalDate(secondsSince1970: -1)?.description, "31-Dec-1969 23:59:59 +0000")
        for seconds in stride(from: Int64(-2_000_000_000), to: 4_000_000_000, by: 86_399 * 37) {
            XCTAssertEqual(InternalDate(secondsSince1970: seconds)?.secondsSince1970, seconds)
        }
        XCTAssertNil(InternalDate(secondsSince1970: 400_000_000_000))
    }

    func testInternalDate_invalid() {
        for text in [
            "", "17-Jul-1996", "32-Jul-1996 02:44:25 -0700", "29-Feb-1900 00:00:00 +0000", "17-Jux-1996 02:44:25 -0700",
            "17-Jul-1996 24:00:00 -0700", "17-Jul-1996 02:44:25 0700", "17-Jul-1996 02:44:25 -0760", "17-Jul-1996 02:44:25 -0700 ",
        ] {
            XCTAssertNil(InternalDate(parsing: Array(text.utf8)), text)
        }
    }

    func testBase64_RFC4648Vectors() {
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors {
            XCTAssertEqual(String(decoding: Base64.encode(Array(plain.utf8)), as: UTF8.self), encoded, plain)
        }
        XCTAssertEqual(String(decoding: Base64.encode([0xFB, 0xFF]), as: UTF8.self), "+/8=")
    }

    func testBodySection_description() {
        XCTAssertEqual(BodySection.complete.description, "")
        XCTAssertEqual(BodySection(part: [1, 2], .mime).description, "1.2.MIME")
        XCTAssertEqual(BodySection(.headerFields(["from", "To"])).description, "HEADER.FIELDS (FROM TO)")
        XCTAssertEqual(BodySection(part: [3]).description, "3")
    }
}
