#if canImport(Glibc)
import Glibc
#endif
import SyncProtocol
import TestSupport

/// A viewer that says hello, subscribes to everything and then reads nothing: what the daemon
/// must drop as too slow once Errors, which are never merged away, overflow its queue.
final class StalledViewer {
    private let fd: CInt

    init(socket path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestError("socket: errno \(errno)") }
        // A small receive buffer, so the daemon's queue fills rather than the kernel's.
        var size = CInt(4096)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<CInt>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            close(fd)
            throw TestError("connect \(path): errno \(errno)")
        }
        // The protocol lets a viewer pipeline its requests: no need to read the Welcome first.
        let bytes = [Message.hello(Hello(versions: 1...1, client: "stalled")),
                     .request(Request(id: 1, command: .subscribe(stores: [], since: nil)))]
            .flatMap { Array(Frame.encode($0).readableBytesView) }
        guard bytes.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == bytes.count else {
            close(fd)
            throw TestError("could not send hello and subscribe: errno \(errno)")
        }
    }

    deinit { close(fd) }
}
