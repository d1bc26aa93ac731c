#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix

/// A message file read in chunks on NIO's thread pool, so a 20 MB message is never in memory
/// whole and no task's thread blocks on the disk.
struct MessageFile: Sendable {
    let path: String
    let size: Int
    private let descriptor: CInt

    init(path: String) throws {
        self.path = path
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Self.error("cannot open the message \(path)") }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let error = Self.error("cannot read the message \(path)")
            Glibc.close(descriptor)
            throw error
        }
        size = Int(status.st_size)
    }

    /// The next bytes, at most `count`; empty at the end of the file.
    func read(upTo count: Int, allocator: ByteBufferAllocator) async throws -> ByteBuffer {
        let descriptor = self.descriptor, path = self.path
        return try await NIOThreadPool.singleton.runIfActive {
            var buffer = allocator.buffer(capacity: count)
            var got = 0
            repeat {
                buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { bytes in
                    got = Glibc.read(descriptor, bytes.baseAddress, count)
                    return max(got, 0)
                }
            } while got < 0 && errno == EINTR
            guard got >= 0 else { throw Self.error("cannot read the message \(path)") }
            return buffer
        }
    }

    func close() {
        Glibc.close(descriptor)
    }

    private static func error(_ what: String) -> SMTPError {
        SMTPError(kind: .messageUnreadable, isTemporary: false, description: "\(what): \(String(cString: strerror(errno)))")
    }
}
