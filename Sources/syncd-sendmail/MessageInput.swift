#if canImport(Glibc)
import Glibc
#endif

/// Standard input as sendmail reads it, in pieces of at most 64 KiB (never the whole message in
/// memory): CRLF line ends become LF (a Maildir's), and unless `-i` a line of only "." ends the
/// message.
struct MessageInput {
    let ignoreDots: Bool
    private let fd: Int32
    private var pending: [UInt8] = []
    private var atLineStart = true
    private var ended = false

    init(fd: Int32 = 0, ignoreDots: Bool) {
        self.fd = fd
        self.ignoreDots = ignoreDots
    }

    struct ReadError: Error, CustomStringConvertible {
        let errno: Int32
        var description: String { "cannot read the message from standard input: \(String(cString: strerror(errno)))" }
    }

    /// The next piece, or nil at the end of the message.
    mutating func next() throws -> [UInt8]? {
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while !ended {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ReadError(errno: errno)
            }
            if n == 0 {
                ended = true
                var rest = pending
                pending = []
                if atLineStart, !ignoreDots, rest == [UInt8(ascii: ".")] || rest == Array(".\r".utf8) { rest = [] }
                return rest.isEmpty ? nil : rest
            }
            pending += chunk[0..<n]
            let out = takeLines()
            if !out.isEmpty { return out }
        }
        return nil
    }

    /// The complete lines in `pending` (and, for a very long line, what there is of it).
    private mutating func takeLines() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(pending.count)
        var start = 0
        while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
            var end = newline
            if end > start, pending[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            let line = pending[start..<end]
            if atLineStart, !ignoreDots, line.elementsEqual([UInt8(ascii: ".")]) {
                ended = true
                pending = []
                return out
            }
            out += line
            out.append(UInt8(ascii: "\n"))
            atLineStart = true
            start = newline + 1
        }
        pending.removeFirst(start)
        // A line longer than a chunk goes out in parts; a "." can no longer be all of it.
        if pending.count >= 1 << 16 {
            let keep = pending.last == UInt8(ascii: "\r") ? 1 : 0
            out += pending.dropLast(keep)
            pending = Array(pending.suffix(keep))
            atLineStart = false
        }
        return out
    }
}
