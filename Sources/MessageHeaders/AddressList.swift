/// The addresses (addr-specs) of an RFC 5322 address list, as an envelope needs them: display
/// names, quoted strings, comments and group names dropped, groups' members kept, so
/// `"Doe, Jane" <jane@example.org>, (team) undisclosed-recipients:;, Bob <bob@example.org>`
/// gives `jane@example.org` and `bob@example.org`.
public enum AddressList {
    /// Marks whitespace between words outside quotes (a quoted local part keeps its spaces).
    private static let wordBreak: Character = "\u{1}"

    /// Every address in `text` (a header field's value, unfolded), in order. An obsolete route
    /// (`<@relay:user@host>`) gives the address after it. Nothing here throws: what cannot be an
    /// address (an empty `<>`, a phrase of words without brackets) is skipped, the rest kept.
    public static func addresses(_ text: String) -> [String] {
        var result: [String] = []
        var plain = ""  // the addr-spec when there are no angle brackets
        var angle: String?  // the content of <...>, when seen
        var inAngle = false
        var commentDepth = 0
        var chars = Array(text.unicodeScalars)[...]

        func finish() {
            var address = angle ?? joinedAddrSpec(plain)
            if let colon = address.lastIndex(of: ":"), address.hasPrefix("@") {
                address = String(address[address.index(after: colon)...])
            }
            if !address.isEmpty { result.append(address) }
            plain = ""
            angle = nil
        }

        while let c = chars.popFirst() {
            if commentDepth > 0 {
                switch c {
                case "\\": _ = chars.popFirst()
                case "(": commentDepth += 1
                case ")": commentDepth -= 1
                default: break
                }
                continue
            }
            switch c {
            case "(":
                commentDepth = 1
            case "\"":
                // A quoted string: part of a display name (dropped later) or of a local part.
                var quoted = "\""
                while let q = chars.popFirst() {
                    if q == "\\", let escaped = chars.popFirst() {
                        quoted.unicodeScalars.append(q)
                        quoted.unicodeScalars.append(escaped)
                        continue
                    }
                    quoted.unicodeScalars.append(q)
                    if q == "\"" { break }
                }
                if inAngle { angle! += quoted } else { plain += quoted }
            case "<" where !inAngle:
                inAngle = true
                angle = ""
            case ">" where inAngle:
                inAngle = false
            case ":" where !inAngle:
                // A group's name ends: its members follow.
                plain = ""
            case "," where !inAngle, ";" where !inAngle:
                finish()
            case " ", "\t", "\r", "\n":
                // Whitespace separates the words of a display name; an addr-spec has none
                // (RFC 5322's obsolete forms allow it around "@" and ".", which is kept joined).
                if !inAngle, angle == nil, !plain.isEmpty, plain.last != wordBreak { plain.append(wordBreak) }
            default:
                if inAngle {
                    angle!.unicodeScalars.append(c)
                } else if angle == nil {
                    plain.unicodeScalars.append(c)
                }
            }
        }
        finish()
        return result
    }

    /// Words outside angle brackets: one word is an addr-spec; several are one only when joined at
    /// "@" or "." (`jane @ example.org`), else a phrase without an address (`To: Undisclosed list`).
    private static func joinedAddrSpec(_ plain: String) -> String {
        let words = plain.split(separator: wordBreak)
        guard words.count > 1 else { return words.first.map(String.init) ?? "" }
        for (a, b) in zip(words, words.dropFirst()) {
            let joins = a.hasSuffix("@") || a.hasSuffix(".") || b.hasPrefix("@") || b.hasPrefix(".")
            if !joins { return "" }
        }
        return words.joined()
    }
}
