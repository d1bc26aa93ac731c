#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import SyncProtocol
import TestSupport

/// A viewer on a plain blocking socket, for tests that must control every byte (hostile input)
/// or stop reading (slow viewers). Reads time out rather than hang a test.
final class RawViewer {
    let fd: CInt
    private var inbox = ByteBuffer()

    init(path: String, receiveBuffer: Int? = nil) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestError("socket: \(errno)") }
        if let receiveBuffer {
            var size = CInt(receiveBuffer)
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<CInt>.size))
        }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else {
            close(fd)
            throw TestError("connect \(path): errno \(errno)")
        }
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
    }

    func send(_ message: Message) {
        send(Array(Frame.encode(message).readableBytesView))
    }

    /// The next frame, or nil at EOF (or after the 10 s read timeout).
    func next() throws -> Message? {
        while true {
            if let message = try Frame.decode(from: &inbox, limit: Frame.defaultServerFrameLimit) {
                return message
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { return nil }
            inbox.writeBytes(chunk[0..<n])
        }
    }

    /// Every frame until the server closes the connection.
    func drainToEOF() throws -> [Message] {
        var messages: [Message] = []
        while let message = try next() { messages.append(message) }
        return messages
    }

    /// Hello, Welcome and (optionally) Subscribe/Subscribed, as a well-behaved viewer does.
    @discardableResult
    func handshake(subscribe: Bool = true, since: UInt64? = nil) throws -> Welcome {
        send(.hello(Hello(client: "raw-test")))
        guard case .welcome(let welcome)? = try next() else { throw TestError("no welcome") }
        if subscribe {
            send(.request(Request(id: 1, command: .subscribe(stores: [], since: since))))
            guard case .subscribed? = try next() else { throw TestError("no subscribed") }
        }
        return welcome
    }
}

