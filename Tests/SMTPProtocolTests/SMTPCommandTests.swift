import NIOCore
import XCTest

@testable import SMTPProtocol

final class SMTPCommandTests: XCTestCase {
    private func encoded(_ command: SMTPCommand) throws -> String {
        var buffer = ByteBuffer()
        try command.encode(into: &buffer)
        return String(buffer: buffer)
    }

    func testCommands() throws {
        XCTAssertEqual(try encoded(.ehlo(domain: "client.example")), "EHLO client.example\r\n")
        XCTAssertEqual(try encoded(.mailFrom(address: "alice@example.test", parameters: MailParameters())),
                       "MAIL FROM:<alice@example.test>\r\n")
        XCTAssertEqual(try encoded(.mailFrom(address: "", parameters: MailParameters(size: 1234, eightBitMIME: true, smtpUTF8: true))),
                       "MAIL FROM:<> SIZE=1234 BODY=8BITMIME SMTPUTF8\r\n")
        XCTAssertEqual(try encoded(.rcptTo(address: "bob@example.test")), "RCPT TO:<bob@example.test>\r\n")
        XCTAssertEqual(try encoded(.rcptTo(address: "jörg@example.test")), "RCPT TO:<jörg@example.test>\r\n")
        XCTAssertEqual(try encoded(.data), "DATA\r\n")
        XCTAssertEqual(try encoded(.quit), "QUIT\r\n")
    }

    func testInjection_isRefused() {
        for bad in ["a@b>\r\nRCPT TO:<c@d", "a b@c", "a@b\n", "<a@b>", ""] {
            XCTAssertThrowsError(try encoded(.rcptTo(address: bad)), bad)
        }
        XCTAssertThrowsError(try encoded(.mailFrom(address: "x\r\nDATA", parameters: MailParameters())))
        XCTAssertThrowsError(try encoded(.ehlo(domain: "a\r\nb")))
        XCTAssertThrowsError(try encoded(.auth(mechanism: "TWO WORDS", initialResponse: nil)))
    }

    func testAuth_PLAIN_LOGIN_XOAUTH2_OAUTHBEARER() throws {
        // RFC 4616's example credentials: \0tim\0tanstaaftanstaaf.
        XCTAssertEqual(try encoded(.auth(mechanism: "plain", initialResponse: SASLResponses.plain(user: "tim", password: "tanstaaftanstaaf"))),
                       "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n")
        XCTAssertEqual(try encoded(.auth(mechanism: "LOGIN", initialResponse: nil)), "AUTH LOGIN\r\n")
        XCTAssertEqual(try encoded(.auth(mechanism: "X", initialResponse: [])), "AUTH X =\r\n")
        XCTAssertEqual(String(decoding: SASLResponses.decodeChallenge("VXNlcm5hbWU6")!, as: UTF8.self), "Username:")
        XCTAssertNil(SASLResponses.decodeChallenge("not base64!"))
        XCTAssertEqual(try encoded(.authResponse(Array("alice".utf8))), "YWxpY2U=\r\n")
        XCTAssertTrue(SMTPCommand.authResponse([]).containsCredentials)
        XCTAssertFalse(SMTPCommand.data.containsCredentials)
        // Google's example, as for IMAP.
        XCTAssertEqual(
            try encoded(.auth(mechanism: "XOAUTH2", initialResponse: SASLResponses.xoauth2(
                user: "someuser@example.com", token: "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"))),
            "AUTH XOAUTH2 dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==\r\n")
        XCTAssertEqual(
            String(decoding: SASLResponses.oauthBearer(user: "a,b=c", token: "t", host: "h", port: 587), as: UTF8.self),
            "n,a=a=2Cb=3Dc,\u{1}host=h\u{1}port=587\u{1}auth=Bearer t\u{1}\u{1}")
    }

    func testBase64_roundTrip() {
        for length in 0..<10 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 200) }
            XCTAssertEqual(Base64.decode(Base64.encode(bytes)), bytes)
        }
    }
}
