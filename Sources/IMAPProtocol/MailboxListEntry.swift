/// One mailbox from a LIST or LSUB response: `* LIST (\HasNoChildren) "/" "Sent"`.
public struct MailboxListEntry: Hashable, Sendable {
    /// Attributes such as `\Noselect` or `\Sent`.
    public var attributes: [MailboxAttribute]
    /// The hierarchy delimiter, or nil (`NIL`) for a flat namespace.
    public var delimiter: Character?
    /// The name, verbatim from the wire (modified UTF-7).
    public var name: MailboxName

    /// An entry with these fields.
    public init(attributes: [MailboxAttribute], delimiter: Character?, name: MailboxName) {
        self.attributes = attributes
        self.delimiter = delimiter
        self.name = name
    }

    /// Whether the mailbox can be selected: neither `\Noselect` nor `\NonExistent`.
    public var isSelectable: Bool {
        !attributes.contains(.noSelect) && !attributes.contains(.nonExistent)
    }
}
