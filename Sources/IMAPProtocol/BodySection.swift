/// The `[section]` of a `BODY[...]` fetch item or response (RFC 3501 §6.4.5): `[]` is the whole
/// message, `[HEADER]` its header, `[1.2.TEXT]` the text of part 1.2.
///
/// Header field names are upper-cased, as servers echo them; compare sections directly.
public struct BodySection: Hashable, Sendable, CustomStringConvertible {
    /// What of the part is meant; nil is the whole part (or the whole message).
    public enum Specifier: Hashable, Sendable {
        case header
        case headerFields([String])
        case headerFieldsNot([String])
        case text
        /// The MIME header of a part; only with a part number.
        case mime
    }

    /// The MIME part path (`[1, 2]` for `1.2`); empty for the message itself.
    public var part: [Int]
    /// The part of the part; nil for all of it.
    public var specifier: Specifier?

    /// A section; header field names are upper-cased. ``CommandEncoder`` refuses part numbers
    /// below 1, MIME without a part, and empty or malformed header field lists.
    public init(part: [Int] = [], _ specifier: Specifier? = nil) {
        self.part = part
        switch specifier {
        case .headerFields(let names): self.specifier = .headerFields(names.map(ASCII.uppercased))
        case .headerFieldsNot(let names): self.specifier = .headerFieldsNot(names.map(ASCII.uppercased))
        default: self.specifier = specifier
        }
    }

    /// `BODY[]`: the whole message, what a sync downloads.
    public static let complete = BodySection()
    /// `BODY[HEADER]`.
    public static let header = BodySection(.header)
    /// `BODY[TEXT]`.
    public static let text = BodySection(.text)

    /// The text between the brackets, e.g. `1.2.HEADER.FIELDS (FROM SUBJECT)`.
    public var description: String {
        var out = part.map(String.init).joined(separator: ".")
        guard let specifier else { return out }
        if !out.isEmpty { out += "." }
        switch specifier {
        case .header: out += "HEADER"
        case .headerFields(let names): out += "HEADER.FIELDS (\(names.joined(separator: " ")))"
        case .headerFieldsNot(let names): out += "HEADER.FIELDS.NOT (\(names.joined(separator: " ")))"
        case .text: out += "TEXT"
        case .mime: out += "MIME"
        }
        return out
    }
}
