import NIOCore

/// A small attribute of a FETCH response. Body sections are not attributes: they stream as
/// ``ResponseEvent/bodyStart(_:origin:size:)``, ``ResponseEvent/bodyChunk(_:)`` and
/// ``ResponseEvent/bodyEnd``.
public enum FetchAttribute: Hashable, Sendable {
    /// `UID n`.
    case uid(UInt32)
    /// `FLAGS (...)`: all flags of the message (`\Recent` included when set).
    case flags([Flag])
    /// The message size in octets.
    case rfc822Size(Int)
    /// `INTERNALDATE "..."`: when the server received the message.
    case internalDate(InternalDate)
    /// RFC 7162: the message's mod-sequence.
    case modSeq(UInt64)
    /// Any other attribute (ENVELOPE, BODYSTRUCTURE, `BINARY.SIZE[1]`, X-GM-LABELS, ...): its
    /// upper-cased name, with any `[section]` appended as sent, and the value's raw bytes as sent
    /// (literal headers and data included). Its literals obey the string literal limit.
    case other(name: String, value: ByteBuffer)
}
