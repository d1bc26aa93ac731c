#if canImport(Glibc)
import Glibc
#endif
import Maildir
import Outbox

/// The sysexits(3) statuses sendmail uses, which mail clients understand (mutt shows the text for
/// each; 75 tells them to try again later).
enum Sysexit {
    static let ok: Int32 = 0
    static let usage: Int32 = 64  // EX_USAGE
    static let cannotCreate: Int32 = 73  // EX_CANTCREAT
    static let temporaryFailure: Int32 = 75  // EX_TEMPFAIL
    static let config: Int32 = 78  // EX_CONFIG

    /// A full disk or an I/O error may pass; a permission or a missing directory will not.
    static func forWriting(_ error: Error) -> Int32 {
        guard let code = (error as? MaildirError)?.systemError ?? (error as? OutboxError)?.systemError else { return cannotCreate }
        return [ENOSPC, EDQUOT, EIO, EAGAIN, EINTR].contains(code) ? temporaryFailure : cannotCreate
    }
}

/// Writes "syncd-sendmail: message" to stderr.
func complain(_ message: String) {
    var line = "syncd-sendmail: " + message + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}
