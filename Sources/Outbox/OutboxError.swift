#if canImport(Glibc)
import Glibc
#endif

/// A failure of the outbox itself (the file system, an envelope file it cannot read), as opposed
/// to a message that cannot be sent (those go to the Failed folder). The Maildir layer's own
/// failures arrive as `MaildirError`.
public struct OutboxError: Error, Sendable, CustomStringConvertible {
    public let description: String
    /// The `errno` of a failed system call.
    public let systemError: Int32?

    init(_ description: String, systemError: Int32? = nil) {
        self.description = description
        self.systemError = systemError
    }

    /// `operation path: strerror(errno)`.
    static func io(_ operation: String, _ path: String, errno code: Int32 = errno) -> OutboxError {
        OutboxError("\(operation) \(path): \(String(cString: strerror(code)))", systemError: code)
    }
}
