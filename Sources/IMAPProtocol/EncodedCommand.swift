import NIOCore

/// The bytes of one command, split where the client must wait for the server.
///
/// Send ``parts``[0]. Before sending each later part, wait for a continuation request
/// (``ResponseEvent/continuation(_:)``): a synchronizing literal `{n}` ends the part before it,
/// and AUTHENTICATE without SASL-IR sends its response only when asked. If instead a tagged
/// response with ``tag`` arrives, the command is over (usually `NO`/`BAD`): send nothing more of
/// it. Every command ends with CRLF in its last part.
public struct EncodedCommand: Hashable, Sendable {
    /// The tag the server's completion response will carry.
    public let tag: String
    /// The bytes to send, in order, waiting for `+` between parts.
    public let parts: [ByteBuffer]
    /// True for LOGIN and AUTHENTICATE: the bytes hold a password; do not log them.
    public let containsCredentials: Bool

    /// All parts joined, for tests and (non-credential) logs.
    public var bytes: ByteBuffer {
        var all = ByteBuffer()
        for var part in parts { all.writeBuffer(&part) }
        return all
    }
}

/// The start of an APPEND whose message the caller streams (``CommandEncoder/encodeAppend(to:flags:internalDate:messageSize:tag:)``):
/// the command up to its literal header, then the message, then ``end``. The message is never
/// part of the encoded bytes, so a 50 MB attachment can go from its file to the socket in chunks.
public struct EncodedAppend: Hashable, Sendable {
    /// The command up to and including the literal header `{n}` or `{n+}` and its CRLF.
    public let command: EncodedCommand
    /// Whether the literal is synchronizing: wait for `+` before sending the message.
    public let waitsForContinuation: Bool
    /// The literal's size: exactly this many message bytes must follow.
    public let messageSize: Int
    /// The CRLF that ends the command after the message.
    public static let end = ByteBuffer(string: "\r\n")
}
