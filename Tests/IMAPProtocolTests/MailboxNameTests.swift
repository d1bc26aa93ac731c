import XCTest

@testable import IMAPProtocol

/// Modified UTF-7 (RFC 3501 §5.1.3) and the wire identity of mailbox names.
final class MailboxNameTests: XCTestCase {
    private let vectors: [(name: String, encoded: String)] = [
        ("INBOX", "INBOX"),
        ("Gesendete Objekte", "Gesendete Objekte"),
        ("Entwürfe", "Entw&APw-rfe"),
        ("日本語", "&ZeVnLIqe-"),
        ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),  // RFC 3501 §5.1.3
        ("Tom & Jerry", "Tom &- Jerry"),
        ("&", "&-"),
        ("&&", "&-&-"),
        ("ä&ö", "&AOQ-&-&APY-"),
        ("äö", "&AOQA9g-"),
        ("📧 Post", "&2D3c5w- Post"),
        ("\u{1}x", "&AAE-x"),
        ("", ""),
    ]

    func testEncode_vectors() {
        for (name, encoded) in vectors {
            XCTAssertEqual(MailboxName.encode(name), encoded, name)
            XCTAssertEqual(MailboxName(name).bytes, Array(encoded.utf8), name)
        }
    }

    func testDecode_vectors() throws {
        for (name, encoded) in vectors {
            XCTAssertEqual(try MailboxName.decode(encoded), name, encoded)
            XCTAssertEqual(try MailboxName(wire: Array(encoded.utf8)).decoded(), name, encoded)
        }
    }

    func testRoundTrip_everyBMPBlockAndAstralPlane() throws {
        var scalars: [Unicode.Scalar] = []
        for value in stride(from: 0x1, through: 0x10FFFF, by: 97) {
            if let scalar = Unicode.Scalar(value) { scalars.append(scalar) }
        }
        for start in stride(from: 0, to: scalars.count, by: 50) {
            var name = String.UnicodeScalarView()
            name.append(contentsOf: scalars[start..<min(start + 50, scalars.count)])
            let string = String(name)
            let encoded = MailboxName.encode(string)
            XCTAssertTrue(encoded.utf8.allSatisfy { $0 >= 0x20 && $0 <= 0x7E }, "encoding is printable ASCII")
            XCTAssertEqual(try MailboxName.decode(encoded), string)
            XCTAssertEqual(MailboxName.encode(try MailboxName.decode(encoded)), encoded)
        }
    }

    func testDecode_invalidInputThrows() {
        let invalid = [
            "&",  // '&' at the end
            "&Jjo",  // shifted run not closed
            "&AGE-",  // printable ASCII ('a') must not be encoded
            "&AOR-",  // stray bits after ä
            "&AOQA-",  // a 6-bit group too many
            "&2D0-",  // unpaired high surrogate
            "&3D0-",  // unpaired low surrogate
            "&AOQ-&APY-",  // two shifted runs touching
            "&AO/-",  // '/' is not modified BASE64
            "&A=-",  // padding
            "Entwürfe",  // raw 8-bit
            "a\u{9}b",  // raw control character
        ]
        for text in invalid {
            XCTAssertThrowsError(try MailboxName.decode(text), text) { error in
                XCTAssertEqual((error as? IMAPParseError)?.code, .invalidMailboxName, text)
            }
        }
    }

    func testInbox_isCaseInsensitiveOtherNamesAreNot() {
        XCTAssertEqual(MailboxName("inbox"), .inbox)
        XCTAssertEqual(MailboxName(wire: Array("InBoX".utf8)), .inbox)
        XCTAssertEqual(MailboxName.inbox.bytes, Array("INBOX".utf8))
        XCTAssertNotEqual(MailboxName("Sent"), MailboxName("sent"))
        XCTAssertNotEqual(MailboxName("INBOX/x"), MailboxName("inbox/x"))
    }

    func testWireBytes_areKeptVerbatim() {
        let raw = MailboxName(wire: Array("&AOQ-&APY-".utf8))
        XCTAssertEqual(raw.bytes, Array("&AOQ-&APY-".utf8))
        XCTAssertEqual(raw.description, "&AOQ-&APY-", "an undecodable name describes itself by its wire form")
        XCTAssertEqual(MailboxName("Entwürfe").description, "Entwürfe")
    }
}
