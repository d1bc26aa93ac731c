import Foundation
@testable import syncctl
import XCTest

/// What `syncctl add imap` reads from the network, fed whole, cut short and hostile.
final class AddIMAPParsingTests: XCTestCase {
    /// A response to `_imaps._tcp.example.org SRV` with two answers, the second's target a
    /// compression pointer into the first.
    private func response(secondTarget: [UInt8]? = nil) -> [UInt8] {
        var message: [UInt8] = [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0]
        let question = 12
        message += [6] + Array("_imaps".utf8) + [4] + Array("_tcp".utf8) + [7] + Array("example".utf8) + [3] + Array("org".utf8) + [0]
        message += [0, 33, 0, 1]
        // Answer 1: name = pointer to the question; SRV 10 5 993 imap.example.org.
        let target1 = [4] + Array("imap".utf8) + [0xC0, UInt8(question + 7 + 5)]  // "example.org" in the question
        message += [0xC0, UInt8(question), 0, 33, 0, 1, 0, 0, 0, 60, 0, UInt8(6 + target1.count)]
        message += [0, 10, 0, 5, 0x03, 0xE1] + target1
        // Answer 2: SRV 0 1 1993 backup (given, or "mx2" + pointer to "example.org").
        let target2 = secondTarget ?? ([3] + Array("mx2".utf8) + [0xC0, UInt8(question + 7 + 5)])
        message += [0xC0, UInt8(question), 0, 33, 0, 1, 0, 0, 0, 60, 0, UInt8(6 + target2.count)]
        message += [0, 0, 0, 1, 0x07, 0xC9] + target2
        return message
    }

    func testSRVAnswer_readsEveryRecord_withCompressedNames() {
        XCTAssertEqual(DNSMessage.srvRecords(response()), [
            SRVRecord(priority: 10, weight: 5, port: 993, target: "imap.example.org"),
            SRVRecord(priority: 0, weight: 1, port: 1993, target: "mx2.example.org"),
        ])
    }

    func testSRVAnswer_cutShortAnywhere_neverTraps() {
        let whole = response()
        for length in 0..<whole.count {
            let records = DNSMessage.srvRecords(Array(whole.prefix(length)))
            XCTAssertLessThanOrEqual(records.count, 1, "cut at \(length)")
        }
    }

    /// A name whose pointer points at itself: read as malformed, not followed forever.
    func testSRVAnswer_pointerLoop_isMalformed() {
        let loop = response(secondTarget: [0xC0, 0])  // patched below to point at itself
        var message = loop
        let at = message.count - 2
        message[at] = 0xC0 | UInt8(at >> 8)
        message[at + 1] = UInt8(at & 0xFF)
        XCTAssertEqual(DNSMessage.srvRecords(message), [SRVRecord(priority: 10, weight: 5, port: 993, target: "imap.example.org")])
    }

    /// A target of "." says the service is not offered (RFC 6186 §3.4).
    func testSRVAnswer_rootTarget_isEmpty() {
        XCTAssertEqual(DNSMessage.srvRecords(response(secondTarget: [0])).last?.target, "")
    }

    func testNameserver_addressAndPort() {
        XCTAssertEqual(SRVLookup.nameserver("127.0.0.1:5353")?.port, 5353)
        XCTAssertEqual(SRVLookup.nameserver("192.0.2.1")?.port, 53)
        XCTAssertNil(SRVLookup.nameserver("127.0.0.1:0"))
        XCTAssertNil(SRVLookup.nameserver(":53"))
    }

    func testAutoconfig_firstIMAPServer_placeholdersFilled() {
        let document = """
            <clientConfig version="1.1"><emailProvider id="example.org">
            <incomingServer type="pop3"><hostname>pop.example.org</hostname><port>995</port></incomingServer>
            <incomingServer type="imap"><hostname>imap.%EMAILDOMAIN%</hostname><port>143</port><socketType>STARTTLS</socketType>
            <username>%EMAILLOCALPART%</username><authentication>password-cleartext</authentication></incomingServer>
            <incomingServer type="imap"><hostname>second.example.org</hostname></incomingServer>
            </emailProvider></clientConfig>
            """
        XCTAssertEqual(Autoconfig.parse(Data(document.utf8), address: "me@example.org"),
                       AutoconfigServer(host: "imap.example.org", port: 143, security: "STARTTLS", user: "me", authentication: ["password-cleartext"]))
        XCTAssertNil(Autoconfig.parse(Data("<html>not found</html>".utf8), address: "me@example.org"))
        XCTAssertNil(Autoconfig.parse(Data("<clientConfig><incomingServer type=\"imap\">".utf8), address: "me@example.org"))
    }

    func testStoreSection_quotesWhatTOMLNeeds() {
        XCTAssertEqual(StoreSection.quoted("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"")
    }
}
