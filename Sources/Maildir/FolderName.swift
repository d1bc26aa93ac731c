/// A mail folder's name as a path of Unicode components, e.g. `["Archive", "2024"]`.
///
/// Names arrive from IMAP already decoded from modified UTF-7 and split on the server's hierarchy
/// delimiter (``init(imapName:delimiter:)``). The first component `INBOX` is case-insensitive (RFC
/// 3501) and is normalised to upper case, so `inbox/Sub` and `INBOX/Sub` are the same folder.
///
/// Equality and hashing compare the components' UTF-8 bytes, not Swift's canonical equivalence: two
/// names that differ only in Unicode normalisation are different IMAP folders and map to different
/// directories, so they must not compare equal here either.
public struct FolderName: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The hierarchy levels, outermost first; never empty, no component is empty or contains NUL.
    public let components: [String]

    /// INBOX: the Maildir++ root, or the `INBOX` directory in the nested layout.
    public static let inbox = FolderName(checked: ["INBOX"])

    /// - Throws: ``MaildirError/Code/invalidFolderName`` for no components, an empty component, or a
    ///   NUL character (IMAP names cannot contain one; seeing it means a decoding bug upstream).
    public init(_ components: [String]) throws {
        guard !components.isEmpty else {
            throw MaildirError(.invalidFolderName, "a folder name needs at least one component")
        }
        for component in components {
            guard !component.isEmpty else {
                throw MaildirError(.invalidFolderName, "folder name \(components) has an empty component")
            }
            guard !component.utf8.contains(0) else {
                throw MaildirError(.invalidFolderName, "folder name \(components) contains NUL")
            }
        }
        self.init(checked: components)
    }

    /// Splits an IMAP mailbox name on the server's hierarchy delimiter (`nil` for a flat server).
    /// - Throws: ``MaildirError/Code/invalidFolderName`` as ``init(_:)`` (e.g. `"a//b"` or a
    ///   trailing delimiter gives an empty component).
    public init(imapName: String, delimiter: Character?) throws {
        if let delimiter {
            try self.init(imapName.split(separator: delimiter, omittingEmptySubsequences: false).map(String.init))
        } else {
            try self.init([imapName])
        }
    }

    private init(checked components: [String]) {
        var components = components
        if components[0].utf8.count == 5,
            components[0].utf8.map({ $0 & 0xDF }).elementsEqual("INBOX".utf8)
        {
            components[0] = "INBOX"
        }
        self.components = components
    }

    /// The IMAP name, components joined by `delimiter`. A flat server (`nil`) has one component;
    /// should there be more, they are joined with ".".
    public func imapName(delimiter: Character?) -> String {
        guard let delimiter else { return components.joined(separator: ".") }
        return components.joined(separator: String(delimiter))
    }

    /// Whether this is INBOX itself (not a child of it).
    public var isInbox: Bool { components.count == 1 && components[0] == "INBOX" }

    /// The enclosing folder, or `nil` for a top-level one.
    public var parent: FolderName? {
        components.count > 1 ? FolderName(checked: Array(components.dropLast())) : nil
    }

    /// Whether `self` is `other` or lies below it.
    public func isDescendant(ofOrEqualTo other: FolderName) -> Bool {
        components.count >= other.components.count
            && zip(components, other.components).allSatisfy { $0.utf8.elementsEqual($1.utf8) }
    }

    /// The components joined by "/", for messages and logs only (not an IMAP or file name).
    public var description: String { components.joined(separator: "/") }

    /// Byte-wise equality of the components (see the type's documentation).
    public static func == (lhs: FolderName, rhs: FolderName) -> Bool {
        lhs.components.count == rhs.components.count
            && zip(lhs.components, rhs.components).allSatisfy { $0.utf8.elementsEqual($1.utf8) }
    }

    /// Hashes the components' bytes, consistent with ``==(_:_:)``.
    public func hash(into hasher: inout Hasher) {
        for component in components {
            hasher.combine(component.utf8.count)
            for byte in component.utf8 { hasher.combine(byte) }
        }
    }

    /// Byte-wise order of the components, INBOX first.
    public static func < (lhs: FolderName, rhs: FolderName) -> Bool {
        if lhs.isInbox != rhs.isInbox { return lhs.isInbox }
        for (a, b) in zip(lhs.components, rhs.components) where !a.utf8.elementsEqual(b.utf8) {
            return a.utf8.lexicographicallyPrecedes(b.utf8)
        }
        return lhs.components.count < rhs.components.count
    }
}
