/// The flags a Maildir file name can carry (the `:2,` info suffix), with their IMAP meanings.
///
/// In a name the letters appear in ASCII order (`D F P R S T`). Letters this type does not know
/// (Dovecot's lower-case keyword letters, for instance) are preserved on disk when syncd renames a
/// file, but are not reported or compared.
public struct MessageFlags: OptionSet, Hashable, Sendable, CustomStringConvertible {
    /// One bit per flag, in the order of the static members.
    public let rawValue: UInt8
    /// Flags from bits; bits beyond the six flags are ignored.
    public init(rawValue: UInt8) { self.rawValue = rawValue & 0x3F }

    /// `D`: `\Draft`.
    public static let draft = MessageFlags(rawValue: 1 << 0)
    /// `F`: `\Flagged`.
    public static let flagged = MessageFlags(rawValue: 1 << 1)
    /// `P`: passed (forwarded), `$Forwarded`.
    public static let passed = MessageFlags(rawValue: 1 << 2)
    /// `R`: replied, `\Answered`.
    public static let replied = MessageFlags(rawValue: 1 << 3)
    /// `S`: `\Seen`.
    public static let seen = MessageFlags(rawValue: 1 << 4)
    /// `T`: trashed, `\Deleted`.
    public static let trashed = MessageFlags(rawValue: 1 << 5)

    static let letters: [(UInt8, MessageFlags)] = [
        (UInt8(ascii: "D"), .draft), (UInt8(ascii: "F"), .flagged), (UInt8(ascii: "P"), .passed),
        (UInt8(ascii: "R"), .replied), (UInt8(ascii: "S"), .seen), (UInt8(ascii: "T"), .trashed),
    ]

    /// The Maildir letters in order, e.g. `"FS"`; empty for no flags.
    public var maildirLetters: String {
        String(decoding: Self.letters.compactMap { contains($1) ? $0 : nil }, as: UTF8.self)
    }

    /// Parses Maildir letters in any order.
    /// - Returns: `nil` if a letter is not one of `DFPRST`.
    public init?(maildirLetters: some StringProtocol) {
        var flags = MessageFlags()
        for byte in maildirLetters.utf8 {
            guard let flag = Self.letters.first(where: { $0.0 == byte })?.1 else { return nil }
            flags.insert(flag)
        }
        self = flags
    }

    /// The letters in brackets, e.g. `[FS]`.
    public var description: String { "[\(maildirLetters)]" }

    /// Splits an info's flag letters into the known flags and the other letters, kept as they were.
    static func split(_ letters: some Sequence<UInt8>) -> (MessageFlags, [UInt8]) {
        var flags = MessageFlags()
        var others = [UInt8]()
        for byte in letters {
            if let flag = Self.letters.first(where: { $0.0 == byte })?.1 {
                flags.insert(flag)
            } else {
                others.append(byte)
            }
        }
        return (flags, others)
    }

    /// The letters for a file name: these flags plus `others`, sorted by ASCII, without duplicates.
    func letters(with others: [UInt8]) -> String {
        var all = Array(maildirLetters.utf8)
        for byte in others where !all.contains(byte) { all.append(byte) }
        return String(decoding: all.sorted(), as: UTF8.self)
    }
}
