import IMAPProtocol
import Maildir
import NIOCore
import SyncDaemon
import SyncProtocol

/// One run of an IMAP store: folders, then each folder's flags, expunges and new messages.
///
/// Durable by construction: a message counts as done (and is reported in Progress) only after the
/// batch that holds it is committed (files fsynced and renamed, UID map committed). A run that
/// stops anywhere leaves the Maildir and map consistent, so the next run picks up exactly where
/// the last commit left off.
final class IMAPSyncRun {
    let account: IMAPAccount
    let session: IMAPSession
    let store: MaildirStore
    let callback: SyncCallback
    let flags: SyncFlags

    /// Messages already present or downloaded, against all messages on the server (Progress).
    private var done = 0
    private var total = 0
    private var failedFolders = 0

    init(account: IMAPAccount, session: IMAPSession, store: MaildirStore, callback: SyncCallback, flags: SyncFlags) {
        self.account = account
        self.session = session
        self.store = store
        self.callback = callback
        self.flags = flags
    }

    struct RemoteFolder {
        var name: FolderName
        var mailbox: MailboxName
        var selectable: Bool
        var messages = 0
    }

    /// Runs the sync; returns `ok`, or `partial` when some folders failed (each reported as Error).
    /// - Throws: connection and protocol errors that end the whole run; ``CancellationError``.
    func run() async throws -> SyncStatus {
        if flags.contains(.headersOnly) {
            // The UID map has no notion of a partial message yet, so a later full run could not
            // tell which bodies to fetch: fetch whole messages rather than lose bodies for good.
            callback.error(.warning, "headers-only runs are not supported yet; fetching whole messages")
        }
        var folders = try await listFolders()
        if flags.contains(.downloadHierarchy) { try mirrorHierarchy(folders) }
        folders = folders.filter(\.selectable)
        try await countMessages(&folders)
        total = folders.reduce(0) { $0 + $1.messages }
        for folder in folders {
            try checkCancelled()
            guard (try? store.listFolders().contains(folder.name)) == true || flags.contains(.downloadHierarchy) else {
                continue  // not synced locally and hierarchy download not asked for
            }
            do {
                try await sync(folder)
            } catch let error as IMAPCommandError {
                guard case .refused = error else { throw error }
                failedFolders += 1
                callback.error(.failed, "\(folder.name): \(error)")
            } catch let error as MaildirError {
                failedFolders += 1
                callback.error(.storage, "\(folder.name): \(error)")
            }
        }
        return failedFolders > 0 ? .partial : .ok
    }

    private func checkCancelled() throws {
        if callback.isCancelled || Task.isCancelled { throw CancellationError() }
    }

    // MARK: Hierarchy

    private func listFolders() async throws -> [RemoteFolder] {
        var folders: [RemoteFolder] = []
        try await session.run(.list()) { event in
            guard case .list(let entry) = event else { return }
            guard let decoded = try? entry.name.decoded(),
                  let name = try? FolderName(imapName: decoded, delimiter: entry.delimiter),
                  account.wants(name.description)
            else { return }
            let selectable = !entry.attributes.contains(.noSelect) && !entry.attributes.contains(.nonExistent)
            folders.append(RemoteFolder(name: name, mailbox: entry.name, selectable: selectable))
        }
        return folders.sorted { $0.name < $1.name }
    }

    /// Creates local folders for the server's, and deletes local ones the server no longer has
    /// (only mail syncd downloaded: the Maildir store refuses to delete anything else).
    private func mirrorHierarchy(_ remote: [RemoteFolder]) throws {
        let wanted = Set(remote.filter(\.selectable).map(\.name))
        for name in wanted.sorted() { try store.createFolder(name) }
        for local in try store.listFolders() where !wanted.contains(local) && !local.isInbox && account.wants(local.description) {
            do {
                try store.deleteFolder(local)
            } catch let error as MaildirError {
                callback.error(.warning, "\(local): removed on the server, kept here: \(error)")
            }
        }
    }

    private func countMessages(_ folders: inout [RemoteFolder]) async throws {
        for index in folders.indices {
            try await session.run(.status(folders[index].mailbox, [.messages])) { event in
                if case .status(_, let status) = event { folders[index].messages = Int(status.messages ?? 0) }
            }
        }
    }

    // MARK: One folder

    private struct Selected {
        var uidValidity: UInt32?
        var highestModSeq: UInt64?
        var uidNext: UInt32?
        var exists: UInt32 = 0
    }

    private func sync(_ folder: RemoteFolder) async throws {
        try store.createFolder(folder.name)
        let local = try store.openFolder(folder.name)
        defer { local.close() }
        let condstore = session.capabilities.contains(.condstore)
        var selected = Selected()
        try await session.run(.select(folder.mailbox, condstore ? .condstore : nil)) { event in
            switch event {
            case .untagged(let status):
                switch status.code {
                case .uidValidity(let value)?: selected.uidValidity = value
                case .highestModSeq(let value)?: selected.highestModSeq = value
                case .uidNext(let value)?: selected.uidNext = value
                default: break
                }
            case .exists(let count):
                selected.exists = count
            default:
                break
            }
        }
        guard let uidValidity = selected.uidValidity else {
            throw IMAPCommandError.protocolViolation("\(folder.name): SELECT gave no UIDVALIDITY")
        }
        if local.uidValidity != uidValidity {
            let report = try local.resetFolder(newUIDValidity: uidValidity)
            if let quarantine = report.quarantine {
                callback.error(.warning, "\(folder.name): the server renumbered the folder (UIDVALIDITY changed); \(report.movedMessages) old copies moved to \(quarantine), downloading again")
            }
        }
        if flags.contains(.uploadContents) { try await uploadFlags(local) }
        if flags.contains(.downloadContents) {
            try await applyServerChanges(folder, local, selected)
            try await downloadNew(folder, local, selected)
        }
    }

    /// Pushes flags the user changed locally (read, flagged, replied, trashed) to the server.
    private func uploadFlags(_ local: MaildirFolder) async throws {
        let changes = try local.scanLocalChanges().flagChanges
        guard !changes.isEmpty else { return }
        var groups: [MessageFlags: [MessageFlags: [UInt32]]] = [:]  // added -> removed -> uids
        for change in changes {
            let added = change.local.subtracting(change.synced)
            let removed = change.synced.subtracting(change.local)
            groups[added, default: [:]][removed, default: []].append(change.uid)
        }
        for (added, byRemoved) in groups {
            for (removed, uids) in byRemoved {
                let set = UIDSet(uids)
                if !added.imapFlags.isEmpty { try await session.run(.uidStore(set, .add, added.imapFlags)) }
                if !removed.imapFlags.isEmpty { try await session.run(.uidStore(set, .remove, removed.imapFlags)) }
            }
        }
        try local.recordSyncedFlags(Dictionary(uniqueKeysWithValues: changes.map { ($0.uid, $0.local) }))
    }

    /// Applies the server's flag changes and expunges to messages already here.
    private func applyServerChanges(_ folder: RemoteFolder, _ local: MaildirFolder, _ selected: Selected) async throws {
        let highest = local.highestUID
        guard highest > 0 else { return }
        let known = UIDSet(1...highest)
        // Flags: only what changed since the last run when the server keeps mod-sequences.
        var since: UInt64?
        if let modSeq = local.highestModSeq, selected.highestModSeq != nil { since = modSeq }
        if since == nil || since != selected.highestModSeq {
            var serverFlags: [UInt32: MessageFlags] = [:]
            var current: (uid: UInt32?, flags: MessageFlags?) = (nil, nil)
            try await session.run(.uidFetch(known, [.uid, .flags], changedSince: since)) { event in
                switch event {
                case .fetchStart: current = (nil, nil)
                case .fetchAttribute(.uid(let uid)): current.uid = uid
                case .fetchAttribute(.flags(let flags)): current.flags = MessageFlags(imap: flags)
                case .fetchEnd:
                    if let uid = current.uid, let flags = current.flags, uid <= highest { serverFlags[uid] = flags }
                default: break
                }
            }
            let changed = serverFlags.filter { uid, flags in local.map.entries[uid].map { $0.flags != flags } ?? false }
            if !changed.isEmpty || selected.highestModSeq != nil {
                try local.setFlags(changed, highestModSeq: selected.highestModSeq)
            }
        }
        // Expunges: whatever we have that the server no longer does. When no UID above ours was
        // ever assigned and the server holds as many messages as we do, its UIDs are exactly ours
        // (it cannot hold one we never saw), so the search is skipped.
        if let uidNext = selected.uidNext, uidNext - 1 <= highest, Int(selected.exists) == local.map.entries.count {
            done += local.map.entries.count
            report(folder, inFolder: local.map.entries.count)
            return
        }
        var present = UIDSet()
        try await session.run(.uidSearch([.uid(known)])) { event in
            if case .search(let uids, _) = event { present.formUnion(UIDSet(uids)) }
        }
        let gone = local.map.entries.keys.filter { !present.contains($0) }
        if !gone.isEmpty { try local.expunge(gone) }
        done += local.map.entries.count
        report(folder, inFolder: local.map.entries.count)
    }

    /// Downloads messages newer than the last one committed, in pipelined batches; each batch is
    /// committed (durable) before its messages count as done.
    private func downloadNew(_ folder: RemoteFolder, _ local: MaildirFolder, _ selected: Selected) async throws {
        let after = local.highestUID
        if let uidNext = selected.uidNext, uidNext - 1 <= after {
            return  // no UID above ours was ever assigned: nothing new
        }
        var newUIDs: [UInt32] = []
        try await session.run(.uidSearch([.uid(.from(after + 1))])) { event in
            // `UID n:*` always matches the highest UID even when it is below n: filter.
            if case .search(let uids, _) = event { newUIDs += uids.filter { $0 > after } }
        }
        guard !newUIDs.isEmpty else {
            report(folder, inFolder: local.map.entries.count)
            return
        }
        newUIDs.sort()
        let items: [FetchItem] = [.uid, .flags, .body(.complete, peek: true)]
        let batches = stride(from: 0, to: newUIDs.count, by: account.fetchBatch).map {
            Array(newUIDs[$0..<min($0 + account.fetchBatch, newUIDs.count)])
        }
        // Keep two FETCH commands in flight, so the server never waits for our disk.
        var tags: [String] = []
        var nextToSend = 0
        func sendNext() async throws {
            guard nextToSend < batches.count else { return }
            tags.append(try await session.send(.uidFetch(UIDSet(batches[nextToSend]), items)))
            nextToSend += 1
        }
        try await sendNext()
        try await sendNext()
        var inFolder = local.map.entries.count
        for index in batches.indices {
            let batch = try local.beginBatch()
            var receiver = FetchReceiver(batch: batch, callback: callback)
            do {
                _ = try await session.complete(tags[index], name: "UID FETCH") { event in try receiver.handle(event) }
            } catch {
                batch.abort()
                throw error
            }
            try await sendNext()
            // The last batch of a folder that came down whole also records the mod-sequence:
            // its flags arrived with the messages, so the next run asks only for later changes.
            let last = index == batches.count - 1 && after == 0
            let committed = try batch.commit(
                highestUID: batches[index].last, highestModSeq: last ? selected.highestModSeq : nil)
            done += committed.count
            inFolder += committed.count
            report(folder, inFolder: inFolder)
            if receiver.missing(from: batches[index]) > 0 {
                callback.error(.warning, "\(folder.name): \(receiver.missing(from: batches[index])) messages vanished on the server while being fetched")
            }
            try checkCancelled()
        }
    }

    private func report(_ folder: RemoteFolder, inFolder: Int) {
        let max = Swift.max(total, done)
        if callback.progress(step: "\(folder.name) \(inFolder)/\(Swift.max(folder.messages, inFolder))", index: UInt32(clamping: done), max: UInt32(clamping: max)) == .cancel {
            // Noted by checkCancelled at the next safe point.
        }
    }
}

/// Streams the messages of one `UID FETCH` into a delivery batch.
struct FetchReceiver {
    let batch: DeliveryBatch
    let callback: SyncCallback
    private var uid: UInt32?
    private var flags: MessageFlags = []
    private var writer: MessageWriter?
    private(set) var received: Set<UInt32> = []

    init(batch: DeliveryBatch, callback: SyncCallback) {
        self.batch = batch
        self.callback = callback
    }

    mutating func handle(_ event: ResponseEvent) throws {
        switch event {
        case .fetchStart:
            uid = nil
            flags = []
            writer = nil
        case .fetchAttribute(.uid(let value)):
            uid = value
        case .fetchAttribute(.flags(let value)):
            flags = MessageFlags(imap: value)
        case .bodyStart(_, _, let size):
            guard let uid else {
                throw IMAPCommandError.protocolViolation("the server sent a message body before its UID")
            }
            writer = try batch.open(uid: uid, flags: flags, sizeHint: size)
        case .bodyChunk(let chunk):
            if callback.isCancelled || Task.isCancelled { throw CancellationError() }
            try chunk.withUnsafeReadableBytes { try writer?.write($0) }
        case .bodyEnd:
            try writer?.finish()
            if let uid { received.insert(uid) }
            writer = nil
        default:
            break
        }
    }

    func missing(from uids: [UInt32]) -> Int {
        uids.filter { !received.contains($0) }.count
    }
}

extension MessageFlags {
    /// The Maildir flags an IMAP flag list maps to (others, such as keywords, are not kept).
    init(imap flags: [Flag]) {
        self = []
        for flag in flags {
            switch flag {
            case .seen: insert(.seen)
            case .answered: insert(.replied)
            case .flagged: insert(.flagged)
            case .deleted: insert(.trashed)
            case .draft: insert(.draft)
            case .forwarded: insert(.passed)
            default: break
            }
        }
    }

    var imapFlags: [Flag] {
        var flags: [Flag] = []
        if contains(.seen) { flags.append(.seen) }
        if contains(.replied) { flags.append(.answered) }
        if contains(.flagged) { flags.append(.flagged) }
        if contains(.trashed) { flags.append(.deleted) }
        if contains(.draft) { flags.append(.draft) }
        if contains(.passed) { flags.append(.forwarded) }
        return flags
    }
}
