#if canImport(Glibc)
import Glibc
#endif

/// rtnetlink (netlink(7), rtnetlink(7)) as far as the default route needs it: the numbers of the
/// kernel's UAPI headers (<linux/netlink.h>, <linux/rtnetlink.h>), which Swift's Glibc module does
/// not import, and a parser of the messages a route dump or the route, link and address groups
/// deliver. Pure: bytes in, values out; the socket lives in ``NetworkWatcher``.
///
/// Netlink is in the host's byte order, and every message and attribute starts on a 4-byte
/// boundary (NLMSG_ALIGN, RTA_ALIGN).
enum Netlink {
    static let route: Int32 = 0  // NETLINK_ROUTE
    static let solNetlink: Int32 = 270  // SOL_NETLINK

    enum MessageType {
        static let noop: UInt16 = 1
        static let error: UInt16 = 2
        static let done: UInt16 = 3
        static let overrun: UInt16 = 4
        static let newLink: UInt16 = 16
        static let delLink: UInt16 = 17
        static let newAddress: UInt16 = 20
        static let delAddress: UInt16 = 21
        static let newRoute: UInt16 = 24
        static let delRoute: UInt16 = 25
        static let getRoute: UInt16 = 26
    }

    enum Flag {
        static let request: UInt16 = 0x1
        static let multi: UInt16 = 0x2
        /// The dump was interrupted by a change: its answer may be inconsistent, dump again.
        static let dumpInterrupted: UInt16 = 0x10
        static let dump: UInt16 = 0x300  // NLM_F_ROOT | NLM_F_MATCH
    }

    enum Group {
        static let link: UInt32 = 0x1
        static let ipv4Address: UInt32 = 0x10
        static let ipv4Route: UInt32 = 0x40
        static let ipv6Address: UInt32 = 0x100
        static let ipv6Route: UInt32 = 0x400
    }

    enum RouteAttribute {
        static let outputInterface: UInt16 = 4  // RTA_OIF
        static let gateway: UInt16 = 5  // RTA_GATEWAY
        static let priority: UInt16 = 6  // RTA_PRIORITY (the metric)
        static let multipath: UInt16 = 9  // RTA_MULTIPATH
        static let table: UInt16 = 15  // RTA_TABLE (table ids past 255)
        static let via: UInt16 = 18  // RTA_VIA (an IPv6 gateway of an IPv4 route)
        static let nexthopID: UInt16 = 30  // RTA_NH_ID
    }

    static let unicast: UInt8 = 1  // RTN_UNICAST
    static let mainTable: UInt32 = 254  // RT_TABLE_MAIN
    static let nexthopDead: UInt32 = 0x1  // RTNH_F_DEAD
    static let nexthopLinkDown: UInt32 = 0x10  // RTNH_F_LINKDOWN

    static let headerSize = 16  // struct nlmsghdr
    static let routeHeaderSize = 12  // struct rtmsg
    static let nexthopHeaderSize = 8  // struct rtnexthop

    static func align(_ length: Int) -> Int { (length + 3) & ~3 }

    /// One netlink message: its header's fields and the bytes after the header.
    struct Message: Equatable {
        var type: UInt16
        var flags: UInt16
        var sequence: UInt32
        var payload: ArraySlice<UInt8>
    }

    struct Malformed: Error, CustomStringConvertible {
        let description: String
    }

    /// The messages of one datagram, in order. Throws when a length field points outside the
    /// datagram or below its header: the rest cannot be trusted, and the caller dumps again.
    static func messages(in bytes: ArraySlice<UInt8>) throws(Malformed) -> [Message] {
        var messages: [Message] = []
        var offset = bytes.startIndex
        while bytes.endIndex - offset >= headerSize {
            let length = Int(bytes.loadUInt32(at: offset))
            guard length >= headerSize, length <= bytes.endIndex - offset else {
                throw Malformed(description: "a netlink message of \(length) bytes with \(bytes.endIndex - offset) left")
            }
            messages.append(Message(
                type: bytes.loadUInt16(at: offset + 4), flags: bytes.loadUInt16(at: offset + 6),
                sequence: bytes.loadUInt32(at: offset + 8), payload: bytes[(offset + headerSize)..<(offset + length)]))
            offset += min(align(length), bytes.endIndex - offset)
        }
        return messages
    }

    /// The errno of an NLMSG_ERROR (0 is an acknowledgement), nil if the payload is too short.
    static func errorCode(of message: Message) -> Int32? {
        guard message.payload.count >= 4 else { return nil }
        return -Int32(bitPattern: message.payload.loadUInt32(at: message.payload.startIndex))
    }

    /// The attributes of a route (or next hop) as (type, value) pairs; the nested bit is cleared.
    static func attributes(in bytes: ArraySlice<UInt8>) throws(Malformed) -> [(type: UInt16, value: ArraySlice<UInt8>)] {
        var attributes: [(type: UInt16, value: ArraySlice<UInt8>)] = []
        var offset = bytes.startIndex
        while bytes.endIndex - offset >= 4 {
            let length = Int(bytes.loadUInt16(at: offset))
            guard length >= 4, length <= bytes.endIndex - offset else {
                throw Malformed(description: "a route attribute of \(length) bytes with \(bytes.endIndex - offset) left")
            }
            attributes.append((bytes.loadUInt16(at: offset + 2) & 0x3fff, bytes[(offset + 4)..<(offset + length)]))
            offset += min(align(length), bytes.endIndex - offset)
        }
        return attributes
    }
}

/// A default route (destination length 0) of the main table that can carry traffic: its
/// identity, so that another gateway or interface (a new Wi-Fi) is told from the same route
/// announced again.
struct DefaultRoute: Hashable, Sendable, CustomStringConvertible {
    /// AF_INET or AF_INET6.
    var family: UInt8
    /// The gateway's address bytes; empty for a route straight onto a link (a point-to-point VPN).
    var gateway: [UInt8]
    var interfaceIndex: Int32
    /// A route through a next-hop object (`ip nexthop`) names its gateway there.
    var nexthopID: UInt32?
    /// The interface's name for the journal; not part of the identity.
    var interfaceName = ""
    /// The route's metric, to choose among several of a family; not part of the identity.
    var metric: UInt32 = 0

    static func == (a: DefaultRoute, b: DefaultRoute) -> Bool {
        a.family == b.family && a.gateway == b.gateway && a.interfaceIndex == b.interfaceIndex && a.nexthopID == b.nexthopID
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(family)
        hasher.combine(gateway)
        hasher.combine(interfaceIndex)
        hasher.combine(nexthopID)
    }

    var description: String { interfaceName.isEmpty ? "interface \(interfaceIndex)" : interfaceName }

    /// The usable default route an RTM_NEWROUTE describes, nil for any other route: another
    /// destination, another table, an unreachable/blackhole/prohibit route (not unicast), or one
    /// whose next hops are all dead or on a link without carrier.
    static func parse(_ message: Netlink.Message) throws(Netlink.Malformed) -> DefaultRoute? {
        guard message.type == Netlink.MessageType.newRoute else { return nil }
        let bytes = message.payload
        guard bytes.count >= Netlink.routeHeaderSize else {
            throw Netlink.Malformed(description: "a route message of \(bytes.count) bytes")
        }
        let start = bytes.startIndex
        let family = bytes[start], destinationLength = bytes[start + 1], type = bytes[start + 7]
        var table = UInt32(bytes[start + 4])
        let flags = bytes.loadUInt32(at: start + 8)
        guard family == UInt8(AF_INET) || family == UInt8(AF_INET6), destinationLength == 0, type == Netlink.unicast else {
            return nil
        }
        var route = DefaultRoute(family: family, gateway: [], interfaceIndex: 0)
        var usable = flags & (Netlink.nexthopDead | Netlink.nexthopLinkDown) == 0
        for (kind, value) in try Netlink.attributes(in: bytes[(start + Netlink.routeHeaderSize)...]) {
            switch kind {
            case Netlink.RouteAttribute.table where value.count >= 4: table = value.loadUInt32(at: value.startIndex)
            case Netlink.RouteAttribute.outputInterface where value.count >= 4:
                route.interfaceIndex = Int32(bitPattern: value.loadUInt32(at: value.startIndex))
            case Netlink.RouteAttribute.gateway: route.gateway = Array(value)
            // struct rtvia: the address family (u16), then the address.
            case Netlink.RouteAttribute.via: route.gateway = Array(value.dropFirst(2))
            case Netlink.RouteAttribute.priority where value.count >= 4: route.metric = value.loadUInt32(at: value.startIndex)
            case Netlink.RouteAttribute.nexthopID where value.count >= 4: route.nexthopID = value.loadUInt32(at: value.startIndex)
            case Netlink.RouteAttribute.multipath:
                // ECMP: the first live next hop stands for the route.
                guard let hop = try firstLiveNexthop(value) else {
                    usable = false
                    continue
                }
                usable = true
                (route.interfaceIndex, route.gateway) = hop
            default: break
            }
        }
        guard table == Netlink.mainTable, usable else { return nil }
        return route
    }

    /// The interface and gateway of the first next hop of an RTA_MULTIPATH neither dead nor down.
    private static func firstLiveNexthop(_ bytes: ArraySlice<UInt8>) throws(Netlink.Malformed) -> (Int32, [UInt8])? {
        var offset = bytes.startIndex
        while bytes.endIndex - offset >= Netlink.nexthopHeaderSize {
            let length = Int(bytes.loadUInt16(at: offset))
            guard length >= Netlink.nexthopHeaderSize, length <= bytes.endIndex - offset else {
                throw Netlink.Malformed(description: "a next hop of \(length) bytes with \(bytes.endIndex - offset) left")
            }
            let flags = UInt32(bytes[offset + 2])
            let index = Int32(bitPattern: bytes.loadUInt32(at: offset + 4))
            if flags & (Netlink.nexthopDead | Netlink.nexthopLinkDown) == 0 {
                let gateway = try Netlink.attributes(in: bytes[(offset + Netlink.nexthopHeaderSize)..<(offset + length)])
                    .first { $0.type == Netlink.RouteAttribute.gateway || $0.type == Netlink.RouteAttribute.via }
                    .map { Array($0.type == Netlink.RouteAttribute.via ? $0.value.dropFirst(2) : $0.value) }
                return (index, gateway ?? [])
            }
            offset += min(Netlink.align(length), bytes.endIndex - offset)
        }
        return nil
    }

    /// The route each family would use (the lowest metric; IPv4 first): what "the network" is.
    static func preferred(_ routes: [DefaultRoute]) -> [DefaultRoute] {
        Dictionary(grouping: routes, by: \.family).values
            .compactMap { $0.min { ($0.metric, $0.interfaceIndex) < ($1.metric, $1.interfaceIndex) } }
            .sorted { $0.family < $1.family }
    }
}

extension ArraySlice<UInt8> {
    func loadUInt16(at index: Int) -> UInt16 {
        withUnsafeBytes { $0.loadUnaligned(fromByteOffset: index - startIndex, as: UInt16.self) }
    }

    func loadUInt32(at index: Int) -> UInt32 {
        withUnsafeBytes { $0.loadUnaligned(fromByteOffset: index - startIndex, as: UInt32.self) }
    }
}

extension DefaultRoute {
    /// The gateway as `ip route` prints it, nil for a route without one.
    var gatewayText: String? {
        let family = Int32(gateway.count == 16 ? AF_INET6 : gateway.count == 4 ? AF_INET : -1)
        guard family >= 0 else { return nil }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        return gateway.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &text, socklen_t(text.count)) } != nil
            ? text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) } : nil
    }
}
