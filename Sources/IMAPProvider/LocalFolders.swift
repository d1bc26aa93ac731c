import Maildir

/// The account's local folders, opened (and so recovered) with their local flag changes scanned,
/// ahead of the run: the provider prepares them while the server greets, negotiates TLS and logs
/// in, so on a remote server the Maildir's cost is hidden behind the network's.
///
/// `@unchecked Sendable` because it holds ``MaildirFolder`` handles, which are not `Sendable`: the
/// preparing task builds it and hands it over once through `Task.value`; from then on only the run
/// touches it. No two tasks ever use it at the same time.
final class LocalFolders: @unchecked Sendable {
    struct Prepared {
        var folder: MaildirFolder
        /// The local changes (flags, deletions, new messages), if asked to scan.
        var changes: LocalChanges
    }

    private var prepared: [FolderName: Result<Prepared, any Error>] = [:]

    /// Opens every local folder the account wants; a folder that fails to open is remembered with
    /// its error, to be reported when the run reaches it (the others go on).
    /// - Throws: ``MaildirError`` if the store's folders cannot be listed.
    init(store: MaildirStore, account: IMAPAccount, scanLocalChanges: Bool) throws {
        for name in try store.listFolders() where account.wants(name.description) {
            prepared[name] = Result {
                let folder = try store.openFolder(name)
                let changes = scanLocalChanges ? try folder.scanLocalChanges() : LocalChanges()
                return Prepared(folder: folder, changes: changes)
            }
        }
    }

    /// The folders found, whether or not they opened.
    var names: Set<FolderName> { Set(prepared.keys) }

    /// Hands `name`'s prepared folder to the caller (once); `nil` if it was not prepared.
    /// - Throws: the error that opening it met.
    func take(_ name: FolderName) throws -> Prepared? {
        guard let result = prepared.removeValue(forKey: name) else { return nil }
        return try result.get()
    }

    /// `name`'s prepared folder, left for ``take(_:)``: `nil` if not prepared or it failed to open.
    func peek(_ name: FolderName) -> Prepared? {
        guard case .success(let prepared)? = prepared[name] else { return nil }
        return prepared
    }

    /// Scans `name`'s local changes again, after the run itself changed what they were read
    /// against (moves adopted into it, whose files may carry flags changed on the way).
    func rescan(_ name: FolderName) {
        guard case .success(var folder)? = prepared[name] else { return }
        prepared[name] = Result {
            folder.changes = try folder.folder.scanLocalChanges()
            return folder
        }
    }

    /// Closes `name` if prepared (before deleting it, which needs it closed).
    func close(_ name: FolderName) {
        if case .success(let folder)? = prepared.removeValue(forKey: name) { folder.folder.close() }
    }

    /// Closes every folder not taken.
    func closeAll() {
        for case .success(let folder) in prepared.values { folder.folder.close() }
        prepared = [:]
    }

    deinit {
        closeAll()
    }
}
