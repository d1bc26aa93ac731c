/// A message flag: a system flag such as `\Seen` or a keyword such as `$Forwarded`.
///
/// Flags compare and hash case-insensitively (ASCII), as IMAP servers treat them; ``rawValue``
/// keeps the spelling the server or caller used. Flags parsed from a server are accepted leniently
/// (any run of non-delimiter bytes); flags a caller builds are validated, and ``CommandEncoder``
/// refuses a parsed flag that is not a valid atom.
public struct Flag: Hashable, Sendable, CustomStringConvertible {
    /// The flag as written on the wire, e.g. `\Seen` or `$Forwarded`.
    public let rawValue: String

    /// A flag from its wire spelling, or nil when it is not `\` followed by an atom, `\*`, or an
    /// atom (RFC 3501 `flag`, `flag-perm`).
    public init?(_ rawValue: String) {
        var rest = Substring(rawValue).utf8
        if rest.first == ASCII.backslash {
            rest = rest.dropFirst()
            if rest.elementsEqual([ASCII.star]) {
                self.rawValue = rawValue
                return
            }
        }
        guard ASCII.isAtom(rest) else { return nil }
        self.rawValue = rawValue
    }

    /// A flag straight from the parser.
    init(unchecked rawValue: String) { self.rawValue = rawValue }

    /// Message has been read.
    public static let seen = Flag(unchecked: "\\Seen")
    /// Message has been answered.
    public static let answered = Flag(unchecked: "\\Answered")
    /// Message is flagged for urgent or special attention.
    public static let flagged = Flag(unchecked: "\\Flagged")
    /// Message is marked for removal by a later EXPUNGE.
    public static let deleted = Flag(unchecked: "\\Deleted")
    /// Message is a draft.
    public static let draft = Flag(unchecked: "\\Draft")
    /// Message arrived since the mailbox was last selected; set by the server only.
    public static let recent = Flag(unchecked: "\\Recent")
    /// The common keyword for a forwarded message (maps to Maildir flag `P`).
    public static let forwarded = Flag(unchecked: "$Forwarded")
    /// `\*` in PERMANENTFLAGS: the client may create new keywords. Not a storable flag.
    public static let mayCreateKeywords = Flag(unchecked: "\\*")

    /// Whether this is a system flag (starts with `\`) rather than a keyword.
    public var isSystemFlag: Bool { rawValue.utf8.first == ASCII.backslash }

    /// Whether ``CommandEncoder`` can send this flag in STORE or SEARCH: `\` + atom or an atom.
    var isEncodable: Bool {
        guard let valid = Flag(rawValue), valid != .mayCreateKeywords else { return false }
        return true
    }

    public var description: String { rawValue }

    public static func == (lhs: Flag, rhs: Flag) -> Bool {
        lhs.rawValue.utf8.elementsEqual(rhs.rawValue.utf8) { ASCII.uppercase($0) == ASCII.uppercase($1) }
    }

    public func hash(into hasher: inout Hasher) {
        for byte in rawValue.utf8 { hasher.combine(ASCII.uppercase(byte)) }
    }
}
