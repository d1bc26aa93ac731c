/// A server capability such as `IMAP4rev1`, `LITERAL+` or `AUTH=PLAIN`, upper-cased.
///
/// Capability names are case-insensitive (RFC 3501 §7.2.1), so the initializer upper-cases its
/// argument and comparisons are exact.
public struct Capability: Hashable, Sendable, CustomStringConvertible {
    /// The upper-cased name, e.g. `AUTH=PLAIN`.
    public let rawValue: String

    /// A capability from its name in any case. ``CommandEncoder`` refuses to send (in ENABLE) one
    /// that is not an atom.
    public init(_ name: String) { rawValue = ASCII.uppercased(name) }

    /// The base protocol, RFC 3501.
    public static let imap4rev1 = Capability("IMAP4rev1")
    /// RFC 7888: non-synchronizing literals `{n+}` of any size.
    public static let literalPlus = Capability("LITERAL+")
    /// RFC 7888: non-synchronizing literals of at most 4096 bytes.
    public static let literalMinus = Capability("LITERAL-")
    /// RFC 4959: the initial SASL response may travel with AUTHENTICATE.
    public static let saslIR = Capability("SASL-IR")
    /// The STARTTLS command is available.
    public static let startTLS = Capability("STARTTLS")
    /// LOGIN (and plaintext AUTHENTICATE) is refused on this connection, usually until STARTTLS.
    public static let loginDisabled = Capability("LOGINDISABLED")
    /// RFC 2177 IDLE.
    public static let idle = Capability("IDLE")
    /// RFC 5161 ENABLE.
    public static let enable = Capability("ENABLE")
    /// RFC 7162 CONDSTORE: mod-sequences.
    public static let condstore = Capability("CONDSTORE")
    /// RFC 7162 QRESYNC: quick resynchronisation and VANISHED.
    public static let qresync = Capability("QRESYNC")
    /// RFC 4315 UIDPLUS: UID EXPUNGE, APPENDUID, COPYUID.
    public static let uidplus = Capability("UIDPLUS")
    /// RFC 3502 MULTIAPPEND: several messages in one APPEND, stored in one transaction.
    public static let multiappend = Capability("MULTIAPPEND")
    /// RFC 6851 MOVE.
    public static let move = Capability("MOVE")
    /// RFC 4731 ESEARCH: SEARCH RETURN options.
    public static let esearch = Capability("ESEARCH")
    /// RFC 6154 SPECIAL-USE mailbox attributes.
    public static let specialUse = Capability("SPECIAL-USE")
    /// RFC 2342 NAMESPACE.
    public static let namespace = Capability("NAMESPACE")
    /// RFC 2971 ID.
    public static let id = Capability("ID")

    /// `AUTH=<mechanism>`, e.g. `auth("PLAIN")`.
    public static func auth(_ mechanism: String) -> Capability { Capability("AUTH=" + mechanism) }

    public var description: String { rawValue }
}
