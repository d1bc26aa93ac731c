/// Why ``CommandEncoder`` refused a command: the arguments cannot be expressed in IMAP. Nothing
/// was sent; this is a bug in the caller or bad data (a password containing NUL).
public struct CommandEncodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure; compare with the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case invalidTag, unencodableString, invalidFlag, invalidArgument
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The tag is empty or contains a character a tag cannot hold.
        public static let invalidTag = Code(.invalidTag)
        /// A string contains NUL, which neither a quoted string nor a literal can carry.
        public static let unencodableString = Code(.unencodableString)
        /// A flag is not `\`+atom or an atom, or is `\*`, or (in SEARCH) an unknown system flag.
        public static let invalidFlag = Code(.invalidFlag)
        /// An argument the grammar does not allow: an empty UID set or list, VANISHED without
        /// CHANGEDSINCE, a capability that is not an atom.
        public static let invalidArgument = Code(.invalidArgument)

        public var description: String { base.rawValue }
    }

    /// What went wrong, for matching.
    public let code: Code
    /// Details for a log line (never the password itself).
    public let detail: String

    /// Makes an error; public so that tests can build expected values.
    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(code): \(detail)" }
}
