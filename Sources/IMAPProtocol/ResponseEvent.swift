import NIOCore

/// One event from ``ResponseParser``: a whole small response, or one step of a FETCH response.
///
/// A FETCH response arrives as a sequence, so that a 100 MB body is never held whole:
///
///     .fetchStart(seq)
///     ( .fetchAttribute(_)
///     | .bodyStart(section, origin, size) .bodyChunk(_)* .bodyEnd )*
///     .fetchEnd
///
/// The chunks of a body hold exactly `size` bytes in total; how they are split depends only on
/// how the bytes arrived. A body sent as a quoted string arrives the same way (one chunk), and a
/// body of `NIL` as `.bodyStart(section, origin, size: 0)` and `.bodyEnd`.
public enum ResponseEvent: Hashable, Sendable {
    /// `A0001 OK [READ-WRITE] SELECT completed`: the end of the command with this tag. Only
    /// ``StatusResponse/Condition/ok``, `.no` and `.bad` occur.
    case tagged(tag: String, StatusResponse)
    /// `* OK ...`, `* NO ...`, `* BAD ...`, `* PREAUTH ...`, `* BYE ...`; the greeting is one.
    case untagged(StatusResponse)
    /// `+ text`: the server waits for the rest of a command (a literal, a SASL response, or DONE
    /// after IDLE). For SASL the text is the base64 challenge; it is empty for a bare `+`.
    case continuation(String)
    /// `* CAPABILITY ...`.
    case capability([Capability])
    /// RFC 5161 `* ENABLED ...`: the extensions now enabled.
    case enabled([Capability])
    /// `* LIST (...) "/" name`.
    case list(MailboxListEntry)
    /// `* LSUB (...) "/" name`.
    case lsub(MailboxListEntry)
    /// `* STATUS name (...)`.
    case status(MailboxName, MailboxStatus)
    /// `* FLAGS (...)`: the flags defined in the selected mailbox.
    case flags([Flag])
    /// `* n EXISTS`: the mailbox now holds `n` messages.
    case exists(UInt32)
    /// `* n RECENT`.
    case recent(UInt32)
    /// `* n EXPUNGE`: message number `n` is gone and later numbers shift down by one.
    case expunge(UInt32)
    /// RFC 7162 `* VANISHED [(EARLIER)] uids`: these UIDs are gone. `earlier` is true in answer
    /// to SELECT/FETCH with QRESYNC/VANISHED (no EXISTS adjustment), false for live expunges.
    case vanished(UIDSet, earlier: Bool)
    /// `* SEARCH 2 84 882 [(MODSEQ n)]`.
    case search([UInt32], modSeq: UInt64?)
    /// RFC 4731 `* ESEARCH ...`.
    case esearch(ESearchResponse)
    /// `* n FETCH (`: attributes of message number `n` follow, until ``fetchEnd``.
    case fetchStart(UInt32)
    /// One small FETCH attribute.
    case fetchAttribute(FetchAttribute)
    /// A body section begins: `BODY[section]<origin> {size}`. `origin` is set for a partial fetch.
    case bodyStart(BodySection, origin: Int?, size: Int)
    /// The next bytes of the current body, a slice of the caller's buffer (no copy).
    case bodyChunk(ByteBuffer)
    /// The current body is complete.
    case bodyEnd
    /// The FETCH response is complete.
    case fetchEnd
    /// An untagged response this parser does not know (`* ID ...`, `* NAMESPACE ...`,
    /// `* 3 XFOO`), skipped whole, literals included; its keyword, upper-cased. Ignore it or log it.
    case unknown(String)
}
