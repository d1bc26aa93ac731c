/// A mailbox attribute from a LIST or LSUB response, such as `\Noselect`, `\HasChildren`, or a
/// special-use attribute such as `\Sent` (RFC 6154).
///
/// Attributes compare and hash case-insensitively (ASCII); ``rawValue`` keeps the server's
/// spelling.
public struct MailboxAttribute: Hashable, Sendable, CustomStringConvertible {
    /// The attribute as the server wrote it, including the leading `\`.
    public let rawValue: String

    /// An attribute from its wire spelling; not validated (it is only compared).
    public init(_ rawValue: String) { self.rawValue = rawValue }

    /// The name cannot be selected: a pure hierarchy node.
    public static let noSelect = MailboxAttribute("\\Noselect")
    /// No child mailboxes can be created under this name.
    public static let noInferiors = MailboxAttribute("\\Noinferiors")
    /// The server thinks the mailbox has new messages.
    public static let marked = MailboxAttribute("\\Marked")
    /// The server thinks the mailbox has no new messages.
    public static let unmarked = MailboxAttribute("\\Unmarked")
    /// RFC 3348: the mailbox has child mailboxes.
    public static let hasChildren = MailboxAttribute("\\HasChildren")
    /// RFC 3348: the mailbox has no child mailboxes.
    public static let hasNoChildren = MailboxAttribute("\\HasNoChildren")
    /// RFC 5258: the name does not exist (it is listed because a child or subscription does).
    public static let nonExistent = MailboxAttribute("\\NonExistent")
    /// RFC 5258: the mailbox is subscribed.
    public static let subscribed = MailboxAttribute("\\Subscribed")
    /// RFC 6154: a virtual mailbox holding all messages.
    public static let all = MailboxAttribute("\\All")
    /// RFC 6154: the archive.
    public static let archive = MailboxAttribute("\\Archive")
    /// RFC 6154: drafts.
    public static let drafts = MailboxAttribute("\\Drafts")
    /// RFC 6154: a virtual mailbox of flagged messages.
    public static let flagged = MailboxAttribute("\\Flagged")
    /// RFC 6154: spam.
    public static let junk = MailboxAttribute("\\Junk")
    /// RFC 6154: sent messages.
    public static let sent = MailboxAttribute("\\Sent")
    /// RFC 6154: deleted messages.
    public static let trash = MailboxAttribute("\\Trash")

    public var description: String { rawValue }

    public static func == (lhs: MailboxAttribute, rhs: MailboxAttribute) -> Bool {
        lhs.rawValue.utf8.elementsEqual(rhs.rawValue.utf8) { ASCII.uppercase($0) == ASCII.uppercase($1) }
    }

    public func hash(into hasher: inout Hasher) {
        for byte in rawValue.utf8 { hasher.combine(ASCII.uppercase(byte)) }
    }
}
