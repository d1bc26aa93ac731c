#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The lines of an encoded ``UIDMap``, from memory or read from its file a piece at a time: the
/// map of a 100 000-message folder is 8 MB of text that need not be in memory beside the map.
struct MapLines: ~Copyable {
    private var buffer: [UInt8]
    private var start = 0
    /// The file still being read; `nil` once it is all in `buffer` (or for bytes in memory).
    private var fd: Int32?
    private let path: String

    init(_ bytes: [UInt8]) {
        buffer = bytes
        fd = nil
        path = ""
    }

    /// The file at `path`; `nil` if there is none.
    init?(file path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw MaildirError.io("open", path)
        }
        self.fd = fd
        self.path = path
        buffer = []
        buffer.reserveCapacity(Self.piece)
    }

    deinit {
        if let fd { close(fd) }
    }

    private static let piece = 1 << 16

    /// The next line without its newline; `nil` at the end, and for a last line with no newline
    /// (a truncated file). Valid until the next call.
    mutating func next() throws -> ArraySlice<UInt8>? {
        while true {
            if let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                defer { start = newline + 1 }
                return buffer[start..<newline]
            }
            guard try readMore() else { return nil }
        }
    }

    /// Whether nothing follows the lines read so far.
    var atEnd: Bool {
        mutating get throws {
            if start < buffer.count { return false }
            return try !readMore()
        }
    }

    /// Appends the next piece of the file to what is left unread; `false` at its end.
    private mutating func readMore() throws -> Bool {
        guard let fd else { return false }
        buffer.removeSubrange(0..<start)
        start = 0
        let kept = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: Self.piece))
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + kept, Self.piece) }
            if n < 0, errno == EINTR { continue }
            if n < 0 { throw MaildirError.io("read", path) }
            buffer.removeLast(Self.piece - n)
            if n == 0 {
                close(fd)
                self.fd = nil
                return false
            }
            return true
        }
    }
}
