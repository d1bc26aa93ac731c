/// A status response: `OK`, `NO`, `BAD`, `PREAUTH` or `BYE`, with an optional response code and
/// human-readable text (RFC 3501 §7.1).
///
/// Tagged responses (the end of a command) only carry `OK`, `NO` or `BAD`; untagged ones carry any
/// of the five. The text is for people and logs, never for decisions: decide on ``condition`` and
/// ``code``.
public struct StatusResponse: Hashable, Sendable {
    /// Which status.
    public enum Condition: String, Hashable, Sendable {
        /// Success (tagged) or information (untagged).
        case ok = "OK"
        /// Operational failure: the command was understood but failed.
        case no = "NO"
        /// Protocol failure: the command (or, untagged, the client) is at fault.
        case bad = "BAD"
        /// Untagged only, in the greeting: the connection is already authenticated.
        case preauth = "PREAUTH"
        /// Untagged only: the server is closing the connection.
        case bye = "BYE"
    }

    /// Which status.
    public var condition: Condition
    /// The bracketed code, such as `[UIDVALIDITY 3857529045]`, if any.
    public var code: ResponseCode?
    /// The text after the code, decoded as UTF-8 (lossily); may be empty.
    public var text: String

    /// A status response with these fields.
    public init(_ condition: Condition, code: ResponseCode? = nil, text: String) {
        self.condition = condition
        self.code = code
        self.text = text
    }
}
