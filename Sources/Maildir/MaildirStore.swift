#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A tree of Maildirs under one root directory, one per mail folder, synced by one syncd process.
///
/// Opening a store takes an exclusive `flock` on `<root>/.syncd-lock` for the store's lifetime, so a
/// second syncd (or a second store object in this process) on the same root fails with
/// ``MaildirError/Code/locked`` instead of racing. Mail clients may read and rename messages at any
/// time; that is what the Maildir format is for, and every operation here tolerates it.
///
/// Thread safety: the store itself is `Sendable`; each ``MaildirFolder`` it opens is owned by one task
/// at a time, and a folder can be open through only one handle at once.
///
/// Directories are created with ``Options/directoryMode`` and files with ``Options/fileMode``; every
/// creation, rename and removal is made durable (fsync of the file and of its directory) before the
/// operation returns.
public final class MaildirStore: Sendable {
    /// How the store writes mail; the defaults suit a personal Maildir.
    public struct Options: Sendable {
        /// What delivery does with line endings.
        public enum LineEndings: Sendable {
            /// CRLF becomes LF, as Maildir readers expect (IMAP sends CRLF). A lone CR is kept.
            case unix
            /// The bytes are stored as received.
            case preserve
        }

        /// The host name put in message file names; `nil` means `gethostname()`.
        public var hostname: String?
        /// See ``LineEndings``; `.unix` by default.
        public var lineEndings: LineEndings
        /// Deliver messages without flags to `new/` (mail clients then show them as new) instead of `cur/`.
        public var deliverUnseenToNew: Bool
        /// Permissions for directories the store creates (0700: mail is private).
        public var directoryMode: mode_t
        /// Permissions for files the store creates (0600).
        public var fileMode: mode_t

        /// Options with the defaults described on each property.
        public init(
            hostname: String? = nil, lineEndings: LineEndings = .unix, deliverUnseenToNew: Bool = false,
            directoryMode: mode_t = 0o700, fileMode: mode_t = 0o600
        ) {
            self.hostname = hostname
            self.lineEndings = lineEndings
            self.deliverUnseenToNew = deliverUnseenToNew
            self.directoryMode = directoryMode
            self.fileMode = fileMode
        }
    }

    /// The root directory, without a trailing slash.
    public let root: String
    /// How folders map to directories.
    public let layout: MaildirLayout
    /// As given to ``init(root:layout:options:)``.
    public let options: Options

    let names: UniqueNames
    private let lockDescriptor: Int32
    private let deliveryCounter = Atomic<UInt64>(0)
    /// Every fsync the store has issued (files and directories); tests check the per-batch count.
    let fsyncCount = Atomic<Int>(0)
    /// Every listing of a folder's `cur/` and `new/`; tests check when opening skips it.
    let listingCount = Atomic<Int>(0)
    /// Directories of open folders, as bytes: Swift's `String` equality would merge two names that
    /// differ only in Unicode normalisation, which are two different directories.
    private let openFolders = Mutex<Set<[UInt8]>>([])

    /// How long after its last change a folder must be left alone for a clean listing of it to let
    /// later opens skip their listing (see ``MaildirFolder/scanLocalChanges()``): a sync waits this
    /// long before re-reading the folders it changed.
    public static let listingQuietPeriod = Duration.milliseconds(Int(ListingStamp.quietPeriod * 1000))

    static let lockFileName = ".syncd-lock"
    static let mapFileName = ".syncd-uidmap"
    static let quarantineDirectoryName = ".syncd-quarantine"

    /// Opens (creating the root directory, not its parents, if missing) and locks a store.
    /// - Throws: ``MaildirError/Code/locked`` if another store holds the root;
    ///   ``MaildirError/Code/io`` if the root cannot be created or locked.
    public init(root: String, layout: MaildirLayout, options: Options = Options()) throws {
        var root = root
        while root.count > 1, root.hasSuffix("/") { root.removeLast() }
        self.root = root
        self.layout = layout
        self.options = options
        self.names = UniqueNames(hostname: options.hostname)
        if try Posix.makeDirectory(root, mode: options.directoryMode) {
            let parent = parentDirectory(root)
            let fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if fd >= 0 { fsync(fd); close(fd) }
        }
        let lockPath = root + "/" + Self.lockFileName
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, options.fileMode)
        guard fd >= 0 else { throw MaildirError.io("open", lockPath) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            close(fd)
            if code == EWOULDBLOCK {
                throw MaildirError(.locked, "\(root) is in use by another syncd store (\(lockPath) is locked)")
            }
            throw MaildirError.io("flock", lockPath, errno: code)
        }
        lockDescriptor = fd
    }

    deinit {
        close(lockDescriptor)
    }

    // MARK: Folders

    /// The directory that holds `name`'s Maildir (the root itself for the Maildir++ INBOX).
    /// - Throws: ``MaildirError/Code/invalidFolderName`` if a directory name would exceed 255 bytes.
    public func directory(for name: FolderName) throws -> String {
        try tree.directory(for: name)
    }

    /// Every folder of the store, sorted (see ``MaildirTree/listFolders()``).
    public func listFolders() throws -> [FolderName] {
        try tree.listFolders()
    }

    /// The store's folders as paths, for what reads them without opening the store.
    public var tree: MaildirTree { MaildirTree(root: root, layout: layout) }

    /// Creates `name` as a Maildir (and, in the nested layout, any missing parent directories), with a
    /// `maildirfolder` marker for Maildir++ subfolders; every new directory entry is fsynced.
    /// Idempotent: an existing folder is left as it is, and a half-created one is completed.
    /// - Throws: ``MaildirError/Code/invalidFolderName``, or ``MaildirError/Code/io``.
    public func createFolder(_ name: FolderName) throws {
        try tree.createFolder(name, directoryMode: options.directoryMode, fileMode: options.fileMode, syncDirectory: syncDirectory)
    }

    /// Deletes a folder's Maildir, but only mail that syncd itself downloaded.
    ///
    /// Refuses with ``MaildirError/Code/folderNotEmpty`` — changing nothing — if `cur/` or `new/` holds
    /// a message the UID map does not know (the user's own mail, which may exist nowhere else), if
    /// `tmp/` holds another program's delivery in progress, or if the folder has a non-empty
    /// quarantine (see ``MaildirFolder/resetFolder(newUIDValidity:)``). Otherwise it removes the mapped
    /// messages, our temporary files, the UID map, `cur`/`new`/`tmp` and `maildirfolder`, then the
    /// directory itself if nothing else (a nested child folder, another tool's index) is left in it.
    /// Deleting a folder that does not exist succeeds, so a delete interrupted by a crash can simply be
    /// repeated.
    /// - Throws: ``MaildirError/Code/inboxNotAllowed`` for the Maildir++ INBOX (the root);
    ///   ``MaildirError/Code/folderBusy`` while the folder is open; ``MaildirError/Code/corruptMap``;
    ///   ``MaildirError/Code/io``.
    public func deleteFolder(_ name: FolderName) throws {
        if layout == .maildirPlusPlus, name.isInbox {
            throw MaildirError(.inboxNotAllowed, "INBOX is the Maildir++ root and cannot be deleted")
        }
        let directory = try directory(for: name)
        guard Posix.isDirectory(directory) else { return }
        try reserve(directory, name)
        defer { release(directory) }
        let map = try readMap(directory: directory) ?? UIDMap()
        let known = Set(map.entries.values.map(\.baseName))

        var doomed: [String] = []
        var unknown = 0
        for sub in ["cur", "new"] {
            guard let listing = try Posix.list(directory + "/" + sub) else { continue }
            unknown += listing.undecodable
            for entry in listing.entries {
                if known.contains(MessageFileName(entry.name).base) {
                    doomed.append(directory + "/" + sub + "/" + entry.name)
                } else {
                    unknown += 1
                }
            }
        }
        var foreignTemporary = 0
        if let listing = try Posix.list(directory + "/tmp") {
            foreignTemporary += listing.undecodable
            for entry in listing.entries {
                let parsed = MessageFileName(entry.name)
                if parsed.isOurs, parsed.folderID == map.folderID {
                    doomed.append(directory + "/tmp/" + entry.name)
                } else {
                    foreignTemporary += 1
                }
            }
        }
        let quarantine = directory + "/" + Self.quarantineDirectoryName
        let quarantined = try Self.countFiles(under: quarantine)
        if unknown > 0 || foreignTemporary > 0 || quarantined > 0 {
            var reasons: [String] = []
            if unknown > 0 { reasons.append("\(unknown) message(s) syncd did not download (they may exist nowhere else)") }
            if foreignTemporary > 0 { reasons.append("\(foreignTemporary) file(s) another program is delivering in tmp/") }
            if quarantined > 0 { reasons.append("\(quarantined) quarantined file(s) in \(quarantine)") }
            throw MaildirError(
                .folderNotEmpty,
                "not deleting \(directory): it holds \(reasons.joined(separator: " and ")); move them away first")
        }
        for path in doomed { try Posix.unlinkIfPresent(path) }
        for sub in ["cur", "new"] where Posix.isDirectory(directory + "/" + sub) {
            try syncDirectory(directory + "/" + sub)
        }
        // Only now is the map's record of what was ours unneeded.
        try ListingStamp.remove(folder: directory)
        try Posix.unlinkIfPresent(directory + "/" + Self.mapFileName)
        try Posix.unlinkIfPresent(directory + "/" + Self.mapFileName + ".tmp")
        try Self.removeEmptyTree(quarantine)
        for sub in ["cur", "new", "tmp"] { try Posix.removeDirectoryIfPresent(directory + "/" + sub) }
        try Posix.unlinkIfPresent(directory + "/maildirfolder")
        if rmdir(directory) != 0, errno != ENOTEMPTY, errno != EEXIST, errno != ENOENT {
            throw MaildirError.io("rmdir", directory)
        }
        if Posix.isDirectory(directory) { try syncDirectory(directory) }
        try syncDirectory(parentDirectory(directory))
    }

    /// Renames a folder and, with it, every folder below it (Maildir++ keeps those in separate
    /// root-level directories, which are renamed one by one, children first; the nested layout moves
    /// them with their parent). Missing parents of the target are created in the nested layout.
    ///
    /// Not atomic across several directories: if interrupted, calling it again with the same
    /// arguments finishes the job.
    /// - Throws: ``MaildirError/Code/inboxNotAllowed`` to rename INBOX or to rename onto it (IMAP
    ///   gives that a special meaning the sync engine must handle); ``MaildirError/Code/folderExists``
    ///   if a target directory exists (checked for every directory before anything is renamed);
    ///   ``MaildirError/Code/folderMissing`` if there is nothing to rename;
    ///   ``MaildirError/Code/folderBusy`` while the folder or one below it is open;
    ///   ``MaildirError/Code/io``.
    public func renameFolder(_ old: FolderName, to new: FolderName) throws {
        guard !old.isInbox, !new.isInbox else {
            throw MaildirError(.inboxNotAllowed, "renaming INBOX, or onto INBOX, is not a plain rename")
        }
        guard !new.isDescendant(ofOrEqualTo: old) else {
            throw MaildirError(.invalidFolderName, "cannot rename \(old) to \(new), which is inside it")
        }
        var moves: [(from: String, to: String, name: FolderName)] = []
        switch layout {
        case .maildirPlusPlus:
            for entry in try Posix.list(root)?.entries ?? [] {
                guard entry.name.hasPrefix("."),
                    let name = FolderPathCodec.folderName(plusPlusDirectory: entry.name),
                    name.isDescendant(ofOrEqualTo: old)
                else { continue }
                let target = try FolderName(new.components + name.components.dropFirst(old.components.count))
                moves.append((root + "/" + entry.name, try directory(for: target), name))
            }
            // Deepest first, the folder itself last: an interrupted rename still has `old` to resume from.
            moves.sort { $0.name.components.count > $1.name.components.count }
        case .nested:
            let from = try directory(for: old)
            if Posix.isDirectory(from) { moves.append((from, try directory(for: new), old)) }
        }
        guard !moves.isEmpty else {
            throw MaildirError(.folderMissing, "no folder \(old) under \(root) to rename")
        }
        let busy = openFolders.withLock { open in
            open.contains { path in
                moves.contains { path == Array($0.from.utf8) || path.starts(with: Array(($0.from + "/").utf8)) }
            }
        }
        if busy { throw MaildirError(.folderBusy, "\(old) (or a folder below it) is open; close it before renaming") }
        for move in moves where (try Posix.status(move.to)) != nil {
            throw MaildirError(.folderExists, "cannot rename \(move.name): \(move.to) already exists")
        }
        if layout == .nested, let parent = new.parent {
            try createParents(of: try directory(for: parent))
        }
        for move in moves { try Posix.renameNoReplace(move.from, move.to) }
        var parents = Set(moves.map { parentDirectory($0.from) })
        parents.formUnion(moves.map { parentDirectory($0.to) })
        for parent in parents.sorted() { try syncDirectory(parent) }
    }

    private func createParents(of directory: String) throws {
        guard directory != root, !Posix.isDirectory(directory) else { return }
        try createParents(of: parentDirectory(directory))
        if try Posix.makeDirectory(directory, mode: options.directoryMode) {
            try syncDirectory(parentDirectory(directory))
        }
    }

    /// Opens a folder for syncing: reads its UID map and runs recovery (see
    /// ``MaildirFolder/lastRecovery``), which may rename, delete or quarantine files and rewrite the
    /// map before this returns.
    /// - Throws: ``MaildirError/Code/folderMissing`` if the folder is not a Maildir (call
    ///   ``createFolder(_:)`` first); ``MaildirError/Code/folderBusy`` if it is already open;
    ///   ``MaildirError/Code/corruptMap``; ``MaildirError/Code/io``.
    public func openFolder(_ name: FolderName) throws -> MaildirFolder {
        let directory = try directory(for: name)
        guard Self.isMaildir(directory) else {
            throw MaildirError(.folderMissing, "\(directory) is not a Maildir (no cur/new/tmp); create folder \(name) first")
        }
        try reserve(directory, name)
        do {
            return try MaildirFolder(store: self, name: name, path: directory)
        } catch {
            release(directory)
            throw error
        }
    }

    // MARK: Internals shared with MaildirFolder

    static func isMaildir(_ directory: String) -> Bool {
        Posix.isDirectory(directory + "/cur") && Posix.isDirectory(directory + "/new")
            && Posix.isDirectory(directory + "/tmp")
    }

    private func reserve(_ directory: String, _ name: FolderName) throws {
        let inserted = openFolders.withLock { $0.insert(Array(directory.utf8)).inserted }
        if !inserted { throw MaildirError(.folderBusy, "folder \(name) is already open") }
    }

    func release(_ directory: String) {
        _ = openFolders.withLock { $0.remove(Array(directory.utf8)) }
    }

    func nextUniqueName() -> String {
        names.make(counter: deliveryCounter.add(1, ordering: .relaxed).newValue)
    }

    /// fsyncs a file by path (a read-only descriptor is enough on Linux).
    func syncFile(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw MaildirError.io("open", path) }
        defer { close(fd) }
        try syncDescriptor(fd, path)
    }

    func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw MaildirError.io("open", path) }
        defer { close(fd) }
        try syncDescriptor(fd, path)
    }

    func syncDescriptor(_ fd: Int32, _ path: String) throws {
        fsyncCount.add(1, ordering: .relaxed)
        guard fsync(fd) == 0 else { throw MaildirError.io("fsync", path) }
    }

    func readMap(directory: String) throws -> UIDMap? {
        try UIDMap(file: directory + "/" + Self.mapFileName)
    }

    /// Replaces the folder's map atomically: temp file, fsync, rename, fsync of the directory.
    func writeMap(_ map: UIDMap, directory: String, hook: CrashHook?) throws {
        let path = directory + "/" + Self.mapFileName
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, options.fileMode)
        guard fd >= 0 else { throw MaildirError.io("open", temporary) }
        do {
            try map.encode { piece in try piece.withUnsafeBytes { try Posix.writeAll(fd, $0, path: temporary) } }
            try syncDescriptor(fd, temporary)
        } catch {
            close(fd)
            throw error
        }
        guard close(fd) == 0 else { throw MaildirError.io("close", temporary) }
        try hook?(.mapTemporaryWritten)
        guard rename(temporary, path) == 0 else { throw MaildirError.io("rename to \(path) from", temporary) }
        try hook?(.mapRenamed)
        try syncDirectory(directory)
    }

    /// The folder ids in the maps of every folder but the one at `directory` (unreadable maps are
    /// skipped: this only serves to recognise messages moved between folders).
    func folderIDsInUse(except directory: String) throws -> Set<UInt32> {
        var ids = Set<UInt32>()
        for folder in try listFolders() {
            let other = try self.directory(for: folder)
            guard !other.utf8.elementsEqual(directory.utf8), let map = try? readMap(directory: other), let id = map.folderID else { continue }
            ids.insert(id)
        }
        return ids
    }

    /// Regular files below `directory` (0 if it does not exist).
    static func countFiles(under directory: String) throws -> Int {
        guard let listing = try Posix.list(directory) else { return 0 }
        var count = listing.undecodable
        for entry in listing.entries {
            if Posix.isDirectory(entry, in: directory) {
                count += try countFiles(under: directory + "/" + entry.name)
            } else {
                count += 1
            }
        }
        return count
    }

    /// Removes a tree of empty directories (fails on any file, which callers have ruled out).
    static func removeEmptyTree(_ directory: String) throws {
        guard let listing = try Posix.list(directory) else { return }
        for entry in listing.entries { try removeEmptyTree(directory + "/" + entry.name) }
        try Posix.removeDirectoryIfPresent(directory)
    }
}
