#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The store's file primitives for code that writes into a store's Maildirs beside it, without
/// opening (and so locking) the store: the outbox, `syncd-sendmail`. Every failure is a
/// ``MaildirError`` with code ``MaildirError/Code/io`` naming the path.
public enum DurableFiles {
    private static let names = UniqueNames(hostname: nil)
    private static let counter = Atomic<UInt64>(0)

    /// A Maildir unique name (`<seconds>.M<µs>P<pid>Q<counter>R<random>.<host>`), unique across
    /// processes and hosts, for a new message file.
    public static func uniqueName() -> String {
        names.make(counter: counter.add(1, ordering: .relaxed).newValue)
    }

    /// fsyncs a file.
    public static func syncFile(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw MaildirError.io("open", path) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw MaildirError.io("fsync", path) }
    }

    /// fsyncs a directory, making the entries created, renamed or removed in it durable.
    public static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw MaildirError.io("open", path) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw MaildirError.io("fsync", path) }
    }

    /// Renames without replacing an existing target.
    /// - Throws: `.io` with `EEXIST` when the target exists, `ENOENT` when the source is gone.
    public static func renameNoReplace(_ from: String, _ to: String) throws {
        try Posix.renameNoReplace(from, to)
    }

    /// Removes a file; `false` if it was already gone.
    @discardableResult
    public static func unlinkIfPresent(_ path: String) throws -> Bool {
        try Posix.unlinkIfPresent(path)
    }

    /// The names in a directory except `.` and `..` (names that are not UTF-8 left out); `nil` if
    /// the directory does not exist.
    public static func list(_ directory: String) throws -> [String]? {
        try Posix.list(directory)?.entries.map(\.name)
    }

    /// Creates a new file for writing (`O_EXCL`) and returns its descriptor.
    public static func create(_ path: String, mode: mode_t = 0o600) throws -> Int32 {
        let fd = Posix.create(path, mode: mode)
        guard fd >= 0 else { throw MaildirError.io("create", path) }
        return fd
    }

    /// Writes all of `bytes` to `fd`, retrying short writes.
    public static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        try Posix.writeAll(fd, bytes, path: path)
    }

    /// fsyncs and closes a descriptor from ``create(_:mode:)``.
    public static func syncAndClose(_ fd: Int32, path: String) throws {
        guard fsync(fd) == 0 else {
            let code = errno
            close(fd)
            throw MaildirError.io("fsync", path, errno: code)
        }
        guard close(fd) == 0 else { throw MaildirError.io("close", path) }
    }
}

extension MaildirTree {
    /// Creates `name` as a Maildir, as ``MaildirStore/createFolder(_:)`` does, without the store:
    /// for folders a writer beside the store needs (the outbox, Sent, Failed). Idempotent.
    /// - Throws: ``MaildirError/Code/invalidFolderName``, ``MaildirError/Code/io``.
    public func createFolder(_ name: FolderName, directoryMode: mode_t = 0o700, fileMode: mode_t = 0o600) throws {
        try createFolder(name, directoryMode: directoryMode, fileMode: fileMode, syncDirectory: DurableFiles.syncDirectory)
    }

    func createFolder(
        _ name: FolderName, directoryMode: mode_t, fileMode: mode_t, syncDirectory: (String) throws -> Void
    ) throws {
        let directory = try directory(for: name)
        var toSync: [String] = []
        if layout == .nested {
            // Parents first, each made durable in its own parent.
            var path = root
            for part in try FolderPathCodec.relativePath(for: name, layout: .nested)!.split(separator: "/") {
                let child = path + "/" + part
                if try Posix.makeDirectory(child, mode: directoryMode) { toSync.append(path) }
                path = child
            }
        } else if try Posix.makeDirectory(directory, mode: directoryMode) {
            toSync.append(root)
        }
        var created = false
        for sub in ["cur", "new", "tmp"] {
            if try Posix.makeDirectory(directory + "/" + sub, mode: directoryMode) { created = true }
        }
        if layout == .maildirPlusPlus, !name.isInbox {
            let marker = directory + "/maildirfolder"
            let fd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, fileMode)
            if fd >= 0 {
                close(fd)
                created = true
            } else if errno != EEXIST {
                throw MaildirError.io("create", marker)
            }
        }
        if created { toSync.insert(directory, at: 0) }
        for path in toSync { try syncDirectory(path) }
    }
}
