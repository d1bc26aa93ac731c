/// A client command, without its tag. ``CommandEncoder`` turns it into bytes.
///
/// Only what a sync client needs: all message access is by UID, and message bodies are never sent
/// here (APPEND, which must stream a message, is ``CommandEncoder/encodeAppend(to:flags:internalDate:messageSize:tag:)``).
public enum Command: Hashable, Sendable {
    /// `CAPABILITY`.
    case capability
    /// `NOOP`: polls for changes and keeps the connection alive.
    case noop
    /// `LOGOUT`: the server answers `* BYE` then the tagged OK, and closes.
    case logout
    /// `STARTTLS`: after the tagged OK, start TLS before sending anything else.
    case startTLS
    /// `LOGIN user password`, each quoted, or a literal when it holds 8-bit bytes, CR or LF.
    case login(username: String, password: String)
    /// `AUTHENTICATE PLAIN` (RFC 4616) with the response `authzid NUL username NUL password` in
    /// BASE64: in the same line when the encoder has SASL-IR, else after the server's `+`.
    case authenticatePlain(username: String, password: String, authorizationIdentity: String = "")
    /// `AUTHENTICATE mechanism` with a one-step initial response (bytes, sent as BASE64): in the
    /// same line when the encoder has SASL-IR (an empty response is `=`), else after the server's
    /// `+`. For the OAuth2 mechanisms, built by ``SASL``.
    case authenticate(mechanism: String, initialResponse: [UInt8])
    /// `ENABLE X Y` (RFC 5161), e.g. `[.condstore, .qresync]`.
    case enable([Capability])
    /// `LIST reference pattern`; `%` and `*` in the pattern are wildcards. The default is
    /// `LIST "" "*"`: every mailbox.
    case list(reference: MailboxName = MailboxName(""), pattern: String = "*")
    /// `STATUS mailbox (attributes)`; must not be used on the selected mailbox (RFC 3501 §6.3.10).
    case status(MailboxName, [MailboxStatus.Attribute])
    /// `SELECT mailbox [(CONDSTORE)|(QRESYNC (...))]`.
    case select(MailboxName, SelectParameter? = nil)
    /// `EXAMINE mailbox [...]`: SELECT read-only.
    case examine(MailboxName, SelectParameter? = nil)
    /// `CREATE mailbox`.
    case create(MailboxName)
    /// `DELETE mailbox`.
    case delete(MailboxName)
    /// `UID FETCH uids (items) [(CHANGEDSINCE modseq [VANISHED])]` (RFC 7162 for the modifier;
    /// VANISHED needs QRESYNC enabled and CHANGEDSINCE).
    case uidFetch(UIDSet, [FetchItem], changedSince: UInt64? = nil, vanished: Bool = false)
    /// `UID STORE uids [(UNCHANGEDSINCE modseq)] +FLAGS.SILENT (flags)` and its variants.
    case uidStore(UIDSet, StoreAction, [Flag], silent: Bool = true, unchangedSince: UInt64? = nil)
    /// `UID SEARCH [RETURN (options)] criteria`; several criteria must all match, none means ALL.
    /// With `returning` non-empty the answer is an ESEARCH response (RFC 4731).
    case uidSearch([SearchKey], returning: [SearchKey.ReturnOption] = [])
    /// `UID EXPUNGE uids` (RFC 4315 UIDPLUS): expunge only these `\Deleted` messages.
    case uidExpunge(UIDSet)
    /// `UID COPY uids mailbox`; with UIDPLUS the tagged OK carries COPYUID.
    case uidCopy(UIDSet, MailboxName)
    /// `UID MOVE uids mailbox` (RFC 6851); with UIDPLUS an untagged OK before the completion
    /// carries COPYUID.
    case uidMove(UIDSet, MailboxName)
    /// `IDLE` (RFC 2177): after the server's `+`, updates stream in until the client sends
    /// ``CommandEncoder/idleDone``; then the tagged OK ends it.
    case idle

    /// How STORE changes the flags.
    public enum StoreAction: Hashable, Sendable {
        /// `+FLAGS`
        case add
        /// `-FLAGS`
        case remove
        /// `FLAGS`: replace all flags.
        case replace
    }

    /// The RFC 7162 parameter of SELECT/EXAMINE.
    public enum SelectParameter: Hashable, Sendable {
        /// `(CONDSTORE)`: report mod-sequences from now on.
        case condstore
        /// `(QRESYNC (uidvalidity modseq [known-uids]))`: resynchronise in the SELECT itself. The
        /// server then reports `VANISHED (EARLIER)` and FETCHes for changes since `modSeq`, if
        /// `uidValidity` still holds. Needs `ENABLE QRESYNC` first.
        case qresync(uidValidity: UInt32, modSeq: UInt64, knownUIDs: UIDSet? = nil)
    }
}
