/// Byte constants and the character classes of RFC 3501 §9.
enum ASCII {
    static let nul: UInt8 = 0x00
    static let lf: UInt8 = 0x0A
    static let cr: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let quote: UInt8 = 0x22
    static let percent: UInt8 = 0x25
    static let ampersand: UInt8 = 0x26
    static let leftParen: UInt8 = 0x28
    static let rightParen: UInt8 = 0x29
    static let star: UInt8 = 0x2A
    static let plus: UInt8 = 0x2B
    static let comma: UInt8 = 0x2C
    static let minus: UInt8 = 0x2D
    static let dot: UInt8 = 0x2E
    static let slash: UInt8 = 0x2F
    static let zero: UInt8 = 0x30
    static let nine: UInt8 = 0x39
    static let colon: UInt8 = 0x3A
    static let lessThan: UInt8 = 0x3C
    static let greaterThan: UInt8 = 0x3E
    static let leftBracket: UInt8 = 0x5B
    static let backslash: UInt8 = 0x5C
    static let rightBracket: UInt8 = 0x5D
    static let leftBrace: UInt8 = 0x7B
    static let rightBrace: UInt8 = 0x7D
    static let tilde: UInt8 = 0x7E

    static func isDigit(_ byte: UInt8) -> Bool { byte >= zero && byte <= nine }

    /// ATOM-CHAR: any CHAR except atom-specials `( ) { SP CTL % * " \ ]`.
    static func isAtomChar(_ byte: UInt8) -> Bool {
        guard byte > space && byte < 0x7F else { return false }
        switch byte {
        case leftParen, rightParen, leftBrace, percent, star, quote, backslash, rightBracket: return false
        default: return true
        }
    }

    /// ASTRING-CHAR: ATOM-CHAR or `]`.
    static func isAStringChar(_ byte: UInt8) -> Bool { isAtomChar(byte) || byte == rightBracket }

    /// A tag: ASTRING-CHAR except `+`.
    static func isTagChar(_ byte: UInt8) -> Bool { isAStringChar(byte) && byte != plus }

    /// Printable ASCII, the characters modified UTF-7 leaves as they are.
    static func isPrintable(_ byte: UInt8) -> Bool { byte >= space && byte <= tilde }

    /// ASCII upper-casing of a byte.
    static func uppercase(_ byte: UInt8) -> UInt8 { byte >= 0x61 && byte <= 0x7A ? byte - 0x20 : byte }

    /// ASCII-only upper-casing: IMAP keywords are ASCII and case-insensitive.
    static func uppercased(_ string: String) -> String {
        String(decoding: string.utf8.map(uppercase), as: UTF8.self)
    }

    /// ASCII-only lower-casing, used for case-insensitive comparison of flags and attributes.
    static func lowercased(_ string: String) -> String {
        String(decoding: string.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }, as: UTF8.self)
    }

    /// Whether every byte of `string` is an ATOM-CHAR (and there is at least one).
    static func isAtom(_ string: Substring.UTF8View) -> Bool { !string.isEmpty && string.allSatisfy(isAtomChar) }

    /// A byte shown for an error message.
    static func describe(_ byte: UInt8) -> String {
        isPrintable(byte) && byte != space ? "'\(Character(Unicode.Scalar(byte)))'" : "0x" + String(byte, radix: 16)
    }
}
