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
        for byte in chunk.readableBytesView {
            switch byte {
            case 0x0A:
                if !previousWasCR { out.writeInteger(UInt8(0x0D)) }
                out.writeInteger(byte)
                atLineStart = true
                previousWasCR = false
                continue
            case 0x2E where atLineStart:
                out.writeInteger(UInt8(0x2E))
            default:
                break
            }
            // A bare CR (not followed by LF) passes through: only CRLF or LF ends a line.
            out.writeInteger(byte)
            atLineStart = false
            previousWasCR = byte == 0x0D
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
