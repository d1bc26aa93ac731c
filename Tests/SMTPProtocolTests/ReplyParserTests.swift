import NIOCore
import XCTest

@testable import SMTPProtocol

final class ReplyParserTests: XCTestCase {
    private func parseAll(_ text: String, parser: ReplyParser = ReplyParser()) throws -> [SMTPReply] {
        var buffer = ByteBuffer(string: text)
        var replies: [SMTPReply] = []
        while let reply = try parser.parse(&buffer) { replies.append(reply) }
        XCTAssertEqual(buffer.readableBytes, 0, "left over: \(String(buffer: buffer))")
        return replies
    }

    func testMultilineEHLO_andEnhancedCodes() throws {
        let replies = try parseAll("250-mx.example.test\r\n250-PIPELINING\r\n250 SIZE 10240000\r\n550 5.1.1 No such user here\r\n")
        XCTAssertEqual(replies.count, 2)
        XCTAssertEqual(replies[0], SMTPReply(code: 250, lines: ["mx.example.test", "PIPELINING", "SIZE 10240000"]))
        XCTAssertEqual(replies[1].enhancedCode, EnhancedStatusCode(statusClass: 5, subject: 1, detail: 1))
        XCTAssertEqual(replies[1].lines, ["No such user here"])
        XCTAssertEqual(replies[1].summary, "550 5.1.1 No such user here")
        XCTAssertTrue(replies[1].isPermanentFailure)
    }

    func testByteByByte_needsMoreThenOneReply_bufferUntouchedMeanwhile() throws {
        let text = Array("451-4.7.1 Greylisted,\r\n451 4.7.1 try again later\r\n".utf8)
        var buffer = ByteBuffer()
        var got: SMTPReply?
        for (index, byte) in text.enumerated() {
            buffer.writeInteger(byte)
            let before = buffer.readableBytes
            got = try ReplyParser().parse(&buffer)
            if index < text.count - 1 {
                XCTAssertNil(got)
                XCTAssertEqual(buffer.readableBytes, before)
            }
        }
        XCTAssertEqual(got, SMTPReply(code: 451, enhancedCode: EnhancedStatusCode(statusClass: 4, subject: 7, detail: 1),
                                      lines: ["Greylisted,", "try again later"]))
        XCTAssertTrue(got!.isTransientFailure)
    }

    func testBareLF_codeOnly_andACodeOfTheWrongClassIsText() throws {
        let replies = try parseAll("220 ready\n250\r\n250 5.1.1 odd\r\n")
        XCTAssertEqual(replies.map(\.code), [220, 250, 250])
        XCTAssertEqual(replies[1].lines, [""])
        XCTAssertNil(replies[2].enhancedCode)
        XCTAssertEqual(replies[2].lines, ["5.1.1 odd"])
    }

    func testGarbage_isRejected() {
        for text in ["hello\r\n", "25\r\n", "250x\r\n", "999 no\r\n", "250-a\r\n354 b\r\n"] {
            XCTAssertThrowsError(try parseAll(text), text)
        }
    }

    func testHostileLengths_areBounded() {
        let parser = ReplyParser(maximumLineLength: 64, maximumLines: 3)
        var endless = ByteBuffer(string: "250-" + String(repeating: "a", count: 100))
        XCTAssertThrowsError(try parser.parse(&endless)) { XCTAssertEqual($0 as? SMTPParseError, .lineTooLong(limit: 64)) }
        XCTAssertThrowsError(try parseAll("250-a\r\n250-b\r\n250-c\r\n250 d\r\n", parser: parser)) {
            XCTAssertEqual($0 as? SMTPParseError, .tooManyLines(limit: 3))
        }
    }

    func testCapabilities_fromEHLO() throws {
        let reply = try parseAll("""
            250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-STARTTLS\r\n250-AUTH PLAIN login\r\n\
            250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n
            """)[0]
        let caps = ServerCapabilities(ehlo: reply)
        XCTAssertTrue(caps.pipelining && caps.startTLS && caps.eightBitMIME && caps.smtpUTF8 && caps.enhancedStatusCodes)
        XCTAssertEqual(caps.sizeLimit, 10_240_000)
        XCTAssertEqual(caps.authMechanisms, ["PLAIN", "LOGIN"])
        XCTAssertTrue(caps.accepts(size: 10_240_000))
        XCTAssertFalse(caps.accepts(size: 10_240_001))
        let bare = ServerCapabilities(ehlo: SMTPReply(code: 250, lines: ["x", "SIZE"]))
        XCTAssertEqual(bare.sizeLimit, 0)
        XCTAssertTrue(bare.accepts(size: 1 << 40))
        XCTAssertFalse(bare.pipelining)
    }
}
