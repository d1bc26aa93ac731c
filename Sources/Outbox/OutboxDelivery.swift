#if canImport(Glibc)
import Glibc
#endif
import Maildir

/// One message being written into the outbox (by `syncd-sendmail`): into the folder's `tmp/`
/// while it arrives, then, at ``commit()``, fsynced and renamed into `new/`, where the next run
/// finds it complete. Not `Sendable`: one task writes it. Dropped uncommitted, its file is removed.
public final class OutboxDelivery {
    /// The file while it is written.
    public let temporaryPath: String
    /// Where ``commit()`` puts it.
    public let finalPath: String
    private var fd: Int32
    private var done = false

    /// Starts a message in `outbox`.
    /// - Throws: `MaildirError` when the file cannot be created.
    public init(into outbox: Outbox) throws {
        let name = DurableFiles.uniqueName()
        temporaryPath = outbox.path + "/tmp/" + name
        finalPath = outbox.path + "/new/" + name
        fd = try DurableFiles.create(temporaryPath)
    }

    deinit { abandon() }

    /// Appends bytes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try DurableFiles.write(fd, bytes, path: temporaryPath)
    }

    /// Appends bytes.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Makes the message durable and queued: fsync, rename into `new/`, fsync of `new/`.
    public func commit() throws {
        guard !done else { return }
        done = true
        let fd = self.fd
        self.fd = -1
        try DurableFiles.syncAndClose(fd, path: temporaryPath)
        try DurableFiles.renameNoReplace(temporaryPath, finalPath)
        try DurableFiles.syncDirectory(parentOf(finalPath))
    }

    /// Removes the unfinished file.
    public func abandon() {
        guard !done else { return }
        done = true
        close(fd)
        unlink(temporaryPath)
    }
}
