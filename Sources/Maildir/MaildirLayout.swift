/// How folders are laid out under a store's root. Both layouts map a ``FolderName`` to directory
/// names the same reversible way; only the joining differs.
///
/// **Escaping** (per component, on its UTF-8 bytes): `%`, `/` and control bytes (0x01–0x1F, 0x7F)
/// always become `%XX` (two upper-case hex digits). Then, per layout:
/// - ``maildirPlusPlus``: every `.` becomes `%2E` ("." is the separator), and a first component that
///   starts with `syncd-` has its first byte escaped (`%73yncd-…`) so no folder can collide with the
///   store's own `.syncd-*` files in the root.
/// - ``nested``: a leading `.` becomes `%2E` (so no `.`, `..` or hidden name), and a component that is
///   exactly `cur`, `new` or `tmp` has its first byte escaped (`%63ur`) so it cannot collide with the
///   parent Maildir's own subdirectories.
///
/// Decoding accepts only canonical names (re-encoding gives the same bytes); directories that are not
/// (hand-made, other tools') are not listed as folders and are never touched. A directory name over
/// 255 bytes is refused with ``MaildirError/Code/invalidFolderName``.
public enum MaildirLayout: Sendable, Hashable {
    /// Courier/Dovecot Maildir++: the root is INBOX's Maildir; every other folder is a Maildir in a
    /// root-level directory named "." + escaped components joined by ".", e.g. `.Archive.2024`, with
    /// an empty `maildirfolder` file. INBOX's children are `.INBOX.Child`.
    case maildirPlusPlus
    /// One directory per level: `INBOX/`, `Sent/`, `Archive/2024/`, each a Maildir; a parent that is
    /// not itself a folder is a plain directory.
    case nested
}

/// Folder name ↔ directory name mapping (see ``MaildirLayout``).
enum FolderPathCodec {
    static let reservedNested: Set<String> = ["cur", "new", "tmp"]
    static let reservedPrefix = "syncd-"
    static let maximumNameBytes = 255

    /// The folder's directory relative to the root: `nil` for the Maildir++ INBOX (the root itself).
    static func relativePath(for name: FolderName, layout: MaildirLayout) throws -> String? {
        switch layout {
        case .maildirPlusPlus:
            if name.isInbox { return nil }
            let escaped = name.components.enumerated().map { escape($1, layout: layout, first: $0 == 0) }
            let directory = "." + escaped.joined(separator: ".")
            try checkLength(directory, name)
            return directory
        case .nested:
            let escaped = name.components.map { escape($0, layout: layout, first: false) }
            for part in escaped { try checkLength(part, name) }
            return escaped.joined(separator: "/")
        }
    }

    private static func checkLength(_ directory: String, _ name: FolderName) throws {
        if directory.utf8.count > maximumNameBytes {
            throw MaildirError(
                .invalidFolderName,
                "folder \(name) needs a \(directory.utf8.count)-byte directory name; the limit is \(maximumNameBytes)")
        }
    }

    static func escape(_ component: String, layout: MaildirLayout, first: Bool) -> String {
        var out = [UInt8]()
        out.reserveCapacity(component.utf8.count + 8)
        let bytes = Array(component.utf8)
        var escapeFirst = false
        switch layout {
        case .maildirPlusPlus:
            escapeFirst = first && component.utf8.starts(with: reservedPrefix.utf8)
        case .nested:
            escapeFirst = reservedNested.contains(component) || bytes.first == UInt8(ascii: ".")
        }
        for (index, byte) in bytes.enumerated() {
            let mustEscape =
                byte == UInt8(ascii: "%") || byte == UInt8(ascii: "/") || byte < 0x20 || byte == 0x7F
                || (layout == .maildirPlusPlus && byte == UInt8(ascii: "."))
                || (index == 0 && escapeFirst)
            if mustEscape {
                out.append(UInt8(ascii: "%"))
                out.append(hexDigit(byte >> 4))
                out.append(hexDigit(byte & 0xF))
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Strict `%XX` decoding; `nil` for a malformed escape or bytes that are not UTF-8.
    static func unescape(_ text: Substring) -> String? {
        var out = [UInt8]()
        var bytes = text.utf8.makeIterator()
        while let byte = bytes.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = bytes.next().flatMap(hexValue), let low = bytes.next().flatMap(hexValue) else {
                    return nil
                }
                out.append(high << 4 | low)
            } else {
                out.append(byte)
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    /// The folder a Maildir++ root-level directory name stands for, if it is a canonical folder name.
    static func folderName(plusPlusDirectory directory: String) -> FolderName? {
        guard directory.hasPrefix("."), directory.utf8.count > 1 else { return nil }
        let parts = directory.dropFirst().split(separator: ".", omittingEmptySubsequences: false)
        var components = [String]()
        for part in parts {
            guard let component = unescape(part) else { return nil }
            components.append(component)
        }
        guard let name = try? FolderName(components),
            let canonical = try? relativePath(for: name, layout: .maildirPlusPlus),
            canonical.utf8.elementsEqual(directory.utf8)
        else { return nil }
        return name
    }

    /// The folder a nested-layout relative path (its directory names) stands for, if canonical.
    static func folderName(nestedDirectories directories: [String]) -> FolderName? {
        var components = [String]()
        for directory in directories {
            guard let component = unescape(directory[...]) else { return nil }
            components.append(component)
        }
        guard let name = try? FolderName(components),
            let canonical = try? relativePath(for: name, layout: .nested),
            canonical.utf8.elementsEqual(directories.joined(separator: "/").utf8)
        else { return nil }
        return name
    }

    /// Whether a nested-layout directory entry could be a folder at all (cheap pre-filter).
    static func mayBeNestedFolder(_ entry: String) -> Bool {
        !entry.hasPrefix(".") && !reservedNested.contains(entry)
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "A") + value - 10
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
