import IMAPProtocol
import Maildir
import SyncProtocol

/// Folders created here become server folders (with `upload-hierarchy`).
extension IMAPSyncRun {
    /// Creates on the server every local folder it does not have and that was never synced (no
    /// UIDVALIDITY in its map: made here, by a mail client or the user), parents first, named with
    /// the server's hierarchy delimiter in modified UTF-7; each then syncs as any folder does, so
    /// its messages are uploaded. A local folder that was synced and is gone on the server was
    /// deleted there: the download of the hierarchy deals with it. A CREATE the server refuses is
    /// an Error naming the folder (result `partial`), the others go on.
    /// - Parameter scope: only these folders (a push run's), if given.
    /// - Returns: the folders created, to be synced by this run.
    func createServerFolders(_ remote: [RemoteFolder], scope: Set<String>? = nil) async throws -> [RemoteFolder] {
        guard flags.contains(.uploadHierarchy) else { return [] }
        let known = Set(remote.map(\.name))
        let candidates = localFolders.names.sorted().filter { name in
            !known.contains(name) && !name.isInbox && account.wants(name.description) && (scope.map { $0.contains(name.description) } ?? true)
        }
        guard !candidates.isEmpty else { return [] }
        // Synced before (or made here for the server's folder by a push run): not made here.
        let synced = try store.syncedFolders()
        var missing: [FolderName] = []
        for name in candidates where !synced.contains(name) {
            guard let prepared = localFolders.peek(name) else {
                // It failed to open: no run would reach it through the server's list, so say so here.
                do { _ = try localFolders.take(name) } catch {
                    failedFolders += 1
                    callback.error(.storage, "\(name): not created on the server: \(error)")
                }
                continue
            }
            // Never synced: created here.
            if prepared.folder.uidValidity == nil { missing.append(name) }
        }
        guard !missing.isEmpty else { return [] }
        let delimiter = try await session.hierarchyDelimiter()
        var created: [RemoteFolder] = []
        var made = known
        for name in missing {
            try checkCancelled()
            // Parents the server lacks are created by most servers with the child; ask for them
            // first all the same (a server may refuse a child of a folder it does not have).
            var chain: [FolderName] = []
            var parent = name.parent
            while let next = parent, !made.contains(next), !next.isInbox {
                chain.insert(next, at: 0)
                parent = next.parent
            }
            for ancestor in chain {
                let mailbox = MailboxName(ancestor.imapName(delimiter: delimiter))
                _ = try? await session.run(.create(mailbox))
                made.insert(ancestor)
            }
            let mailbox = MailboxName(name.imapName(delimiter: delimiter))
            do {
                try await session.run(.create(mailbox))
                made.insert(name)
                created.append(RemoteFolder(name: name, mailbox: mailbox, selectable: true))
            } catch IMAPCommandError.refused(_, let status) where status.code == .alreadyExists {
                // Made since the LIST (another client; Dovecot under load even answers so to a
                // CREATE that itself made it): the folder is there, which is all that was asked.
                made.insert(name)
                created.append(RemoteFolder(name: name, mailbox: mailbox, selectable: true))
            } catch IMAPCommandError.refused(_, let status) {
                failedFolders += 1
                callback.error(.failed, "\(name): created here, but the server refused to create \(mailbox): \(status.condition.rawValue) \(status.text)")
            }
        }
        return created
    }
}

// MARK: Folders removed here

extension IMAPSyncRun {
    /// Deletes on the server the folders the user removed here (synced by an earlier run, in
    /// ``MaildirStore/syncedFolders()``, and gone locally) — only when empty there: one that
    /// still holds messages is an Error naming it and the count, and is downloaded again (it
    /// stays in the returned list) rather than lost. Never INBOX.
    /// - Returns: `remote` without the folders deleted.
    func deleteServerFolders(_ remote: [RemoteFolder]) async throws -> [RemoteFolder] {
        guard flags.contains(.uploadHierarchy) else { return remote }
        let synced = try store.syncedFolders()
        guard !synced.isEmpty else { return remote }
        let here = localFolders.names
        var deleted = Set<FolderName>()
        // Children first: a parent is empty only once they are gone.
        for folder in remote.sorted(by: { $0.name.components.count > $1.name.components.count })
        where folder.selectable && synced.contains(folder.name) && !here.contains(folder.name) && !folder.name.isInbox {
            try checkCancelled()
            var messages: UInt32?
            try await session.run(.status(folder.mailbox, [.messages])) { event in
                if case .status(_, let status) = event { messages = status.messages }
            }
            guard let count = messages, count == 0 else {
                failedFolders += 1
                callback.error(.failed, "\(folder.name): removed here, but it holds \(messages.map(String.init) ?? "some") messages on the server: not deleted there, downloaded again")
                continue
            }
            do {
                try await session.run(.delete(folder.mailbox))
                deleted.insert(folder.name)
            } catch IMAPCommandError.refused(_, let status) {
                failedFolders += 1
                callback.error(.failed, "\(folder.name): removed here, but the server refused to delete it: \(status.condition.rawValue) \(status.text)")
            }
        }
        return remote.filter { !deleted.contains($0.name) }
    }
}
