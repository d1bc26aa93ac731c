/// Why bytes from the server (or a string handed to a decoder) could not be parsed.
///
/// A parse error from ``ResponseParser`` means the server's stream can no longer be trusted: the
/// connection should be closed (after a `LOGOUT` attempt at most). The parser stays failed and
/// throws the same error again if called.
///
/// Errors are a struct wrapping a code, so codes can be added without breaking callers; match on
/// ``code``, and log ``description``.
public struct IMAPParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure; compare with the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case lineTooLong, literalTooLarge, syntax, invalidNumber, invalidMailboxName, invalidSequenceSet
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A line (the bytes before its LF, not counting literal data) is longer than
        /// ``ResponseParser/Limits/maxLineLength``.
        public static let lineTooLong = Code(.lineTooLong)
        /// A literal announces more bytes than its limit allows; thrown as soon as the length is
        /// read, before any of the data is waited for.
        public static let literalTooLarge = Code(.literalTooLarge)
        /// The bytes do not follow the grammar (RFC 3501 §9, RFC 7162 §7).
        public static let syntax = Code(.syntax)
        /// A number overflows its type, or is 0 where the grammar demands a non-zero number.
        public static let invalidNumber = Code(.invalidNumber)
        /// A mailbox name is not valid modified UTF-7 (RFC 3501 §5.1.3).
        public static let invalidMailboxName = Code(.invalidMailboxName)
        /// A sequence set such as `1:5,7,9:*` is malformed.
        public static let invalidSequenceSet = Code(.invalidSequenceSet)

        public var description: String { base.rawValue }
    }

    /// What went wrong, for matching.
    public let code: Code
    /// Details for a log line: what was expected and what was found.
    public let detail: String

    /// Makes an error; public so that tests and callers can build expected values.
    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(code): \(detail)" }
}
