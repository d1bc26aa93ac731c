#if canImport(Glibc)
import Glibc
#endif
import XCTest
@testable import SyncDaemon

/// rtnetlink as the kernel writes it, built byte by byte from rtnetlink(7)'s layouts.
final class RouteMessagesTests: XCTestCase {
    func testADump_yieldsTheUsableDefaultRoutesOfTheMainTable_only() throws {
        let datagram = message(route(gateway: [192, 168, 1, 1], interface: 3, metric: 600))
            + message(route(destinationLength: 24, interface: 3))  // the LAN's own route
            + message(route(gateway: [10, 0, 0, 1], interface: 5, table: 100))  // policy routing elsewhere
            + message(route(gateway: [10, 0, 0, 1], interface: 5, bigTable: 51820))  // wg-quick's table, past 255
            + message(route(type: 7, interface: 1))  // "unreachable default" (RTN_UNREACHABLE), not unicast
            + message(route(interface: 4, flags: Netlink.nexthopLinkDown))  // a cable pulled
            + message(route(family: UInt8(AF_INET6), gateway: [0xfe, 0x80] + Array(repeating: 0, count: 13) + [1], interface: 3))
            + message(type: Netlink.MessageType.done, [0, 0, 0, 0])
        let messages = try Netlink.messages(in: datagram[...])
        XCTAssertEqual(messages.count, 8)
        XCTAssertTrue(messages.dropLast().allSatisfy { $0.flags & Netlink.Flag.multi != 0 && $0.sequence == 7 })
        let routes = try messages.compactMap(DefaultRoute.parse)
        XCTAssertEqual(routes, [
            DefaultRoute(family: UInt8(AF_INET), gateway: [192, 168, 1, 1], interfaceIndex: 3),
            DefaultRoute(family: UInt8(AF_INET6), gateway: [0xfe, 0x80] + Array(repeating: 0, count: 13) + [1], interfaceIndex: 3),
        ])
        XCTAssertEqual(routes[0].metric, 600)
        XCTAssertEqual(routes[0].gatewayText, "192.168.1.1")
        XCTAssertEqual(routes[1].gatewayText, "fe80::1")
        XCTAssertEqual(Netlink.errorCode(of: messages.last!), 0)
    }

    func testMultipath_theFirstLiveNexthopStandsForTheRoute_andAllDeadIsNoRoute() throws {
        let dead = nexthop(flags: UInt8(Netlink.nexthopDead), interface: 7, gateway: [10, 0, 0, 7])
        let live = nexthop(flags: 0, interface: 8, gateway: [10, 0, 0, 8])
        let ecmp = try DefaultRoute.parse(try Netlink.messages(in: message(route(extra: [attribute(9, dead + live)]))[...])[0])
        XCTAssertEqual(ecmp, DefaultRoute(family: UInt8(AF_INET), gateway: [10, 0, 0, 8], interfaceIndex: 8))
        let allDead = try DefaultRoute.parse(try Netlink.messages(in: message(route(extra: [attribute(9, dead)]))[...])[0])
        XCTAssertNil(allDead)
    }

    func testANexthopObjectsRoute_isKnownByItsID() throws {
        let parsed = try DefaultRoute.parse(try Netlink.messages(in: message(route(extra: [attribute(30, le32(42))]))[...])[0])
        XCTAssertEqual(parsed?.nexthopID, 42)
        XCTAssertNotEqual(parsed, DefaultRoute(family: UInt8(AF_INET), gateway: [], interfaceIndex: 0), "another next hop is another route")
    }

    func testHostileLengths_throw_andNeverReadPastTheDatagram() {
        var tooLong = message(route(gateway: [10, 0, 0, 1], interface: 2))
        tooLong.replaceSubrange(0..<4, with: le32(UInt32(tooLong.count + 4)))
        XCTAssertThrowsError(try Netlink.messages(in: tooLong[...]))
        var belowHeader = tooLong
        belowHeader.replaceSubrange(0..<4, with: le32(8))
        XCTAssertThrowsError(try Netlink.messages(in: belowHeader[...]))
        // An attribute claiming more than its message holds.
        var badAttribute = message(route(gateway: [10, 0, 0, 1], interface: 2))
        badAttribute[Netlink.headerSize + Netlink.routeHeaderSize] = 200
        let messages = try? Netlink.messages(in: badAttribute[...])
        XCTAssertEqual(messages?.count, 1)
        XCTAssertThrowsError(try DefaultRoute.parse(messages![0]))
        // A short route message, and trailing bytes too few for a header.
        XCTAssertThrowsError(try DefaultRoute.parse(Netlink.Message(type: Netlink.MessageType.newRoute, flags: 0, sequence: 0, payload: [2, 0][...])))
        XCTAssertEqual(try Netlink.messages(in: (message(route(interface: 2)) + [1, 2, 3])[...]).count, 1)
    }

    func testUnalignedAttributeLengths_arePaddedToFourBytes() throws {
        // A 5-byte attribute (one byte of value) is followed by 3 bytes of padding.
        let odd = [UInt8](le16(5)) + le16(99) + [0xaa, 0, 0, 0]
        let parsed = try DefaultRoute.parse(try Netlink.messages(in: message(route(interface: 6, extra: [odd]))[...])[0])
        XCTAssertEqual(parsed?.interfaceIndex, 6)
    }

    func testPreferred_isTheLowestMetricOfEachFamily_IPv4First() {
        let wifi = DefaultRoute(family: UInt8(AF_INET), gateway: [192, 168, 1, 1], interfaceIndex: 3, metric: 600)
        let cable = DefaultRoute(family: UInt8(AF_INET), gateway: [192, 168, 1, 1], interfaceIndex: 2, metric: 100)
        let v6 = DefaultRoute(family: UInt8(AF_INET6), gateway: [], interfaceIndex: 3, metric: 1024)
        XCTAssertEqual(DefaultRoute.preferred([v6, wifi, cable]), [cable, v6])
        XCTAssertEqual(DefaultRoute.preferred([]), [])
    }

    func testAnErrorMessage_carriesItsErrno() throws {
        let error = message(type: Netlink.MessageType.error, le32(UInt32(bitPattern: -EPERM)) + Array(repeating: 0, count: 16))
        XCTAssertEqual(Netlink.errorCode(of: try Netlink.messages(in: error[...])[0]), EPERM)
    }

    // MARK: Building messages

    private func message(type: UInt16 = Netlink.MessageType.newRoute, _ payload: [UInt8]) -> [UInt8] {
        let length = Netlink.headerSize + payload.count
        let padded = payload + Array(repeating: 0, count: Netlink.align(length) - length)
        return le32(UInt32(length)) + le16(type) + le16(Netlink.Flag.multi) + le32(7) + le32(4242) + padded
    }

    private func route(
        family: UInt8 = UInt8(AF_INET), destinationLength: UInt8 = 0, type: UInt8 = Netlink.unicast, gateway: [UInt8]? = nil,
        interface: UInt32? = nil, metric: UInt32? = nil, table: UInt8 = 254, bigTable: UInt32? = nil, flags: UInt32 = 0,
        extra: [[UInt8]] = []
    ) -> [UInt8] {
        var bytes: [UInt8] = [family, destinationLength, 0, 0, bigTable == nil ? table : 252, 3, 0, type] + le32(flags)
        if let bigTable { bytes += attribute(15, le32(bigTable)) }
        if let gateway { bytes += attribute(5, gateway) }
        if let interface { bytes += attribute(4, le32(interface)) }
        if let metric { bytes += attribute(6, le32(metric)) }
        for attribute in extra { bytes += attribute }
        return bytes
    }

    private func nexthop(flags: UInt8, interface: UInt32, gateway: [UInt8]) -> [UInt8] {
        let attributes = attribute(5, gateway)
        return le16(UInt16(8 + attributes.count)) + [flags, 0] + le32(interface) + attributes
    }

    private func attribute(_ type: UInt16, _ value: [UInt8]) -> [UInt8] {
        let length = 4 + value.count
        return le16(UInt16(length)) + le16(type) + value + Array(repeating: 0, count: Netlink.align(length) - length)
    }

    private func le16(_ value: UInt16) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
    private func le32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
}
