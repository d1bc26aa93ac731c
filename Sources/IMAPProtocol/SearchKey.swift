/// A search criterion for UID SEARCH (RFC 3501 §6.4.4), the few a sync needs.
public indirect enum SearchKey: Hashable, Sendable {
    /// `ALL`
    case all
    /// `UID set`
    case uid(UIDSet)
    /// `MODSEQ n` (RFC 7162): messages whose mod-sequence is at least `n`.
    case modSeq(UInt64)
    /// Messages with this flag: `SEEN`, `ANSWERED`, `FLAGGED`, `DELETED`, `DRAFT`, `RECENT` for
    /// system flags, `KEYWORD k` for keywords.
    case flag(Flag)
    /// `HEADER field value`: messages whose header `field` contains `value` (case-insensitive
    /// substring, RFC 3501). The value must be 7-bit without CR or LF (a Message-ID is).
    case header(String, String)
    /// `LARGER n`: messages of more than `n` octets (RFC822.SIZE).
    case larger(UInt32)
    /// `SMALLER n`: messages of fewer than `n` octets.
    case smaller(UInt32)
    /// `NOT key`
    case not(SearchKey)
    /// `OR key1 key2`
    case or(SearchKey, SearchKey)
    /// `(key1 key2 ...)`: all must match.
    case and([SearchKey])

    /// RFC 4731 `RETURN` options; the answer is then one ESEARCH response.
    public enum ReturnOption: String, Hashable, Sendable {
        /// The lowest match.
        case min = "MIN"
        /// The highest match.
        case max = "MAX"
        /// All matches, as a compact set.
        case all = "ALL"
        /// The number of matches.
        case count = "COUNT"
    }
}
