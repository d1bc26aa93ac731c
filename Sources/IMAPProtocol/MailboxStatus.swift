/// The data of a STATUS response, `* STATUS "INBOX" (MESSAGES 3 UIDNEXT 4)`: each field is nil
/// unless the server sent it. Attributes this type does not know are skipped.
public struct MailboxStatus: Hashable, Sendable {
    /// The attributes a STATUS command can ask for.
    public enum Attribute: String, Hashable, Sendable, CaseIterable {
        /// The number of messages.
        case messages = "MESSAGES"
        /// The number of recent messages.
        case recent = "RECENT"
        /// The next UID.
        case uidNext = "UIDNEXT"
        /// The UIDVALIDITY.
        case uidValidity = "UIDVALIDITY"
        /// The number of unseen messages.
        case unseen = "UNSEEN"
        /// RFC 7162; requires CONDSTORE.
        case highestModSeq = "HIGHESTMODSEQ"
        /// RFC 8438: the mailbox size in octets (Dovecot supports it as STATUS=SIZE).
        case size = "SIZE"
    }

    /// The number of messages.
    public var messages: UInt32?
    /// The number of messages with `\Recent`.
    public var recent: UInt32?
    /// The next UID the server will assign.
    public var uidNext: UInt32?
    /// The UIDVALIDITY: when it changes, every cached UID is void.
    public var uidValidity: UInt32?
    /// The number of messages without `\Seen`.
    public var unseen: UInt32?
    /// RFC 7162: the highest mod-sequence; unchanged means nothing changed.
    public var highestModSeq: UInt64?
    /// RFC 8438: the total size in octets.
    public var size: UInt64?

    /// A status with the given fields.
    public init(
        messages: UInt32? = nil, recent: UInt32? = nil, uidNext: UInt32? = nil, uidValidity: UInt32? = nil,
        unseen: UInt32? = nil, highestModSeq: UInt64? = nil, size: UInt64? = nil
    ) {
        self.messages = messages
        self.recent = recent
        self.uidNext = uidNext
        self.uidValidity = uidValidity
        self.unseen = unseen
        self.highestModSeq = highestModSeq
        self.size = size
    }
}
