#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Every failure of the `Maildir` module.
///
/// Match on ``code`` (a struct with static members, so new codes can be added without breaking
/// callers); ``description`` is a sentence for a log or a user and names the path involved.
public struct MaildirError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, independent of the path and wording.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// The code's name, e.g. `folderNotEmpty`.
        public var description: String { name }

        /// A system call failed; ``MaildirError/systemError`` holds its `errno`.
        public static let io = Code("io")
        /// Another ``MaildirStore`` (in this or another process) holds the store's lock.
        public static let locked = Code("locked")
        /// The folder is already open through another ``MaildirFolder`` handle.
        public static let folderBusy = Code("folderBusy")
        /// A folder name cannot be mapped to a directory (empty component, NUL, too long, ...).
        public static let invalidFolderName = Code("invalidFolderName")
        /// The folder's directory does not exist or is not a Maildir (`cur`, `new`, `tmp`).
        public static let folderMissing = Code("folderMissing")
        /// The target of a create or rename already exists.
        public static let folderExists = Code("folderExists")
        /// The folder holds mail the UID map does not know (or a quarantine); deleting it could lose mail.
        public static let folderNotEmpty = Code("folderNotEmpty")
        /// The operation is not possible on INBOX (deleting or renaming the Maildir++ root).
        public static let inboxNotAllowed = Code("inboxNotAllowed")
        /// `.syncd-uidmap` exists but cannot be parsed; move it aside to rebuild it from file names.
        public static let corruptMap = Code("corruptMap")
        /// Delivery before the folder has a UIDVALIDITY (call ``MaildirFolder/resetFolder(newUIDValidity:)``).
        public static let noUIDValidity = Code("noUIDValidity")
        /// The UID is already in the map or already in this batch.
        public static let duplicateUID = Code("duplicateUID")
        /// A writer was used after `finish()`, after a failure, or after its batch was committed.
        public static let writerClosed = Code("writerClosed")
        /// The batch was already committed or aborted.
        public static let batchClosed = Code("batchClosed")
        /// An earlier operation on this handle failed part-way; close it and open the folder again
        /// (opening runs recovery, which brings the folder back to a consistent state).
        public static let needsReopen = Code("needsReopen")
        /// The handle was closed.
        public static let folderClosed = Code("folderClosed")
    }

    /// What went wrong; compare with the static members of ``Code``.
    public let code: Code
    /// The `errno` of the failed system call, for ``Code/io``.
    public let systemError: Int32?
    /// A sentence naming the operation and path, for logs and users.
    public let description: String

    init(_ code: Code, _ description: String, systemError: Int32? = nil) {
        self.code = code
        self.description = description
        self.systemError = systemError
    }

    /// An ``Code/io`` error for `operation` on `path`, taking `errno` now.
    static func io(_ operation: String, _ path: String, errno code: Int32 = errno) -> MaildirError {
        MaildirError(.io, "\(operation) \(path): \(String(cString: strerror(code)))", systemError: code)
    }
}
