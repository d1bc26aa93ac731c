import IMAPProtocol
import Maildir
import NIOCore
import SyncDaemon
import SyncProtocol

/// One run of an IMAP store: the folder list, every folder's STATUS in one pipelined round trip,
/// then each folder that STATUS or a local change shows is not as the last run left it: flags up
/// (local changes), local deletions up (behind the mass-delete safety valve), flags and expunges
/// down (from the QRESYNC SELECT, a CHANGEDSINCE fetch, or a plain fetch and search), new local
/// messages up (APPEND, see `IMAPSyncRun+Upload.swift`), new messages down (whole or headers
/// only), then bodies owed to earlier headers-only runs.
///
/// Durable by construction: a message counts as done (and is reported in Progress) only after the
/// batch that holds it is committed (files fsynced and renamed, UID map committed). A run that
/// stops anywhere leaves the Maildir and map consistent, so the next run picks up exactly where
/// the last commit left off.
final class IMAPSyncRun {
    let account: IMAPAccount
    let session: IMAPSession
    let store: MaildirStore
    /// The local folders, opened ahead of the run.
    let localFolders: LocalFolders
    let callback: SyncCallback
    let flags: SyncFlags
    /// Download new messages' headers only (their bodies come with a later run that is not).
    let headersOnly: Bool

    /// Hook for crash tests (``UploadStep``); never set in production.
    let crashHook: UploadCrashHook?

    /// Messages already present or downloaded, against all messages on the server (Progress).
    var done = 0
    var total = 0
    /// Local messages uploaded (or found on the server and adopted) by this run.
    var uploaded = 0
    var failedFolders = 0
    /// Messages deleted here that this run deleted (or flagged) on the server.
    var deleted = 0
    /// Messages moved here from each folder whose move is still open (see `IMAPSyncRun+Moves.swift`):
    /// not deletions there.
    var movingAway: [FolderName: Set<UInt32>] = [:]
    /// Messages moved between folders on the server by this run.
    var moved = 0
    /// Flag changes made here (from the server) or there (from here), and expunges from the server.
    var flagsChanged = 0
    var expunged = 0
    /// A push run's folders; nil for a whole run (see ``SyncScope``).
    var scope: SyncScope?
    /// New messages per folder whose summary this run reported (NewMessages carries a few).
    var summarized: [FolderName: Int] = [:]
    /// The server's folders that `push` names, once this run has listed (and created) folders.
    var pushedFolders: Set<String>?
    /// Folders this run wrote to, and when it last did, in that order.
    private var changedFolders: [(name: FolderName, at: ContinuousClock.Instant)] = []

    init(
        account: IMAPAccount, session: IMAPSession, store: MaildirStore, localFolders: LocalFolders,
        callback: SyncCallback, flags: SyncFlags, headersOnly: Bool, crashHook: UploadCrashHook? = nil
    ) {
        self.crashHook = crashHook
        self.account = account
        self.session = session
        self.store = store
        self.localFolders = localFolders
        self.callback = callback
        self.flags = flags
        self.headersOnly = headersOnly
    }

    struct RemoteFolder {
        var name: FolderName
        var mailbox: MailboxName
        var selectable: Bool
        /// From STATUS before any folder is opened; `nil` if the server refused it.
        var status: MailboxStatus?
        var messages: Int { Int(status?.messages ?? 0) }
    }

    /// Runs the sync; returns `ok`, or `partial` when some folders failed (each reported as Error).
    /// - Throws: connection and protocol errors that end the whole run; ``CancellationError``.
    func run() async throws -> SyncStatus {
        defer {
            callback.changed(uploaded: uploaded, flagsChanged: flagsChanged, deleted: deleted + expunged, moved: moved)
        }
        if let scope { return try await run(scope) }
        var folders = try await listFolders()
        // Before the mirror, which would remove a folder made here as gone on the server.
        folders = (folders + (try await createServerFolders(folders))).sorted { $0.name < $1.name }
        folders = try await deleteServerFolders(folders)
        notePushedFolders(folders)
        if flags.contains(.downloadHierarchy) { try mirrorHierarchy(folders) }
        folders = folders.filter(\.selectable)
        try await readStatus(&folders)
        total = folders.reduce(0) { $0 + $1.messages }
        let local = localFolders.names  // the folders here when the run began (read once, by LocalFolders)
        // Before any folder's deletions: a message moved here is moved there, never deleted.
        if flags.contains(.uploadContents) { try await uploadMoves(folders) }
        for folder in folders {
            try checkCancelled()
            // Not synced here, and hierarchy download not asked for.
            guard local.contains(folder.name) || flags.contains(.downloadHierarchy) else { continue }
            try await syncReporting(folder)
        }
        relistChangedFolders()
        // What a later run tells a folder removed here by (IMAPSyncRun+Folders.swift).
        if flags.contains(.uploadHierarchy) || flags.contains(.downloadHierarchy) {
            let listed = Set(folders.map(\.name))
            try? store.recordSyncedFolders(Set(try store.listFolders()).filter { listed.contains($0) })
        }
        return failedFolders > 0 ? .partial : .ok
    }

    /// A push run: only the folders a listener saw change, and no hierarchy work (the interval's
    /// whole runs do that) but creating one of them made here (the Sent folder a send filed into,
    /// on a server that has none yet) or made there (a folder the listener watches since it was
    /// created on the server). A folder gone on the server meanwhile is left to them too.
    private func run(_ scope: SyncScope) async throws -> SyncStatus {
        var folders = try await listFolders()
        folders += try await createServerFolders(folders, scope: scope.folders)
        notePushedFolders(folders)
        folders = folders.filter { $0.selectable && scope.folders.contains($0.name.description) }
        try await readStatus(&folders)
        total = folders.reduce(0) { $0 + $1.messages }
        var local = localFolders.names
        let madeHere = try createLocalFolders(folders.filter { !local.contains($0.name) })
        local.formUnion(madeHere)
        if flags.contains(.uploadContents) { try await uploadMoves(folders) }
        for folder in folders where local.contains(folder.name) {
            try checkCancelled()
            try await syncReporting(folder)
        }
        relistChangedFolders()
        return failedFolders > 0 ? .partial : .ok
    }

    /// Syncs one folder; a refusal or a Maildir failure there is that folder's Error (the run goes
    /// on, its result `partial`), anything else ends the run.
    private func syncReporting(_ folder: RemoteFolder) async throws {
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

    /// Lists each folder this run changed once more, if it has been left alone long enough for the
    /// listing to count (``MaildirStore/listingQuietPeriod``; one changed too recently is left for
    /// the next run): while its directories are warm, so that the next run, minutes later, can open
    /// it without reading them. Only a cost saved later, so failures are ignored.
    private func relistChangedFolders() {
        for (name, changed) in changedFolders where !callback.isCancelled {
            guard changed.duration(to: .now) > MaildirStore.listingQuietPeriod + .milliseconds(5),
                  let folder = try? store.openFolder(name)
            else { continue }
            _ = try? folder.scanLocalChanges()
            folder.close()
        }
    }

    func checkCancelled() throws {
        if callback.isCancelled || Task.isCancelled { throw CancellationError() }
    }

    // MARK: Hierarchy

    private func notePushedFolders(_ folders: [RemoteFolder]) {
        pushedFolders = Set(folders.filter { $0.selectable && account.pushes($0.name) }.map(\.name.description))
    }

    private func listFolders() async throws -> [RemoteFolder] {
        var folders: [RemoteFolder] = []
        try await session.run(.list()) { event in
            guard case .list(let entry) = event, let name = account.syncedFolder(entry) else { return }
            folders.append(RemoteFolder(name: name, mailbox: entry.name, selectable: entry.isSelectable))
        }
        return folders.sorted { $0.name < $1.name }
    }

    /// A push run's folders the server has and this Maildir has not: made here when they are new
    /// on the server (a folder the listener began to watch after it was created there), not when
    /// they were synced before and so were removed here, which the next whole run deals with.
    private func createLocalFolders(_ missing: [RemoteFolder]) throws -> Set<FolderName> {
        guard flags.contains(.downloadHierarchy), !missing.isEmpty else { return [] }
        let synced = try store.syncedFolders()
        var made: Set<FolderName> = []
        for folder in missing where !synced.contains(folder.name) {
            try store.createFolder(folder.name)
            made.insert(folder.name)
        }
        // Recorded before their first sync: one that fails (the folder gone there meanwhile, a
        // lost connection, kill -9) is the server's folder, never taken for one made here.
        if !made.isEmpty { try store.recordSyncedFolders(synced.union(made)) }
        return made
    }

    /// Creates local folders for the server's, and deletes local ones the server no longer has
    /// (only mail syncd downloaded: the Maildir store refuses to delete anything else).
    private func mirrorHierarchy(_ remote: [RemoteFolder]) throws {
        let wanted = Set(remote.filter(\.selectable).map(\.name))
        for name in wanted.sorted() { try store.createFolder(name) }
        for local in try store.listFolders() where !wanted.contains(local) && !local.isInbox && account.wants(local.description) {
            do {
                localFolders.close(local)
                try store.deleteFolder(local)
            } catch let error as MaildirError {
                callback.error(.warning, "\(local): removed on the server, kept here: \(error)")
            }
        }
    }

    /// Every folder's STATUS, pipelined (one round trip for all): the totals for Progress, and what
    /// lets an unchanged folder be skipped without selecting it.
    private func readStatus(_ folders: inout [RemoteFolder]) async throws {
        var attributes: [MailboxStatus.Attribute] = [.messages, .uidNext, .uidValidity]
        if session.capabilities.contains(.condstore) { attributes.append(.highestModSeq) }
        var tags: [String] = []
        for folder in folders { tags.append(try await session.send(.status(folder.mailbox, attributes))) }
        let indexByMailbox = Dictionary(folders.indices.map { (folders[$0].mailbox, $0) }) { first, _ in first }
        for tag in tags {
            do {
                try await session.complete(tag, name: "STATUS") { event in
                    // Answers to later commands may arrive here too: match by name, not by order.
                    if case .status(let mailbox, let status) = event, let index = indexByMailbox[mailbox] {
                        folders[index].status = status
                    }
                }
            } catch IMAPCommandError.refused {
                // Gone since LIST, or not readable: its SELECT fails and reports why.
            }
        }
    }

    // MARK: One folder

    /// What the server said about the selected folder: SELECT's response codes, and flags and
    /// expunges from SELECT (QRESYNC), FETCH and STORE as they come.
    private struct ServerView {
        var uidValidity: UInt32?
        var highestModSeq: UInt64?
        var uidNext: UInt32?
        var exists: UInt32 = 0
        /// Whether SELECT resynchronised with QRESYNC: `flags` and `vanished` then hold every change
        /// since the map's mod-sequence.
        var qresync = false
        var flags: [UInt32: MessageFlags] = [:]
        var vanished = UIDSet()
        private var fetching: (uid: UInt32?, flags: MessageFlags?) = (nil, nil)

        mutating func handle(_ event: ResponseEvent) {
            switch event {
            case .untagged(let status):
                switch status.code {
                case .uidValidity(let value)?: uidValidity = value
                case .highestModSeq(let value)?: highestModSeq = value
                case .uidNext(let value)?: uidNext = value
                default: break
                }
            case .exists(let count): exists = count
            case .vanished(let uids, _): vanished.formUnion(uids)
            case .fetchStart: fetching = (nil, nil)
            case .fetchAttribute(.uid(let uid)): fetching.uid = uid
            case .fetchAttribute(.flags(let value)): fetching.flags = MessageFlags(imap: value)
            case .fetchEnd:
                if let uid = fetching.uid, let value = fetching.flags { flags[uid] = value }
            default: break
            }
        }
    }

    private func sync(_ folder: RemoteFolder) async throws {
        let local: MaildirFolder
        var localChanges: LocalChanges
        if let prepared = try localFolders.take(folder.name) {
            (local, localChanges) = (prepared.folder, prepared.changes)
        } else {
            try store.createFolder(folder.name)
            local = try store.openFolder(folder.name)
            localChanges = flags.contains(.uploadContents) ? try local.scanLocalChanges() : LocalChanges()
        }
        defer {
            if local.changedSinceOpen { changedFolders.append((folder.name, .now)) }
            local.close()
        }
        let upload = flags.contains(.uploadContents)
        let download = flags.contains(.downloadContents)
        let bodiesWanted = download && !headersOnly && local.map.entries.values.contains { $0.isHeadersOnly }
        // New local messages to append, or uploads an earlier run left open (resolved whatever the
        // flags, so that a download never fetches back what was appended).
        var uploads = (upload && !local.newLocalMessages(localChanges).isEmpty) || !local.pendingUploads.isEmpty
        // Messages deleted here (the map knows every message it delivered: a mapped UID without
        // its file is a deletion, never a message not yet seen).
        var deletions = upload ? pendingDeletions(local, localChanges.vanished) : []
        if localChanges.flagChanges.isEmpty, !uploads, deletions.isEmpty, !bodiesWanted,
            !download || isUnchanged(folder, since: local)
        {
            done += local.map.count
            report(folder, inFolder: local.map.count)
            return
        }
        var view = ServerView()
        let parameter: Command.SelectParameter? = if session.capabilities.contains(.qresync), local.map.count > 0,
            let uidValidity = local.uidValidity, let modSeq = local.highestModSeq
        {
            .qresync(uidValidity: uidValidity, modSeq: modSeq, knownUIDs: UIDSet(1...knownUpTo(local)))
        } else if session.capabilities.contains(.condstore) {
            .condstore
        } else {
            nil
        }
        try await session.run(.select(folder.mailbox, parameter)) { view.handle($0) }
        guard let uidValidity = view.uidValidity else {
            throw IMAPCommandError.protocolViolation("\(folder.name): SELECT gave no UIDVALIDITY")
        }
        if case .qresync? = parameter, uidValidity == local.uidValidity { view.qresync = true }
        if local.uidValidity != uidValidity {
            let report = try local.resetFolder(newUIDValidity: uidValidity)
            if let quarantine = report.quarantine {
                callback.error(.warning, "\(folder.name): the server renumbered the folder (UIDVALIDITY changed); \(report.movedMessages) old copies moved to \(quarantine), downloading again")
            }
            // They were about the old UIDs, now quarantined; the user's own files stay.
            localChanges.flagChanges = []
            localChanges.vanished = []
            deletions = []
        }
        if !localChanges.flagChanges.isEmpty { try await uploadFlags(localChanges.flagChanges, local, &view) }
        let serverCount = Int(view.exists)
        let restored = try await uploadDeletions(folder, local, deletions, serverCount: serverCount) { view.handle($0) }
        if download { try await restore(restored, folder, local) }
        if download {
            // A change here wins over a delete there, but `\Deleted` set here agrees with the delete
            // (a server that expunges at once, as Gmail does, answers our own STORE so), and a
            // message only read here is no reason for a second copy (the delete may be another
            // client's move to another folder).
            let changedHere = Set(localChanges.flagChanges.filter { change in
                let ignored: MessageFlags = [.trashed, .seen]
                return !change.local.contains(.trashed) && change.local.subtracting(ignored) != change.synced.subtracting(ignored)
            }.map(\.uid))
            let kept = try await applyServerChanges(folder, local, &view, changedHere: changedHere)
            // Messages kept against the server's delete are the user's now: uploaded by this run.
            if kept > 0, upload {
                localChanges = try local.scanLocalChanges()
                uploads = true
            }
        }
        // Before any download: what was appended must be in the map, or it would come back.
        if uploads { try await uploadMessages(folder, local, localChanges, uploadNew: upload) { view.handle($0) } }
        if download {
            try await downloadNew(folder, local, view)
            // Every flag change up to SELECT's HIGHESTMODSEQ is applied: the next run asks only for
            // later ones. Usually recorded already, with the flags or the last new messages.
            if let modSeq = view.highestModSeq, local.highestModSeq != modSeq {
                try local.recordSyncedFlags([:], highestModSeq: modSeq)
            }
            if bodiesWanted { try await downloadBodies(folder, local) }
        }
    }

    /// The highest UID the map knows: the highest downloaded, or an upload adopted above it (its
    /// UID is not taken as "everything below downloaded").
    func knownUpTo(_ local: MaildirFolder) -> UInt32 {
        max(local.highestUID, local.map.entries.keys.max() ?? 0)
    }

    /// Whether STATUS shows the folder exactly as the last run left it: same UIDVALIDITY, no UID
    /// assigned above ours, as many messages as we hold (so no expunge either: the server cannot
    /// hold a UID we never saw), and — the only proof that no flag changed — the same HIGHESTMODSEQ.
    private func isUnchanged(_ folder: RemoteFolder, since local: MaildirFolder) -> Bool {
        guard let status = folder.status, let modSeq = status.highestModSeq else { return false }
        return status.uidValidity == local.uidValidity
            && holdsExactlyOurs(uidNext: status.uidNext, messages: status.messages, local)
            && modSeq == local.highestModSeq
    }

    /// Whether the server holds exactly the UIDs we do: no UID above our highest was ever assigned,
    /// and it holds as many messages as we do — it cannot hold one we never saw, so none of ours
    /// is gone either.
    private func holdsExactlyOurs(uidNext: UInt32?, messages: UInt32?, _ local: MaildirFolder) -> Bool {
        nothingAbove(local.highestUID, uidNext: uidNext) && messages.map { Int($0) == local.map.count } == true
    }

    /// Whether UIDNEXT shows that no UID above `highest` was ever assigned (`nil`, or a bogus 0 from
    /// a broken server: unknown).
    private func nothingAbove(_ highest: UInt32, uidNext: UInt32?) -> Bool {
        guard let uidNext, uidNext > 0 else { return false }
        return uidNext - 1 <= highest
    }

    /// Pushes flags the user changed locally (read, flagged, replied, trashed) to the server, and
    /// brings `view` up to date with what the server now holds.
    private func uploadFlags(_ changes: [LocalChanges.FlagChange], _ local: MaildirFolder, _ view: inout ServerView) async throws {
        var groups: [MessageFlags: [MessageFlags: [UInt32]]] = [:]  // added -> removed -> uids
        for change in changes {
            let added = change.local.subtracting(change.synced)
            let removed = change.synced.subtracting(change.local)
            groups[added, default: [:]][removed, default: []].append(change.uid)
        }
        for (added, byRemoved) in groups {
            for (removed, uids) in byRemoved {
                let set = UIDSet(uids)
                if !added.imapFlags.isEmpty { try await session.run(.uidStore(set, .add, added.imapFlags)) { view.handle($0) } }
                if !removed.imapFlags.isEmpty { try await session.run(.uidStore(set, .remove, removed.imapFlags)) { view.handle($0) } }
            }
        }
        // A message the server changed too (reported by SELECT with QRESYNC) now has both changes:
        // the STOREs added and removed only the user's. Dovecot's answer to a STORE may leave FLAGS
        // out, so apply the same difference here rather than rely on it.
        for change in changes {
            guard let server = view.flags[change.uid] else { continue }
            view.flags[change.uid] = server.union(change.local.subtracting(change.synced))
                .subtracting(change.synced.subtracting(change.local))
        }
        try local.recordSyncedFlags(Dictionary(uniqueKeysWithValues: changes.map { ($0.uid, $0.local) }))
        flagsChanged += changes.count
    }

    /// Applies the server's flag changes and expunges to messages already here; a message the
    /// server deleted whose flags were `changedHere` is kept (see ``applyExpunges(_:_:_:changedHere:)``).
    private func applyServerChanges(
        _ folder: RemoteFolder, _ local: MaildirFolder, _ view: inout ServerView, changedHere: Set<UInt32>
    ) async throws -> Int {
        let highest = knownUpTo(local)
        guard highest > 0 else { return 0 }
        var kept = 0
        // Flags: only what changed since the last run when the server keeps mod-sequences.
        var since: UInt64?
        if let modSeq = local.highestModSeq, view.highestModSeq != nil { since = modSeq }
        if !view.qresync, since == nil {
            // No mod-sequences (Outlook, Yahoo), or none recorded yet: every message's flags, in
            // windows, expunges found on the way.
            kept = try await scanFlags(folder, local, &view, upTo: highest, changedHere: changedHere)
        } else {
            let known = UIDSet(1...highest)
            if !view.qresync, since != view.highestModSeq {
                try await session.run(.uidFetch(known, [.uid, .flags], changedSince: since)) { view.handle($0) }
            }
            let changed = view.flags.filter { uid, flags in local.map.entries[uid].map { $0.flags != flags } ?? false }
            if !changed.isEmpty { try local.setFlags(changed, highestModSeq: view.highestModSeq) }
            flagsChanged += changed.count
            // Expunges: whatever we have that the server no longer does. QRESYNC listed them in
            // VANISHED; a server holding exactly our UIDs needs no search.
            var gone: [UInt32]
            if view.qresync {
                gone = local.map.entries.keys.filter { view.vanished.contains($0) }
            } else if holdsExactlyOurs(uidNext: view.uidNext, messages: view.exists, local) {
                gone = []
            } else {
                var present = UIDSet()
                try await session.run(.uidSearch([.uid(known)])) { event in
                    if case .search(let uids, _) = event { present.formUnion(UIDSet(uids)) }
                }
                gone = local.map.entries.keys.filter { !present.contains($0) }
            }
            kept = try applyExpunges(gone, folder, local, changedHere: changedHere)
        }
        done += local.map.count
        report(folder, inFolder: local.map.count)
        return kept
    }

    /// Deletes here what the server deleted, but for messages whose flags were `changedHere` since
    /// the last run (their STORE found nothing there): the change wins over the delete, so the
    /// file is kept, given back to the user and appended again by this run's upload, with a warning.
    private func applyExpunges(_ gone: [UInt32], _ folder: RemoteFolder, _ local: MaildirFolder, changedHere: Set<UInt32>) throws -> Int {
        guard !gone.isEmpty else { return 0 }
        // A headers-only copy is not the message: it goes, whatever changed (its body is on the server no more).
        let kept = gone.filter { changedHere.contains($0) && local.map.entries[$0]?.isHeadersOnly != true }
        var released = 0
        if !kept.isEmpty {
            released = try local.release(kept)
            if released > 0 {
                callback.error(.warning, "\(folder.name): \(released) message\(released == 1 ? " was" : "s were") deleted on the server but changed here since the last sync; kept, and uploaded again")
            }
        }
        let keptHere = Set(kept)
        let deleted = gone.filter { !keptHere.contains($0) }
        if !deleted.isEmpty { try local.expunge(deleted) }
        expunged += deleted.count
        return released
    }

    /// One window of the flag scan: the UIDs `range` asks the server for, and which of the
    /// known UIDs (sorted, see ``scanFlags(_:_:upTo:)``) fall into it.
    struct FlagScanWindow: Equatable {
        var range: ClosedRange<UInt32>
        var known: Range<Int>
    }

    /// Splits `1...highest` into contiguous UID ranges holding at most `size` of the `known` UIDs
    /// (sorted) each: windows by messages, not by UID numbers, so that a folder whose UIDs are
    /// sparse (millions, for thousands of messages) needs no more windows than a dense one.
    static func flagScanWindows(known: [UInt32], upTo highest: UInt32, size: Int) -> [FlagScanWindow] {
        var windows: [FlagScanWindow] = []
        var start = 0
        var first: UInt32 = 1
        while start < known.count || windows.isEmpty {
            let end = min(start + size, known.count)
            let last = end == known.count ? highest : known[end - 1]
            windows.append(FlagScanWindow(range: first...max(first, last), known: start..<end))
            if last >= highest { break }
            first = last + 1
            start = end
        }
        return windows
    }

    /// The flag scan of a server without mod-sequences (`UID FETCH a:b (UID FLAGS)` over every
    /// message we hold), bounded: `1...highest` in windows of ``IMAPAccount/flagScanWindow``
    /// messages, two fetches in flight, each window's changes applied as soon as its fetch
    /// completes (changes found are applied whenever a window's worth has gathered, and at the
    /// end: each apply rewrites the UID map). Only the answers of the windows in flight are held,
    /// never a whole folder's (a 100 000-message folder on Outlook or Yahoo is fetched 5 000 at a
    /// time); besides them, the scan keeps the map's UIDs sorted (4 bytes a message).
    ///
    /// A message we hold that its window's answers leave out is no longer on the server (a UID
    /// FETCH answers for every message in its range that exists): expunged here, window by window,
    /// unless SELECT showed the server holds exactly our UIDs.
    private func scanFlags(
        _ folder: RemoteFolder, _ local: MaildirFolder, _ view: inout ServerView, upTo highest: UInt32, changedHere: Set<UInt32>
    ) async throws -> Int {
        var kept = 0
        let known = local.map.entries.keys.sorted()
        let windows = Self.flagScanWindows(known: known, upTo: highest, size: account.flagScanWindow)
        let exact = holdsExactlyOurs(uidNext: view.uidNext, messages: view.exists, local)
        var answers: [Int: [UInt32: MessageFlags]] = [:]  // window in flight → the server's flags
        var inFlight: [String: Int] = [:]  // tag → window
        var sent = 0
        func sendNext() async throws {
            guard sent < windows.count else { return }
            answers[sent] = [:]
            inFlight[try await session.send(.uidFetch(UIDSet(windows[sent].range), [.uid, .flags]))] = sent
            sent += 1
        }
        /// The window `uid` falls into (they are contiguous and sorted).
        func window(of uid: UInt32) -> Int? {
            var low = 0, high = windows.count - 1
            while low <= high {
                let middle = (low + high) / 2
                if uid < windows[middle].range.lowerBound { high = middle - 1 }
                else if uid > windows[middle].range.upperBound { low = middle + 1 }
                else { return middle }
            }
            return nil
        }
        // Changes and expunges found and not yet applied: at most about a window's worth.
        var changed: [UInt32: MessageFlags] = [:]
        var gone: [UInt32] = []
        func apply() throws {
            if !changed.isEmpty { try local.setFlags(changed) }
            kept += try applyExpunges(gone, folder, local, changedHere: changedHere)
            flagsChanged += changed.count
            changed = [:]
            gone = []
        }
        var fetching: (uid: UInt32?, flags: MessageFlags?) = (nil, nil)
        try await sendNext()
        try await sendNext()
        while !inFlight.isEmpty {
            let tag = try await session.complete(anyOf: Set(inFlight.keys), name: "UID FETCH") { event in
                switch event {
                case .fetchStart: fetching = (nil, nil)
                case .fetchAttribute(.uid(let uid)): fetching.uid = uid
                case .fetchAttribute(.flags(let value)): fetching.flags = MessageFlags(imap: value)
                case .fetchEnd:
                    // Answers to both windows in flight, and unsolicited ones: kept by UID, for
                    // the windows in flight only (a later window asks again).
                    if let uid = fetching.uid, let flags = fetching.flags, let index = window(of: uid), answers[index] != nil {
                        answers[index]![uid] = flags
                    }
                case .fetchAttribute: break
                default: view.handle(event)
                }
            }
            let index = inFlight.removeValue(forKey: tag)!
            let server = answers.removeValue(forKey: index)!
            try await sendNext()  // the server works on the next window while this one is applied
            for uid in known[windows[index].known] {
                guard let entry = local.map.entries[uid] else { continue }
                if let flags = server[uid] {
                    if entry.flags != flags { changed[uid] = flags }
                } else if !exact {
                    gone.append(uid)
                }
            }
            // Each apply rewrites the folder's UID map: batched up to a window's worth of changes,
            // so that changes spread over every window cost a few rewrites, not one per window.
            if changed.count + gone.count >= account.flagScanWindow { try apply() }
            try checkCancelled()
        }
        try apply()
        return kept
    }

    /// Downloads messages newer than the last one committed, in pipelined batches; each batch is
    /// committed (durable) before its messages count as done.
    private func downloadNew(_ folder: RemoteFolder, _ local: MaildirFolder, _ view: ServerView) async throws {
        let after = local.highestUID
        if nothingAbove(after, uidNext: view.uidNext) { return }
        var newUIDs: [UInt32] = []
        try await session.run(.uidSearch([.uid(.from(after + 1))])) { event in
            // `UID n:*` always matches the highest UID even when it is below n: filter.
            if case .search(let uids, _) = event { newUIDs += uids.filter { $0 > after } }
        }
        newUIDs.sort()
        // Uploads adopted above the highest UID are here already.
        let wanted = newUIDs.filter { !local.contains($0) }
        guard let last = wanted.last else {
            if let highest = newUIDs.last { _ = try local.beginBatch().commit(highestUID: highest, highestModSeq: view.highestModSeq) }
            report(folder, inFolder: local.map.count)
            return
        }
        var inFolder = local.map.count
        let items: [FetchItem] = [.uid, .flags, .body(headersOnly ? .header : .complete, peek: true)]
        try await fetchPipelined(wanted, items, into: local, as: headersOnly ? .headersOnly : .whole) { batch, uids in
            // The last batch also records the mod-sequence (one map write fewer): the older
            // messages' flag changes are applied by now, and these came with their flags.
            let isLast = uids.last == last
            let durable = try batch.commit(
                highestUID: isLast ? newUIDs.last : uids.last, highestModSeq: isLast ? view.highestModSeq : nil)
            reportNew(durable, in: folder, local)
            done += durable.count
            inFolder += durable.count
            report(folder, inFolder: inFolder)
        }
    }

    /// Replaces the folder's headers-only messages with whole ones.
    private func downloadBodies(_ folder: RemoteFolder, _ local: MaildirFolder) async throws {
        let uids = local.map.entries.filter { $0.value.isHeadersOnly }.keys.sorted()
        var fetched = 0
        try await fetchPipelined(uids, [.uid, .body(.complete, peek: true)], into: local, as: .body) { batch, _ in
            fetched += try batch.commit().count
            _ = callback.progress(
                step: "\(folder.name) bodies \(fetched)/\(uids.count)", index: UInt32(clamping: done),
                max: UInt32(clamping: Swift.max(total, done)))
        }
    }

    /// Fetches `uids` in batches of ``IMAPAccount/fetchBatch`` with two `UID FETCH` commands in
    /// flight (so the server never waits for our disk), streaming each message into the delivery
    /// batch that asked for it (``FetchPipeline``), and committing the batches in order with
    /// `commit` (it gets the batch and the UIDs asked for): a later batch is never durable before
    /// an earlier one, whatever order the server completes them in.
    private func fetchPipelined(
        _ uids: [UInt32], _ items: [FetchItem], into local: MaildirFolder, as mode: FetchReceiver.Mode,
        commit: (DeliveryBatch, [UInt32]) throws -> Void
    ) async throws {
        let batches = stride(from: 0, to: uids.count, by: account.fetchBatch).map {
            Array(uids[$0..<min($0 + account.fetchBatch, uids.count)])
        }
        var pipeline = FetchPipeline(batches: batches)
        var inFlight: [String: Int] = [:]  // tag → batch
        var sent = 0
        var completed = Set<Int>()
        var next = 0  // the next batch to commit
        func sendNext() async throws {
            guard sent < batches.count else { return }
            pipeline.open(sent, FetchReceiver(batch: try local.beginBatch(), callback: callback, mode: mode))
            inFlight[try await session.send(.uidFetch(UIDSet(batches[sent]), items))] = sent
            sent += 1
        }
        do {
            try await sendNext()
            try await sendNext()
            while next < batches.count {
                let tag = try await session.complete(anyOf: Set(inFlight.keys), name: "UID FETCH") { event in
                    try pipeline.handle(event)
                }
                completed.insert(inFlight.removeValue(forKey: tag)!)
                while completed.remove(next) != nil {
                    let receiver = pipeline.close(next)!
                    try await sendNext()
                    try commit(receiver.batch, batches[next])
                    let missing = receiver.missing(from: batches[next])
                    if missing > 0 {
                        callback.error(.warning, "\(local.name): \(missing) messages vanished on the server while being fetched")
                    }
                    next += 1
                    try checkCancelled()
                }
            }
        } catch {
            pipeline.abortAll()
            throw error
        }
    }

    /// Progress for the run and this folder; a cancel it answers is noticed at the next safe point
    /// (``checkCancelled()``), never in the middle of a commit.
    private func report(_ folder: RemoteFolder, inFolder: Int) {
        let max = Swift.max(total, done)
        _ = callback.progress(
            step: "\(folder.name) \(inFolder)/\(Swift.max(folder.messages, inFolder))",
            index: UInt32(clamping: done), max: UInt32(clamping: max))
    }
}

/// Streams the messages of one `UID FETCH` into a delivery batch.
struct FetchReceiver {
    /// What each body is.
    enum Mode {
        /// A new message, whole.
        case whole
        /// A new message's header (`BODY[HEADER]`).
        case headersOnly
        /// The whole message for one downloaded headers only.
        case body
    }

    let batch: DeliveryBatch
    let callback: SyncCallback
    let mode: Mode
    private var uid: UInt32?
    private var flags: MessageFlags = []
    private var writer: MessageWriter?
    private(set) var received: Set<UInt32> = []

    init(batch: DeliveryBatch, callback: SyncCallback, mode: Mode) {
        self.batch = batch
        self.callback = callback
        self.mode = mode
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
            writer = mode == .body
                ? try batch.openBody(uid: uid, sizeHint: size)
                : try batch.open(uid: uid, flags: flags, headersOnly: mode == .headersOnly, sizeHint: size)
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
