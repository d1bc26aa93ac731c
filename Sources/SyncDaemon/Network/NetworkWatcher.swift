#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging

/// Watches the kernel's routing table through a NETLINK_ROUTE socket and says whenever the
/// default routes change: one appears, goes, or another gateway or interface takes over.
///
/// Why netlink and not libsystemd's `sd_network_monitor`: that one reports what
/// systemd-networkd manages and says nothing under NetworkManager, ifupdown, wg-quick or a
/// container's runtime; the kernel's routing table is the one truth on every Linux, and reading
/// it needs no daemon and no library.
///
/// Events only say "look again": after each burst (route, link and address groups; a link losing
/// its carrier or an address going takes IPv4 routes with it without a route event of their own)
/// the table is dumped again ``debounce`` later, on a second socket so that the dump's answer and
/// the events never mix. A lost event (ENOBUFS, the socket's buffer overran) and an interrupted
/// dump (NLM_F_DUMP_INTR) mean the same: dump again.
final class NetworkWatcher: Sendable {
    /// How long after an event the table is read again: a change is a burst of messages (an
    /// address, its routes, the default route), and the answer is wanted once it is over.
    static let debounce = Duration.milliseconds(200)

    /// The preferred default route of each family (``DefaultRoute/preferred(_:)``) after the first
    /// dump, and again whenever that changes; empty when there is none. Finishes when the watcher
    /// stops (or cannot start: then it yields nothing).
    let routes: AsyncStream<[DefaultRoute]>
    private let continuation: AsyncStream<[DefaultRoute]>.Continuation
    /// Written to by ``stop()``, read by the netlink thread.
    private let control = ControlPipe()
    private let logger: Logger

    init(logger: Logger) {
        (routes, continuation) = AsyncStream.makeStream(of: [DefaultRoute].self)
        self.logger = logger
    }

    /// Starts the netlink thread (it blocks in poll(2), so not on the cooperative pool).
    func start() {
        let thread = Thread { [self] in
            self.run()
            self.continuation.finish()
        }
        thread.name = "netlink routes"
        thread.start()
    }

    func stop() {
        control.send(UInt8(ascii: "q"))
    }

    private func run() {
        let groups = Netlink.Group.ipv4Route | Netlink.Group.ipv6Route | Netlink.Group.link
            | Netlink.Group.ipv4Address | Netlink.Group.ipv6Address
        // Subscribed before the first dump, so that no change between the two goes unseen.
        guard let events = Self.openSocket(groups: groups, nonBlocking: true), let dumps = Self.openSocket(groups: 0, nonBlocking: false) else {
            logger.warning("cannot watch the network (netlink: \(String(cString: strerror(errno)))): stores sync whatever the routes")
            return
        }
        defer {
            close(events)
            close(dumps)
        }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var known: [DefaultRoute]?
        var dumpAt: ContinuousClock.Instant? = .now
        var sequence: UInt32 = 0
        var failing = false
        while true {
            let wait = pollMilliseconds(until: dumpAt)
            var fds = [pollfd(fd: events, events: Int16(POLLIN), revents: 0), pollfd(fd: control.readEnd, events: Int16(POLLIN), revents: 0)]
            guard poll(&fds, 2, wait) >= 0 || errno == EINTR else { return }
            if fds[1].revents != 0 { return }
            if fds[0].revents != 0, drain(events, into: &buffer) {
                dumpAt = dumpAt ?? .now + Self.debounce
            }
            guard let due = dumpAt, due <= .now else { continue }
            sequence &+= 1
            do {
                let routes = try Self.dump(dumps, sequence: sequence, buffer: &buffer)
                dumpAt = nil
                if failing {
                    logger.info("network: the routing table can be read again")
                    failing = false
                }
                let preferred = DefaultRoute.preferred(routes)
                if preferred != known {
                    known = preferred
                    continuation.yield(preferred)
                }
            } catch {
                if !failing { logger.warning("network: cannot read the routing table (\(error)); trying again each second") }
                failing = true
                dumpAt = .now + .seconds(1)
            }
        }
    }

    /// Reads every waiting event; true if one may have changed the default route (or one was lost).
    private func drain(_ fd: Int32, into buffer: inout [UInt8]) -> Bool {
        var relevant = false
        while true {
            let (count, sender) = Self.receive(fd, into: &buffer, flags: Int32(MSG_DONTWAIT))
            if count < 0 {
                if errno == EINTR { continue }
                // ENOBUFS: the kernel dropped events for want of room; what they said is unknown.
                return relevant || errno == ENOBUFS
            }
            // Only the kernel speaks for the routing table.
            guard sender == 0 else { continue }
            guard count <= buffer.count, let messages = try? Netlink.messages(in: buffer[0..<count]) else {
                relevant = true
                continue
            }
            for message in messages {
                switch message.type {
                case Netlink.MessageType.newRoute, Netlink.MessageType.delRoute:
                    // Only a route to everywhere (destination length 0) can change the answer.
                    if message.payload.count < Netlink.routeHeaderSize || message.payload[message.payload.startIndex + 1] == 0 {
                        relevant = true
                    }
                case Netlink.MessageType.newLink, Netlink.MessageType.delLink, Netlink.MessageType.newAddress,
                     Netlink.MessageType.delAddress, Netlink.MessageType.overrun:
                    relevant = true
                default: break
                }
            }
        }
    }

    struct DumpFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// Asks the kernel for every route (RTM_GETROUTE, NLM_F_DUMP, all families) and collects the
    /// usable default routes of the main table from its multipart answer, up to NLMSG_DONE.
    private static func dump(_ fd: Int32, sequence: UInt32, buffer: inout [UInt8]) throws(DumpFailure) -> [DefaultRoute] {
        var request = [UInt8](repeating: 0, count: Netlink.headerSize + Netlink.routeHeaderSize)
        request.withUnsafeMutableBytes { bytes in
            bytes.storeBytes(of: UInt32(bytes.count), toByteOffset: 0, as: UInt32.self)
            bytes.storeBytes(of: Netlink.MessageType.getRoute, toByteOffset: 4, as: UInt16.self)
            bytes.storeBytes(of: Netlink.Flag.request | Netlink.Flag.dump, toByteOffset: 6, as: UInt16.self)
            bytes.storeBytes(of: sequence, toByteOffset: 8, as: UInt32.self)
            // The rtmsg after the header stays zero: family AF_UNSPEC, every family.
        }
        var kernel = NetlinkAddress()
        let sent = request.withUnsafeBytes { bytes in
            withUnsafePointer(to: &kernel) { address in
                address.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<NetlinkAddress>.size))
                }
            }
        }
        guard sent == request.count else { throw DumpFailure(description: "send: \(String(cString: strerror(errno)))") }
        var routes: [DefaultRoute] = []
        var interrupted = false
        let deadline = ContinuousClock.now + .seconds(5)
        while true {
            var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard deadline > .now else { throw DumpFailure(description: "no answer within 5s") }
            let polled = poll(&ready, 1, pollMilliseconds(until: deadline))
            if polled < 0, errno == EINTR { continue }
            guard polled > 0 else { continue }
            let (count, sender) = Self.receive(fd, into: &buffer, flags: 0)
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw DumpFailure(description: "receive: \(String(cString: strerror(errno)))") }
            guard sender == 0 else { continue }
            guard count <= buffer.count else { throw DumpFailure(description: "a datagram of \(count) bytes, over the buffer") }
            let messages: [Netlink.Message]
            do { messages = try Netlink.messages(in: buffer[0..<count]) } catch { throw DumpFailure(description: "\(error)") }
            // An answer to an earlier dump that timed out is not this one's.
            for message in messages where message.sequence == sequence {
                if message.flags & Netlink.Flag.dumpInterrupted != 0 { interrupted = true }
                switch message.type {
                case Netlink.MessageType.done:
                    if let code = Netlink.errorCode(of: message), code != 0 {
                        throw DumpFailure(description: String(cString: strerror(code)))
                    }
                    if interrupted { throw DumpFailure(description: "the table changed during the dump") }
                    return routes.map(named)
                case Netlink.MessageType.error:
                    throw DumpFailure(description: Netlink.errorCode(of: message).map { String(cString: strerror($0)) } ?? "a short error message")
                case Netlink.MessageType.newRoute:
                    do {
                        if let route = try DefaultRoute.parse(message) { routes.append(route) }
                    } catch {
                        throw DumpFailure(description: "\(error)")
                    }
                default: break
                }
            }
        }
    }

    /// One datagram into `buffer`: its whole length (MSG_TRUNC: more than the buffer if it was cut),
    /// or -1 with errno set; and the sender's port id (0: the kernel).
    private static func receive(_ fd: Int32, into buffer: inout [UInt8], flags: Int32) -> (count: Int, sender: UInt32) {
        var sender = NetlinkAddress()
        var senderLength = socklen_t(MemoryLayout<NetlinkAddress>.size)
        let count = buffer.withUnsafeMutableBytes { bytes in
            withUnsafeMutablePointer(to: &sender) { address in
                address.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    recvfrom(fd, bytes.baseAddress, bytes.count, flags | Int32(MSG_TRUNC), $0, &senderLength)
                }
            }
        }
        return (count, sender.pid)
    }

    /// The route with its interface's name, for the journal.
    private static func named(_ route: DefaultRoute) -> DefaultRoute {
        var route = route
        var name = [CChar](repeating: 0, count: Int(IF_NAMESIZE) + 1)
        if route.interfaceIndex > 0, if_indextoname(UInt32(route.interfaceIndex), &name) != nil {
            route.interfaceName = name.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        }
        return route
    }

    /// A NETLINK_ROUTE socket bound to `groups` (0 for none: a socket for dumps), nil on failure.
    private static func openSocket(groups: UInt32, nonBlocking: Bool) -> Int32? {
        var type = Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        if nonBlocking { type |= Int32(SOCK_NONBLOCK.rawValue) }
        let fd = socket(AF_NETLINK, type, Netlink.route)
        guard fd >= 0 else { return nil }
        var address = NetlinkAddress(groups: groups)
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<NetlinkAddress>.size))
            }
        }
        guard bound == 0 else {
            let saved = errno
            close(fd)
            errno = saved
            return nil
        }
        return fd
    }
}

/// struct sockaddr_nl: the kernel's address is pid 0; a socket bound with pid 0 gets one assigned.
private struct NetlinkAddress {
    var family = UInt16(AF_NETLINK)
    var pad: UInt16 = 0
    var pid: UInt32 = 0
    var groups: UInt32 = 0
}
