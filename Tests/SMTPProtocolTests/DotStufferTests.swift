import NIOCore
import XCTest

@testable import SMTPProtocol

final class DotStufferTests: XCTestCase {
    private func stuffed(_ chunks: [String]) -> String {
        var stuffer = DotStuffer()
        var out = ByteBuffer()
        for chunk in chunks { stuffer.stuff(ByteBuffer(string: chunk), into: &out) }
        stuffer.finish(into: &out)
        return String(buffer: out)
    }

    func testLeadingDots_bareLF_andTheTerminator() {
        XCTAssertEqual(stuffed([".a\n..b\nc.\n.\n"]), "..a\r\n...b\r\nc.\r\n..\r\n.\r\n")
        XCTAssertEqual(stuffed(["x\r\n.y\r\n"]), "x\r\n..y\r\n.\r\n")
        XCTAssertEqual(stuffed(["no newline at end"]), "no newline at end\r\n.\r\n")
        XCTAssertEqual(stuffed([]), ".\r\n")
        XCTAssertEqual(stuffed(["bare\rcr\n"]), "bare\rcr\r\n.\r\n")
    }

    /// A CRLF or a leading dot split across two reads of the file must come out the same.
    func testEverySplitPoint_givesTheSameBytes() {
        let message = "Subject: t\r\n\r\n.one\n\r\n..two\r\n.\r\nend\r"
        let whole = stuffed([message])
        XCTAssertEqual(whole, "Subject: t\r\n\r\n..one\r\n\r\n...two\r\n..\r\nend\r\n.\r\n")
        let bytes = Array(message.utf8)
        for split in 0...bytes.count {
            let first = String(decoding: bytes[..<split], as: UTF8.self)
            let second = String(decoding: bytes[split...], as: UTF8.self)
            XCTAssertEqual(stuffed([first, second]), whole, "split at \(split)")
        }
    }

    /// One byte a read: the state between chunks (line start, a CR just seen) is all there is.
    func testOneByteAtATime_givesTheSameBytes() {
        let message = ".a\r\n..\n\n.\r\rx\r\n\r.\n."
        let whole = stuffed([message])
        XCTAssertEqual(whole, "..a\r\n...\r\n\r\n..\r\rx\r\n\r.\r\n..\r\n.\r\n")
        XCTAssertEqual(stuffed(message.utf8.map { String(decoding: [$0], as: UTF8.self) }), whole)
    }
}
