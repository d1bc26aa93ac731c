/// A mailbox name, kept as the bytes that travel on the wire.
///
/// The wire form is the identity: a name from LIST is sent back byte for byte in SELECT or STATUS,
/// even if the server's encoding is not canonical. Build a name from a display string with
/// ``init(_:)`` (which encodes it in modified UTF-7, RFC 3501 §5.1.3) and read the display string
/// with ``decoded()``.
///
/// `INBOX` is case-insensitive: any spelling of it is stored as `INBOX`. Other names are
/// case-sensitive. The hierarchy delimiter is not interpreted here (see ``MailboxListEntry``).
public struct MailboxName: Hashable, Sendable, CustomStringConvertible {
    /// The name as sent on the wire: modified UTF-7, so ASCII for any name this type encoded.
    public let bytes: [UInt8]

    /// The special name `INBOX`.
    public static let inbox = MailboxName(wire: Array("INBOX".utf8))

    /// A name from its display form, encoded in modified UTF-7; `Entwürfe` becomes `Entw&APw-rfe`.
    public init(_ name: String) {
        self.init(wire: ModifiedUTF7.encode(name))
    }

    /// A name from its wire bytes, kept verbatim (except that `INBOX` is normalised).
    public init(wire bytes: some Sequence<UInt8>) {
        let bytes = Array(bytes)
        if bytes.count == 5, bytes.map(ASCII.uppercase).elementsEqual("INBOX".utf8) {
            self.bytes = Array("INBOX".utf8)
        } else {
            self.bytes = bytes
        }
    }

    /// The display form.
    ///
    /// - Throws: ``IMAPParseError/Code/invalidMailboxName`` when the wire bytes are not canonical
    ///   modified UTF-7 (for instance raw UTF-8 from a misbehaving server).
    public func decoded() throws(IMAPParseError) -> String {
        try ModifiedUTF7.decode(bytes)
    }

    /// Encodes a display string in modified UTF-7: `日本語` becomes `&ZeVnLIqe-`, `&` becomes `&-`.
    public static func encode(_ name: String) -> String {
        String(decoding: ModifiedUTF7.encode(name), as: UTF8.self)
    }

    /// Decodes modified UTF-7.
    ///
    /// - Throws: ``IMAPParseError/Code/invalidMailboxName`` for anything ``encode(_:)`` would not
    ///   have produced, so that `encode(decode(x)) == x` always holds.
    public static func decode(_ encoded: String) throws(IMAPParseError) -> String {
        try ModifiedUTF7.decode(encoded.utf8)
    }

    /// The display form, or the wire bytes (as UTF-8, lossily) when they do not decode.
    public var description: String {
        (try? decoded()) ?? String(decoding: bytes, as: UTF8.self)
    }
}
