/// What UID FETCH asks for (RFC 3501 §6.4.5, RFC 7162). `UID` is always returned by UID FETCH,
/// asked or not.
public enum FetchItem: Hashable, Sendable {
    /// `UID`
    case uid
    /// `FLAGS`
    case flags
    /// `RFC822.SIZE`
    case rfc822Size
    /// `INTERNALDATE`
    case internalDate
    /// RFC 7162; requires CONDSTORE.
    case modSeq
    /// `ENVELOPE`, reported raw as ``FetchAttribute/other(name:value:)``.
    case envelope
    /// `BODYSTRUCTURE`, reported raw as ``FetchAttribute/other(name:value:)``.
    case bodyStructure
    /// `BODY.PEEK[section]<offset.length>` (or `BODY[...]` with `peek: false`, which sets
    /// `\Seen`). `partial` asks for bytes `partial.lowerBound..<partial.upperBound` only.
    case body(BodySection, peek: Bool = true, partial: Range<Int>? = nil)
}
