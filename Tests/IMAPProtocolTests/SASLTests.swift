import NIOCore
import XCTest

@testable import IMAPProtocol

/// The OAuth2 SASL mechanisms: the bytes of their initial responses and of AUTHENTICATE.
final class SASLTests: XCTestCase {
    private func parts(_ command: Command, _ encoder: CommandEncoder) throws -> [String] {
        try encoder.encode(command, tag: "A0001").parts.map { String(buffer: $0) }
    }

    func testXOAUTH2_initialResponse() {
        // Google's example: user=someuser@example.com^Aauth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg^A^A
        let bytes = SASL.xoauth2(user: "someuser@example.com", token: "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg")
        XCTAssertEqual(
            String(decoding: Base64.encode(bytes), as: UTF8.self),
            "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==")
    }

    func testOAUTHBEARER_initialResponse_escapesTheUser() {
        // RFC 7628 §4.1, with the authorization identity added.
        let bytes = SASL.oauthBearer(user: "user@example.com", token: "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
                                     host: "server.example.com", port: 143)
        XCTAssertEqual(
            String(decoding: bytes, as: UTF8.self),
            "n,a=user@example.com,\u{1}host=server.example.com\u{1}port=143\u{1}auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\u{1}\u{1}")
        let odd = String(decoding: SASL.oauthBearer(user: "a,b=c", token: "t", host: "h", port: 1), as: UTF8.self)
        XCTAssertTrue(odd.hasPrefix("n,a=a=2Cb=3Dc,\u{1}"), odd)
    }

    func testAuthenticate_withAndWithoutSASLIR() throws {
        let command = Command.authenticate(mechanism: "xoauth2", initialResponse: Array("abc".utf8))
        XCTAssertEqual(try parts(command, CommandEncoder(saslInitialResponse: true)), ["A0001 AUTHENTICATE XOAUTH2 YWJj\r\n"])
        XCTAssertEqual(try parts(command, CommandEncoder()), ["A0001 AUTHENTICATE XOAUTH2\r\n", "YWJj\r\n"])
        XCTAssertEqual(
            try parts(.authenticate(mechanism: "X", initialResponse: []), CommandEncoder(saslInitialResponse: true)),
            ["A0001 AUTHENTICATE X =\r\n"])
        XCTAssertTrue(try CommandEncoder().encode(command, tag: "A1").containsCredentials)
        XCTAssertThrowsError(try CommandEncoder().encode(.authenticate(mechanism: "TWO WORDS", initialResponse: []), tag: "A1"))
    }

    func testPreferredMechanism() {
        XCTAssertEqual(SASL.OAuthMechanism.preferred(among: [.auth("XOAUTH2"), .auth("OAUTHBEARER")]), .oauthBearer)
        XCTAssertEqual(SASL.OAuthMechanism.preferred(among: [.auth("PLAIN"), Capability("auth=xoauth2")]), .xoauth2)
        XCTAssertNil(SASL.OAuthMechanism.preferred(among: [.auth("PLAIN")]))
    }

    func testBase64_decodesWhatItEncodes() {
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 37 + 11) }
            XCTAssertEqual(Base64.decode(Base64.encode(bytes)), bytes, "length \(length)")
        }
        XCTAssertEqual(SASL.decodeChallenge("eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0="), Array(#"{"status":"invalid_token"}"#.utf8))
        XCTAssertNil(SASL.decodeChallenge("not base64!"))
    }
}
