#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The folders a store last synced, kept in `.syncd-folders` at the store's root: how a folder
/// the user removed here is told from one new on the server (both have a server folder and no
/// local directory). One line per folder, its components %-escaped and joined by spaces; replaced
/// atomically. No file (a store synced before it existed): nothing counts as removed here.
extension MaildirStore {
    static let syncedFoldersFileName = ".syncd-folders"

    /// The folders recorded by ``recordSyncedFolders(_:)``; empty if none were.
    /// - Throws: ``MaildirError/Code/io``.
    public func syncedFolders() throws -> Set<FolderName> {
        guard let bytes = try Posix.readFile(root + "/" + Self.syncedFoldersFileName) else { return [] }
        var names = Set<FolderName>()
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let components = line.split(separator: " ").compactMap { PendingUpload.unescape(String($0)) }
            if let name = try? FolderName(components) { names.insert(name) }
        }
        return names
    }

    /// Records `names` as the folders synced (atomically: temp file, fsync, rename, fsync of the
    /// root); does nothing if they are recorded already.
    /// - Throws: ``MaildirError/Code/io``.
    public func recordSyncedFolders(_ names: Set<FolderName>) throws {
        guard try syncedFolders() != names || Posix.status(root + "/" + Self.syncedFoldersFileName) == nil else { return }
        let text = names.sorted().map { $0.components.map(PendingUpload.escape).joined(separator: " ") + "\n" }.joined()
        let path = root + "/" + Self.syncedFoldersFileName
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, options.fileMode)
        guard fd >= 0 else { throw MaildirError.io("open", temporary) }
        do {
            try Array(text.utf8).withUnsafeBytes { try Posix.writeAll(fd, $0, path: temporary) }
            try syncDescriptor(fd, temporary)
        } catch {
            close(fd)
            throw error
        }
        guard close(fd) == 0 else { throw MaildirError.io("close", temporary) }
        guard rename(temporary, path) == 0 else { throw MaildirError.io("rename to \(path) from", temporary) }
        try syncDirectory(root)
    }
}
