import SMTPProtocol

/// Why a connection, a login or a message failed, in words for the user, with what a sender needs
/// to decide: try again later (``isTemporary``) or give up on this message or this account.
///
/// A struct around a kind rather than an enum, so kinds can be added without breaking callers:
/// match on ``kind`` (`error.kind == .tooLarge`).
public struct SMTPError: Error, Sendable, CustomStringConvertible {
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        private enum Code: String, Sendable, Hashable {
            case connectFailed, tlsUnavailable, tlsFailed, authenticationFailed, tooLarge, rejected, timeout,
                 connectionClosed, protocolViolation, messageUnreadable
        }

        private let code: Code
        private init(_ code: Code) { self.code = code }

        /// The server could not be reached (refused, unknown host, no route): temporary.
        public static let connectFailed = Kind(.connectFailed)
        /// The server does not offer STARTTLS, or refused it: the client never goes on in the clear.
        public static let tlsUnavailable = Kind(.tlsUnavailable)
        /// The TLS handshake failed: most often a certificate that is not trusted or not the host's.
        public static let tlsFailed = Kind(.tlsFailed)
        /// The server refused the login (535), or offers no mechanism for these credentials.
        /// Temporary only when the server said so (454).
        public static let authenticationFailed = Kind(.authenticationFailed)
        /// The message is larger than the server's SIZE limit (``SMTPError/sizeLimit``); found out
        /// before MAIL FROM, or said by the server with 552.
        public static let tooLarge = Kind(.tooLarge)
        /// The server refused the message: MAIL FROM, every recipient, DATA or the message itself.
        /// Temporary for a 4xx reply.
        public static let rejected = Kind(.rejected)
        /// The server did not answer, or did not take our bytes, within ``SMTPServer/timeout``.
        public static let timeout = Kind(.timeout)
        /// The connection ended before the server answered (or was already closed).
        public static let connectionClosed = Kind(.connectionClosed)
        /// The server's bytes were not SMTP, or it answered something no server may.
        public static let protocolViolation = Kind(.protocolViolation)
        /// The message file could not be opened or read; nothing was sent (or, if it failed
        /// midway, the connection was dropped so the server discards the partial message).
        public static let messageUnreadable = Kind(.messageUnreadable)

        public var description: String { code.rawValue }
    }

    public var kind: Kind
    /// Retrying later may succeed (a 4xx, a timeout, a lost connection); `false`: the same
    /// message or login will fail the same way (a 5xx, too large, credentials refused).
    public var isTemporary: Bool
    /// The server's reply, when it gave one.
    public var reply: SMTPReply?
    /// For ``Kind/tooLarge``: the server's limit in bytes, when it stated one.
    public var sizeLimit: Int?
    /// A sentence for the user, quoting the server's reply (with its enhanced status code).
    public var description: String

    public init(kind: Kind, isTemporary: Bool, reply: SMTPReply? = nil, sizeLimit: Int? = nil, description: String) {
        self.kind = kind
        self.isTemporary = isTemporary
        self.reply = reply
        self.sizeLimit = sizeLimit
        self.description = description
    }

    /// A refusal in the server's words; temporary exactly when the server said 4xx.
    static func refused(_ what: String, _ reply: SMTPReply, kind: Kind = .rejected) -> SMTPError {
        SMTPError(kind: kind, isTemporary: reply.isTransientFailure, reply: reply,
                  description: "\(what): the server answered \(reply.summary)")
    }
}
