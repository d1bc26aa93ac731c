import Foundation

/// Reading a message's header: its fields, encoded words (RFC 2047), dates (RFC 5322). Shared by
/// what shows messages (the imap provider's new-mail summaries) and what sends them (the outbox).
public enum MessageHeaders {
    /// The header's fields, names lower-cased, folded lines joined (RFC 5322 §2.2.3).
    public static func headerFields(_ bytes: [UInt8]) -> [(name: String, value: String)] {
        // 8-bit headers are taken as UTF-8 (RFC 6532), as mail clients do.
        let text = String(decoding: bytes, as: UTF8.self)
        var fields: [(name: String, value: String)] = []
        // "\r\n" is one Character in Swift: split on both line ends.
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.isEmpty { break }  // the end of the header
            if line.first == " " || line.first == "\t" {
                if !fields.isEmpty { fields[fields.count - 1].value += " " + line.trimmingCharacters(in: .whitespaces) }
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields.append((line[..<colon].trimmingCharacters(in: .whitespaces).lowercased(),
                           line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        return fields
    }

    /// `=?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus =?ISO-8859-1?B?S/Zsbg==?=` → `Grüße aus Köln`. Whitespace
    /// between two encoded words is dropped (RFC 2047 §6.2); a malformed word stays as it is.
    public static func decodeEncodedWords(_ text: String) -> String {
        var out = ""
        var rest = Substring(text)
        var pendingSpace = ""
        var lastWasEncoded = false
        while let start = rest.range(of: "=?") {
            let before = rest[..<start.lowerBound]
            guard let word = encodedWord(rest[start.lowerBound...]) else {
                out += pendingSpace + before + "=?"
                pendingSpace = ""
                lastWasEncoded = false
                rest = rest[start.upperBound...]
                continue
            }
            if lastWasEncoded, before.allSatisfy(\.isWhitespace) {
                // Only whitespace between two encoded words: it goes.
            } else {
                out += pendingSpace + before
            }
            out += word.text
            pendingSpace = ""
            lastWasEncoded = true
            rest = rest[word.end...]
        }
        return out + pendingSpace + rest
    }

    /// One encoded word at the start of `text`: its decoded text and where it ends.
    private static func encodedWord(_ text: Substring) -> (text: String, end: Substring.Index)? {
        let parts = text.dropFirst(2).split(separator: "?", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 4, parts[3].hasPrefix("="), !parts[0].isEmpty else { return nil }
        let charset = parts[0].split(separator: "*").first.map(String.init)?.lowercased() ?? ""
        let payload = parts[2]
        guard !payload.contains(" ") else { return nil }
        let bytes: [UInt8]
        switch parts[1].uppercased() {
        case "B":
            var base64 = String(payload)
            while base64.count % 4 != 0 { base64 += "=" }
            guard let data = Data(base64Encoded: base64) else { return nil }
            bytes = Array(data)
        case "Q":
            guard let decoded = quotedPrintable(payload) else { return nil }
            bytes = decoded
        default:
            return nil
        }
        let end = parts[3].index(after: parts[3].startIndex)
        return (decode(bytes, charset: charset), end)
    }

    private static func quotedPrintable(_ text: Substring) -> [UInt8]? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "_"): bytes.append(0x20)
            case UInt8(ascii: "="):
                guard let high = iterator.next(), let low = iterator.next(),
                      let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) else { return nil }
                bytes.append(value)
            default: bytes.append(byte)
            }
        }
        return bytes
    }

    private static func decode(_ bytes: [UInt8], charset: String) -> String {
        let encodings: [String: String.Encoding] = [
            "us-ascii": .ascii, "iso-8859-1": .isoLatin1, "latin1": .isoLatin1, "iso-8859-2": .isoLatin2,
            "windows-1252": .windowsCP1252, "cp1252": .windowsCP1252, "windows-1250": .windowsCP1250,
            "windows-1251": .windowsCP1251, "utf-16": .utf16, "iso-2022-jp": .iso2022JP, "shift_jis": .shiftJIS,
            "euc-jp": .japaneseEUC,
        ]
        if charset != "utf-8", let encoding = encodings[charset], let text = String(bytes: bytes, encoding: encoding) {
            return text
        }
        // UTF-8, or a charset this build cannot convert: what is valid UTF-8 of it shows.
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `Wed, 25 Nov 2026 10:00:00 +0000` (the weekday and the seconds optional, a trailing comment
    /// such as `(UTC)` ignored).
    public static func parseDate(_ text: String) -> Date? {
        var text = text
        if let comment = text.firstIndex(of: "(") { text = String(text[..<comment]) }
        text = text.trimmingCharacters(in: .whitespaces)
        if let comma = text.firstIndex(of: ",") { text = text[text.index(after: comma)...].trimmingCharacters(in: .whitespaces) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        for format in ["d MMM yyyy HH:mm:ss Z", "d MMM yyyy HH:mm Z", "d MMM yyyy HH:mm:ss zzz", "d MMM yy HH:mm:ss Z"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }
}
