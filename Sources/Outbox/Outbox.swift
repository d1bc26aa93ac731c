#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Maildir

/// A store's outbox: a Maildir folder (`Outbox` by default) a mail client or `syncd-sendmail`
/// saves messages into, and the states a message goes through until it has been sent, each
/// change one durable rename (fsync of the file, rename, fsync of the directory):
///
/// - **queued**: a file in the folder's `new/` or `cur/` (one flagged `T`, trashed, is left alone);
/// - **sending**: ``take()`` prepares it into the folder's `sending/` subdirectory (mail clients
///   do not look there): the copy without Bcc and syncd's envelope fields, with a Message-ID and a
///   Date if it had none, its envelope and attempt state beside it in `NAME.envelope`;
/// - **sent**: ``sent(_:retry:reason:fileInto:)`` files the copy into Sent as `cur/NAME:2,S` (a
///   hard link) and removes it from the outbox;
/// - **deferred** (4xx): ``deferred(_:reason:)`` counts the attempt; it stays for the next run;
/// - **failed** (5xx): ``failed(_:reason:)`` files a copy carrying the reason in an
///   `X-Syncd-Send-Error:` field into the Failed folder and removes it from the outbox.
///
/// A crash anywhere leaves a state ``take()`` repairs first: a half-written envelope or copy is
/// removed (the original is still queued), an original whose prepared copy exists is removed, a
/// sent or failed message's filing is completed. A message is never dropped: at worst a message
/// refused before it could be prepared can reach the Failed folder twice.
///
/// Only the store's one run may call ``take()`` and the state changes (the store's lock keeps a
/// second syncd out); ``depth()`` and ``OutboxDelivery`` are safe beside it, from any process.
public struct Outbox: Sendable {
    /// The outbox folder's Maildir directory.
    public let path: String
    /// The store's folders.
    public let tree: MaildirTree
    /// Where messages refused for good go.
    public let failedFolder: FolderName
    var crashHook: OutboxCrashHook?

    var sendingPath: String { path + "/sending" }

    /// Opens the outbox `folder` of the store at `tree`, creating it (and its `sending/`) if needed.
    /// - Throws: `MaildirError` when the folders cannot be created.
    public init(tree: MaildirTree, folder: FolderName, failedFolder: FolderName) throws {
        self.tree = tree
        self.failedFolder = failedFolder
        path = try tree.directory(for: folder)
        if mkdir(tree.root, 0o700) == 0 { try DurableFiles.syncDirectory(parentOf(tree.root)) }
        try tree.createFolder(folder)
        if mkdir(sendingPath, 0o700) == 0 {
            try DurableFiles.syncDirectory(path)
        } else if errno != EEXIST {
            throw OutboxError.io("mkdir", sendingPath)
        }
    }

    // MARK: Reading

    /// How many messages wait (queued or being sent) and when the oldest was queued. Read-only.
    public func depth() throws -> (count: Int, oldest: Date?) {
        var count = 0
        var oldest: Double?
        func note(_ time: Double) { oldest = min(oldest ?? time, time) }
        var sources = Set<String>()
        for name in try DurableFiles.list(sendingPath) ?? [] where name.hasSuffix(".envelope") {
            let base = String(name.dropLast(".envelope".count))
            guard access(sendingPath + "/" + base, F_OK) == 0, let sidecar = try? Sidecar.read(sendingPath + "/" + name),
                !sidecar.sent, sidecar.failure == nil
            else { continue }
            sources.insert(sidecar.source)
            count += 1
            note(sidecar.queuedAt)
        }
        for file in try queuedFiles() where !sources.contains(file.base) {
            count += 1
            note(file.modified)
        }
        return (count, oldest.map(Date.init(timeIntervalSince1970:)))
    }

    // MARK: Taking

    /// Repairs what a crash left, then prepares every queued message into `sending/`, and returns
    /// everything there: interrupted first, then deferred, then new, oldest first in each. A
    /// queued message that cannot be sent at all (no recipient, no sender, no end to its header)
    /// goes to the Failed folder at once and is returned in ``OutboxBatch/rejected``.
    /// - Throws: `MaildirError` or ``OutboxError`` for file-system failures; what was prepared
    ///   before one stays prepared.
    public func take() throws -> OutboxBatch {
        try recover()
        var rejected: [RejectedMessage] = []
        for file in try queuedFiles() {
            if let refusal = try prepare(file) { rejected.append(refusal) }
        }
        var messages: [OutgoingMessage] = []
        for name in try DurableFiles.list(sendingPath) ?? [] where name.hasSuffix(".envelope") {
            let base = String(name.dropLast(".envelope".count))
            guard let sidecar = try Sidecar.read(sendingPath + "/" + name) else { continue }
            messages.append(OutgoingMessage(name: base, path: sendingPath + "/" + base, sidecar: sidecar))
        }
        let order: [OutgoingMessage.State: Int] = [.interrupted: 0, .deferred: 1, .new: 2]
        messages.sort { (order[$0.state]!, $0.queuedAt, $0.name) < (order[$1.state]!, $1.queuedAt, $1.name) }
        return OutboxBatch(messages: messages, rejected: rejected)
    }

    struct QueuedFile {
        var directory: String
        var name: String
        var base: String
        var modified: Double
        var path: String { directory + "/" + name }
    }

    /// The regular files in `new/` and `cur/`, but hidden and trashed (`T`) ones.
    func queuedFiles() throws -> [QueuedFile] {
        var files: [QueuedFile] = []
        for sub in ["new", "cur"] {
            let directory = path + "/" + sub
            for name in try DurableFiles.list(directory) ?? [] where !name.hasPrefix(".") {
                let parts = name.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                if sub == "cur", parts.count == 2, parts[1].hasPrefix("2,"), parts[1].dropFirst(2).contains("T") { continue }
                var info = stat()
                guard stat(directory + "/" + name, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
                let modified = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
                files.append(QueuedFile(directory: directory, name: name, base: String(parts[0]), modified: modified))
            }
        }
        return files.sorted { ($0.modified, $0.name) < ($1.modified, $1.name) }
    }

    /// Prepares one queued file into `sending/`; the refusal if it cannot be sent at all.
    func prepare(_ file: QueuedFile) throws -> RejectedMessage? {
        let name = DurableFiles.uniqueName()
        let prepared: PreparedMessage
        do {
            prepared = try PreparedMessage(path: file.path)
        } catch let error as OutboxError {
            if access(file.path, F_OK) != 0 { return nil }  // taken away meanwhile (a mail client's delete)
            return try reject(file, name: name, subject: "", reason: "cannot be sent: \(error)")
        }
        if prepared.envelope.recipients.isEmpty {
            return try reject(file, name: name, subject: prepared.subject,
                              reason: "no recipient: the message has no To, Cc or Bcc address")
        }
        if prepared.envelope.from.isEmpty, !prepared.senderGiven {
            return try reject(file, name: name, subject: prepared.subject, reason: "no sender: the message has no From address")
        }
        var info = stat()
        guard stat(file.path, &info) == 0 else { return nil }
        let size = prepared.header.count + max(0, Int(info.st_size) - prepared.bodyOffset)
        let sidecar = Sidecar(
            source: file.base, from: prepared.envelope.from, recipients: prepared.envelope.recipients,
            messageID: prepared.messageID, subject: prepared.subject, size: size, queuedAt: file.modified)
        // 1. The envelope, so that a prepared copy never exists without one.
        try sidecar.write(sendingPath, name, hook: crashHook)
        try crash(.sidecarWritten)
        // 2. The copy, under a temporary name, then into place.
        let temporary = sendingPath + "/" + name + ".tmp"
        let fd = try DurableFiles.create(temporary)
        do {
            try prepared.write(from: file.path, to: fd, path: temporary)
        } catch {
            close(fd)
            throw error
        }
        try DurableFiles.syncAndClose(fd, path: temporary)
        try crash(.copyTemporaryWritten)
        try DurableFiles.renameNoReplace(temporary, sendingPath + "/" + name)
        try DurableFiles.syncDirectory(sendingPath)
        try crash(.copyRenamed)
        // 3. The original: the message now lives in sending/ alone.
        try removeQueued(base: file.base)
        return nil
    }

    /// Unlinks the queued files with this base name (a mail client may have moved it to `cur/`).
    func removeQueued(base: String) throws {
        for sub in ["new", "cur"] {
            let directory = path + "/" + sub
            var removed = false
            for name in try DurableFiles.list(directory) ?? [] where name == base || name.hasPrefix(base + ":") {
                if try DurableFiles.unlinkIfPresent(directory + "/" + name) { removed = true }
            }
            if removed {
                try crash(.originalUnlinked)
                try DurableFiles.syncDirectory(directory)
            }
        }
    }

    // MARK: Outcomes

    /// Marks the start of an attempt, before MAIL FROM: if syncd stops before the outcome is
    /// recorded, the next ``take()`` returns the message ``OutgoingMessage/State/interrupted``.
    public func beginAttempt(_ message: OutgoingMessage) throws {
        var sidecar = try current(message)
        sidecar.attemptBegunAt = Date().timeIntervalSince1970
        try sidecar.write(sendingPath, message.name, hook: crashHook)
    }

    /// The server took the message (250 to DATA). With `retry` empty every recipient has it: it is
    /// filed into `fileInto` (the Sent folder; nil when the server files sent mail itself) as
    /// `cur/NAME:2,S`, then removed from the outbox. With `retry` (recipients refused with 4xx while
    /// others accepted it), the Sent copy is filed once and the message stays for `retry` alone,
    /// as deferred, with `reason`.
    ///
    /// The commit is one rename of the envelope file; filing and removal after it are completed by
    /// the next ``take()`` if syncd stops in between.
    public func sent(_ message: OutgoingMessage, retry: [String] = [], reason: String? = nil, fileInto sentFolder: FolderName?) throws {
        var sidecar = try current(message)
        let target = try sentFolder.flatMap { folder -> String? in
            guard !sidecar.sentCopyFiled else { return nil }
            try tree.createFolder(folder)
            return try tree.directory(for: folder) + "/cur/" + message.name + ":2,S"
        }
        sidecar.attemptBegunAt = nil
        sidecar.filing = target
        sidecar.sentCopyFiled = true
        if retry.isEmpty {
            sidecar.sent = true
        } else {
            sidecar.recipients = Envelope.unique(retry)
            sidecar.attempts += 1
            sidecar.lastError = reason ?? "\(retry.count) recipient(s) deferred"
            sidecar.lastAttemptAt = Date().timeIntervalSince1970
        }
        try sidecar.write(sendingPath, message.name, hook: crashHook)
        try crash(.sentCommitted)
        try complete(message.name, sidecar)
    }

    /// The server refused the message for now (4xx): one more attempt counted, `reason` kept; it
    /// stays in `sending/` for the next run.
    public func deferred(_ message: OutgoingMessage, reason: String) throws {
        var sidecar = try current(message)
        sidecar.attemptBegunAt = nil
        sidecar.attempts += 1
        sidecar.lastError = reason
        sidecar.lastAttemptAt = Date().timeIntervalSince1970
        try sidecar.write(sendingPath, message.name, hook: crashHook)
    }

    /// The server refused the message for good (5xx for the whole message): a copy with
    /// `X-Syncd-Send-Error: reason` (and its envelope, so that moving it back into the outbox sends
    /// it to the same recipients) goes into the Failed folder's `cur/`; the message leaves the
    /// outbox. Returns the copy's path.
    @discardableResult
    public func failed(_ message: OutgoingMessage, reason: String) throws -> String {
        var sidecar = try current(message)
        sidecar.attemptBegunAt = nil
        sidecar.failure = reason
        try sidecar.write(sendingPath, message.name, hook: crashHook)
        try crash(.failedCommitted)
        return try complete(message.name, sidecar) ?? ""
    }

    /// The envelope file of a message in `sending/`.
    func current(_ message: OutgoingMessage) throws -> Sidecar {
        guard let sidecar = try Sidecar.read(Sidecar.path(sendingPath, message.name)),
            access(message.path, F_OK) == 0, !sidecar.sent, sidecar.failure == nil
        else { throw OutboxError("\(message.name) is no longer in \(sendingPath)") }
        return sidecar
    }

    /// Finishes what an envelope file says is decided: a Sent copy to file, a sent message to
    /// remove, a failed one to file into Failed and remove. Returns the Failed copy's path.
    @discardableResult
    func complete(_ name: String, _ sidecar: Sidecar) throws -> String? {
        let prepared = sendingPath + "/" + name
        var sidecar = sidecar
        if let filing = sidecar.filing {
            try fileHardLink(prepared, to: filing)
            try crash(.sentFiled)
            if !sidecar.sent {
                sidecar.filing = nil
                try sidecar.write(sendingPath, name, hook: crashHook)
            }
        }
        var failedCopy: String?
        if let failure = sidecar.failure {
            var prefix = Envelope(from: sidecar.from, recipients: sidecar.recipients).headerFields
            prefix += "\(OutboxMessage.errorField): \(Self.oneLine(failure))\n"
            failedCopy = try fileFailedCopy(prepared, name: name, prefix: prefix)
            try crash(.failedFiled)
        }
        guard sidecar.sent || sidecar.failure != nil else { return nil }
        try DurableFiles.unlinkIfPresent(prepared)
        try crash(.preparedRemoved)
        try DurableFiles.unlinkIfPresent(Sidecar.path(sendingPath, name))
        try DurableFiles.syncDirectory(sendingPath)
        return failedCopy
    }

    /// Links `source` as `target` (copies it across file systems) and makes the entry durable;
    /// nothing if that was done before.
    func fileHardLink(_ source: String, to target: String) throws {
        if access(target, F_OK) == 0 { return }
        var info = stat()
        // A second link means the copy is filed and was renamed since (the imap sync adopts it).
        if stat(source, &info) == 0, info.st_nlink > 1 { return }
        if link(source, target) != 0 {
            let code = errno
            guard code == EXDEV else {
                if code == EEXIST { return }
                throw OutboxError.io("link to \(target) from", source, errno: code)
            }
            let temporary = parentOf(parentOf(target)) + "/tmp/" + (target.split(separator: "/").last.map(String.init) ?? "copy")
            _ = try? DurableFiles.unlinkIfPresent(temporary)
            let fd = try DurableFiles.create(temporary)
            do { try copyFile(source, offset: 0, to: fd, path: temporary) } catch { close(fd); throw error }
            try DurableFiles.syncAndClose(fd, path: temporary)
            try DurableFiles.renameNoReplace(temporary, target)
        }
        try DurableFiles.syncDirectory(parentOf(target))
    }

    /// Files `prefix` + the file at `source` into the Failed folder as `cur/NAME:2,`; the existing
    /// copy if there is one by that name.
    func fileFailedCopy(_ source: String, name: String, prefix: String) throws -> String {
        try tree.createFolder(failedFolder)
        let directory = try tree.directory(for: failedFolder)
        let target = directory + "/cur/" + name + ":2,"
        if access(target, F_OK) == 0 { return target }
        let temporary = directory + "/tmp/" + name
        _ = try? DurableFiles.unlinkIfPresent(temporary)
        let fd = try DurableFiles.create(temporary)
        do {
            try Array(prefix.utf8).withUnsafeBytes { try DurableFiles.write(fd, $0, path: temporary) }
            try copyFile(source, offset: 0, to: fd, path: temporary)
        } catch {
            close(fd)
            throw error
        }
        try DurableFiles.syncAndClose(fd, path: temporary)
        do {
            try DurableFiles.renameNoReplace(temporary, target)
        } catch let error as MaildirError where error.systemError == EEXIST {
            try DurableFiles.unlinkIfPresent(temporary)
        }
        try DurableFiles.syncDirectory(directory + "/cur")
        return target
    }

    /// Files a queued message that cannot be sent into Failed, and removes it from the queue.
    func reject(_ file: QueuedFile, name: String, subject: String, reason: String) throws -> RejectedMessage {
        let copy = try fileFailedCopy(file.path, name: name, prefix: "\(OutboxMessage.errorField): \(Self.oneLine(reason))\n")
        try removeQueued(base: file.base)
        return RejectedMessage(subject: subject, reason: reason, failedPath: copy)
    }

    /// A reason as one header line: line breaks become spaces.
    static func oneLine(_ text: String) -> String {
        String(text.map { $0 == "\n" || $0 == "\r" || $0 == "\r\n" ? " " : $0 })
    }

    func crash(_ point: OutboxCrashPoint) throws { try crashHook?(point) }
}

/// The directory a path is in.
func parentOf(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    return slash == path.startIndex ? "/" : String(path[..<slash])
}
