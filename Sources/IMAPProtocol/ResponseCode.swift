/// A response code: the bracketed part of a status response (RFC 3501 §7.1, RFC 4315, RFC 7162).
///
/// Codes this library does not know, such as `AUTHENTICATIONFAILED`, `UNAVAILABLE` or
/// `OVERQUOTA` (RFC 5530), arrive as ``other(name:text:)`` with the name upper-cased.
public enum ResponseCode: Hashable, Sendable {
    /// The text must be shown to the user.
    case alert
    /// The server could not parse a message's headers.
    case parse
    /// The mailbox is selected read-only (EXAMINE, or no write permission).
    case readOnly
    /// The mailbox is selected read-write.
    case readWrite
    /// APPEND/COPY failed because the target mailbox does not exist and may be created.
    case tryCreate
    /// RFC 5530: CREATE or RENAME failed because the mailbox exists (made meanwhile by another
    /// client, or by the server itself).
    case alreadyExists
    /// RFC 7162: the mailbox does not support mod-sequences (no CONDSTORE for it).
    case noModSeq
    /// RFC 7162: the previously selected mailbox is now closed (sent during SELECT with QRESYNC).
    case closed
    /// The mailbox's UIDVALIDITY: when it changes, every cached UID is void.
    case uidValidity(UInt32)
    /// The next UID the server will assign (a prediction).
    case uidNext(UInt32)
    /// The sequence number of the first unseen message.
    case unseen(UInt32)
    /// RFC 7162: the highest mod-sequence of the mailbox.
    case highestModSeq(UInt64)
    /// The flags the client can change permanently; ``Flag/mayCreateKeywords`` (`\*`) means new
    /// keywords may be created.
    case permanentFlags([Flag])
    /// The capability list, as often sent in the greeting and after LOGIN.
    case capability([Capability])
    /// SEARCH failed on an unsupported charset; the list names the supported ones.
    case badCharset([String])
    /// RFC 4315 (UIDPLUS): the UIDs an APPEND assigned.
    case appendUID(uidValidity: UInt32, uids: UIDSet)
    /// RFC 4315 (UIDPLUS): the UIDs a COPY or MOVE assigned, in source order.
    case copyUID(uidValidity: UInt32, source: UIDSet, destination: UIDSet)
    /// RFC 7162: the messages a conditional STORE did not change (UNCHANGEDSINCE failed).
    case modified(UIDSet)
    /// Any other code, name upper-cased, with the text up to `]` if present.
    case other(name: String, text: String?)
}
