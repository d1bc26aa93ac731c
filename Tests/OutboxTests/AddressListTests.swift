import MessageHeaders
import XCTest

/// RFC 5322 address lists into envelope addresses.
final class AddressListTests: XCTestCase {
    func testDisplayNamesQuotedStringsAndComments_leaveTheAddresses() {
        XCTAssertEqual(AddressList.addresses(#""Doe, Jane" <jane@example.org>, Bob <bob@example.org>"#), ["jane@example.org", "bob@example.org"])
        XCTAssertEqual(AddressList.addresses("carol@example.org (Carol, at work), dave@example.org"), ["carol@example.org", "dave@example.org"])
        XCTAssertEqual(AddressList.addresses("(a (nested) comment) Erin <erin@example.org>"), ["erin@example.org"])
        XCTAssertEqual(AddressList.addresses(#"=?UTF-8?Q?J=C3=BCrgen?= <j@example.org>"#), ["j@example.org"])
        XCTAssertEqual(AddressList.addresses("plain@example.org"), ["plain@example.org"])
    }

    func testGroups_giveTheirMembers_andAnEmptyGroupNothing() {
        XCTAssertEqual(AddressList.addresses("undisclosed-recipients:;"), [])
        XCTAssertEqual(AddressList.addresses("Team: a@example.org, B <b@example.org>;, c@example.org"), ["a@example.org", "b@example.org", "c@example.org"])
    }

    func testQuotedLocalPart_obsoleteRoute_andSpacesAroundTheAt() {
        XCTAssertEqual(AddressList.addresses(#""john doe"@example.org"#), [#""john doe"@example.org"#])
        XCTAssertEqual(AddressList.addresses("<@relay.example:user@example.org>"), ["user@example.org"])
        XCTAssertEqual(AddressList.addresses("jane @ example.org"), ["jane@example.org"])
    }

    func testWhatIsNotAnAddress_isSkipped() {
        XCTAssertEqual(AddressList.addresses("Undisclosed list"), [])
        XCTAssertEqual(AddressList.addresses("<>"), [])
        XCTAssertEqual(AddressList.addresses(" , ,"), [])
        XCTAssertEqual(AddressList.addresses("root"), ["root"], "a local name is an addr-spec too")
    }
}
