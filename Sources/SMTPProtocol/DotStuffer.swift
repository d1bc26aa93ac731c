#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// Turns message bytes into DATA content (RFC 5321 §4.5.2) chunk by chunk, so a 20 MB message is
/// streamed from its file: lines end in CRLF (Maildir files usually have bare LF), a line starting
/// with "." gets a second one, and `finish` ends the last line and adds the "." terminator.
public struct DotStuffer: Sendable {
    private var atLineStart = true
    private var previousWasCR = false

    public init() {}

    public mutating func stuff(_ chunk: ByteBuffer, into out: inout ByteBuffer) {
        out.reserveCapacity(minimumWritableBytes: chunk.readableBytes + chunk.readableBytes / 64 + 2)
        // Whole lines are copied at once, found with memchr: a byte-at-a-time loop made a 20 MB
        // message take most of a minute in a debug build.
        chunk.withUnsafeReadableBytes { bytes in
            guard let base = bytes.baseAddress else { return }
            var index = 0
            while index < bytes.count {
                if atLineStart, bytes[index] == 0x2E { out.writeInteger(UInt8(0x2E)) }
                atLineStart = false
                guard let found = memchr(base + index, 0x0A, bytes.count - index) else {
                    // A bare CR (not followed by LF) passes through: only CRLF or LF ends a line.
                    out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[index...]))
                    previousWasCR = bytes[bytes.count - 1] == 0x0D
                    return
                }
                let lf = base.distance(to: UnsafeRawPointer(found))
                let crBefore = lf > index ? bytes[lf - 1] == 0x0D : previousWasCR
                out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[index..<lf]))
                out.writeString(crBefore ? "\n" : "\r\n")
                atLineStart = true
                previousWasCR = false
                index = lf + 1
            }
        }
    }

    public mutating func finish(into out: inout ByteBuffer) {
        if previousWasCR {
            out.writeInteger(UInt8(0x0A))
        } else if !atLineStart {
            out.writeString("\r\n")
        }
        out.writeString(".\r\n")
        atLineStart = true
        previousWasCR = false
    }
}
