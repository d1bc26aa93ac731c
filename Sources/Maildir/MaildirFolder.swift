#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One folder's Maildir and its UID map, open for syncing (from ``MaildirStore/openFolder(_:)``).
///
/// **Invariants** (hold after every successful call, and are restored by recovery after a crash
/// anywhere):
/// 1. Every UID in ``map`` names exactly one message file, found by its base name in `cur/` or `new/`
///    — unless the user deleted it (then it is reported as vanished, never silently dropped).
/// 2. A UID is in the map only after its file's data and directory entry are on disk: map commits
///    always come last, so the map never runs ahead of the files.
/// 3. A file carrying this folder's `F=` marker is either in the map or adoptable by recovery (same
///    UIDVALIDITY, unmapped UID, size matching `S=`); anything else of ours is quarantined, never
///    deleted. Message files without our marker are the user's: never moved or deleted, only reported.
/// 4. The map's flags are the flags last agreed with the server; the file name's flags are the local
///    truth. They differ only by local changes not yet uploaded.
///
/// A handle whose operation failed part-way (I/O error, full disk) refuses further work with
/// ``MaildirError/Code/needsReopen``: close it and open the folder again, which recovers.
///
/// Not `Sendable`: one task owns a handle. Release it with ``close()`` (or by dropping it).
public final class MaildirFolder {
    /// The store the folder belongs to (kept alive, with its lock, as long as the handle).
    public let store: MaildirStore
    /// The folder this handle is for.
    public let name: FolderName
    /// The folder's Maildir directory.
    public let path: String
    /// The UID map as last committed to disk.
    public private(set) var map: UIDMap
    /// What opening the folder repaired.
    public private(set) var lastRecovery = RecoveryReport()
    /// Whether the map was written through this handle (by recovery or any change).
    public private(set) var changedSinceOpen = false

    /// The current file of each mapped UID, as last seen (mail clients rename at will, so every user
    /// of it retries after a rescan on ENOENT).
    var locations: Locations = [:]
    /// The `cur/` and `new/` listing recovery took, while nothing has changed them since: the first
    /// ``scanLocalChanges()`` after opening uses it instead of reading both directories again (half
    /// the cost of a sync with nothing new). Seeing the files as of the open is no staler than any
    /// scan, which is always overtaken by the user's next rename.
    var listingAtOpen: FolderListing?
    /// Opened on a valid ``ListingStamp``: the folder is as clean as when last listed, so recovery
    /// and the first local-change scan had nothing to read; `locations` is filled on first need.
    private var openedOnStamp = false
    /// Whether `locations` reflects a listing (false after opening on a stamp, until needed).
    private var locationsKnown = true
    /// The directories' stamp taken just before recovery's listing, and when, kept while that
    /// listing may still prove the folder clean (see ``scanLocalChanges()``).
    var stampCandidate: (stamp: ListingStamp, takenAt: timespec)?
    var crashHook: CrashHook?
    /// Bumped by ``resetFolder(newUIDValidity:)``; a batch begun before cannot commit.
    private(set) var generation = 0
    private var failure: String?
    private var isClosed = false

    var curPath: String { path + "/cur" }
    var newPath: String { path + "/new" }
    var tmpPath: String { path + "/tmp" }

    init(store: MaildirStore, name: FolderName, path: String) throws {
        self.store = store
        self.name = name
        self.path = path
        map = try store.readMap(directory: path) ?? UIDMap()
        if let saved = ListingStamp.saved(folder: path), try ListingStamp.current(folder: path) == saved {
            openedOnStamp = true
            locationsKnown = false
        } else {
            lastRecovery = try recover()
        }
    }

    deinit {
        if !isClosed { store.release(path) }
    }

    /// Releases the folder so it can be opened again (also done when the handle is dropped).
    /// Uncommitted batches are abandoned: their temporary files are deleted at the next open.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        store.release(path)
    }

    /// The server's UIDVALIDITY the local messages belong to; `nil` for a folder never synced.
    public var uidValidity: UInt32? { map.uidValidity }
    /// The highest UID downloaded or declared seen under the current UIDVALIDITY (0 for none).
    public var highestUID: UInt32 { map.highestUID }
    /// The HIGHESTMODSEQ up to which server flag changes have been applied, if recorded.
    public var highestModSeq: UInt64? { map.highestModSeq }
    /// Whether `uid` has been downloaded (and committed).
    public func contains(_ uid: UInt32) -> Bool { map.entries[uid] != nil }

    /// The absolute path of `uid`'s file as last seen, or `nil` if it is not in the map or vanished.
    /// A mail client may rename it at any moment; on `ENOENT` call ``scanLocalChanges()`` and ask again.
    public func filePath(for uid: UInt32) -> String? {
        if !locationsKnown { try? refreshLocations() }
        guard let location = locations[uid], let entry = map.entries[uid] else { return nil }
        return (location.inNew ? newPath : curPath) + "/" + location.name(base: entry.baseName)
    }

    // MARK: Delivery

    /// Starts a batch of downloads (see ``DeliveryBatch``).
    /// - Throws: ``MaildirError/Code/noUIDValidity`` before the folder has a UIDVALIDITY (call
    ///   ``resetFolder(newUIDValidity:)`` with the server's first); ``MaildirError/Code/needsReopen``,
    ///   ``MaildirError/Code/folderClosed``.
    public func beginBatch() throws -> DeliveryBatch {
        try checkUsable()
        guard let uidValidity = map.uidValidity, let folderID = map.folderID else {
            throw MaildirError(.noUIDValidity, "folder \(name) has no UIDVALIDITY yet; call resetFolder(newUIDValidity:) first")
        }
        return DeliveryBatch(folder: self, uidValidity: uidValidity, folderID: folderID, generation: generation)
    }

    /// Steps 1–5 of ``DeliveryBatch/commit(highestUID:highestModSeq:)``.
    func commitDelivery(
        _ writers: [MessageWriter], uidValidity: UInt32, folderID: UInt32, highestUID: UInt32?, highestModSeq: UInt64?
    ) throws -> [UInt32] {
        try mutate {
            // 1. File data, all at once at the end rather than per write.
            try store.syncFiles(writers.map(\.temporaryPath))
            try crash(.deliveryFilesSynced)
            // 2. Into cur/ (or new/) under the final name, which carries the markers recovery needs.
            var next = map
            var touched = Set<String>()
            var replacedHeaders: [String] = []
            // A mail client may have renamed a header file (the user changed its flags) since we
            // last looked: find them again, so the whole message takes the current flags.
            try ensureLocations(of: writers.filter { $0.kind == .body || $0.kind == .restore }.map(\.uid))
            let stale = writers.contains { writer in
                guard writer.kind == .body || writer.kind == .restore, let location = locations[writer.uid],
                    let entry = map.entries[writer.uid]
                else { return false }
                return access((location.inNew ? newPath : curPath) + "/" + location.name(base: entry.baseName), F_OK) != 0
            }
            if stale { try refreshLocations() }
            for (index, writer) in writers.enumerated() {
                let base = MessageFileName.ourBase(
                    unique: writer.unique, size: writer.size, folderID: folderID, uidValidity: uidValidity, uid: writer.uid,
                    headersOnly: writer.kind == .headersOnly)
                let fileName: String
                let toNew: Bool
                if writer.kind == .body || writer.kind == .restore, let old = next.entries[writer.uid] {
                    // The header file's name holds the local flags (maybe changed since the last
                    // upload); the map keeps the ones agreed with the server.
                    let location = locations[writer.uid]
                    toNew = location?.inNew ?? false
                    let parsed = location.map { MessageFileName($0.name(base: old.baseName)) }
                    fileName = toNew ? base : MessageFileName.curName(
                        base: base, flags: parsed?.flags ?? old.flags, others: parsed?.otherLetters ?? [])
                    if let location { replacedHeaders.append((location.inNew ? newPath : curPath) + "/" + location.name(base: old.baseName)) }
                    next.entries[writer.uid] = UIDMap.Entry(baseName: base, flags: old.flags)
                } else {
                    toNew = store.options.deliverUnseenToNew && writer.flags.isEmpty
                    fileName = toNew ? base : MessageFileName.curName(base: base, flags: writer.flags)
                    next.entries[writer.uid] = UIDMap.Entry(baseName: base, flags: writer.flags)
                }
                let directory = toNew ? newPath : curPath
                try Posix.renameNoReplace(writer.temporaryPath, directory + "/" + fileName)
                touched.insert(directory)
                locations[writer.uid] = Location(inNew: toNew, name: fileName, base: base)
                if index == 0 { try crash(.deliveryFirstRenamed) }
            }
            try crash(.deliveryRenamed)
            // 3. The directory entries, once per directory.
            for directory in touched.sorted() { try store.syncDirectory(directory) }
            try crash(.deliveryDirectoriesSynced)
            // 4. The map; only now are the UIDs durable.
            let uids = writers.map(\.uid).sorted()
            next.highestUID = max(next.highestUID, uids.last ?? 0, highestUID ?? 0)
            if let highestModSeq { next.highestModSeq = highestModSeq }
            if next != map { try persist(next) }
            // 5. Header files whose whole message is now mapped (recovery deletes any left behind).
            var emptied = Set<String>()
            for path in replacedHeaders where try Posix.unlinkIfPresent(path) {
                emptied.insert(parentDirectory(path))
            }
            for directory in emptied.sorted() { try store.syncDirectory(directory) }
            return uids
        }
    }

    // MARK: Flags

    /// Applies flags from the server: renames each message's file to carry `changes[uid]` (moving it
    /// from `new/` to `cur/`), then records them in the map as agreed, optionally with the server's
    /// new HIGHESTMODSEQ. Letters unknown to ``MessageFlags`` in a name are kept.
    ///
    /// This overwrites local, not yet uploaded changes to the same messages: call
    /// ``scanLocalChanges()`` first and pass merged flags. UIDs not in the map are ignored (their flags
    /// come with their download); a message whose file has vanished gets only its map entry updated.
    ///
    /// Durability: two map commits — the first records the intended flags, then the files are renamed
    /// and their directories fsynced, then the second records them as agreed. A crash in between is
    /// completed by recovery, so a server change is never mistaken for a local one.
    /// - Throws: ``MaildirError/Code/io`` (the handle then needs reopening), ``MaildirError/Code/needsReopen``,
    ///   ``MaildirError/Code/folderClosed``.
    public func setFlags(_ changes: [UInt32: MessageFlags], highestModSeq: UInt64? = nil) throws {
        try mutate {
            try ensureLocations(of: changes.keys)
            // The map is changed in place, never copied (a copy of a 100 000-message map is
            // megabytes): a failure below leaves the handle unusable (`mutate`), and reopening
            // reads the map from disk again.
            var renames: [(UInt32, MessageFlags)] = []
            var changed = false
            for (uid, flags) in changes.sorted(by: { $0.key < $1.key }) where map.entries[uid] != nil {
                if let location = locations[uid], location.inNew || location.flags != flags {
                    renames.append((uid, flags))
                } else if map.entries[uid]!.flags != flags {
                    // The file already carries them (or is gone): only the map changes.
                    map.entries[uid]!.flags = flags
                    changed = true
                }
            }
            if !renames.isEmpty {
                for (uid, flags) in renames { map.entries[uid]!.pending = .flags(flags) }
                try persistInPlace()
                try crash(.flagsIntentCommitted)
                var touched = Set<String>()
                var refreshed = false
                for (index, (uid, flags)) in renames.enumerated() {
                    _ = try applyFlags(uid, flags, touched: &touched, refreshed: &refreshed)
                    if index == 0 { try crash(.flagsFirstRenamed) }
                }
                for directory in touched.sorted() { try store.syncDirectory(directory) }
                try crash(.flagsDirectoriesSynced)
                for (uid, flags) in renames {
                    map.entries[uid]!.flags = flags
                    map.entries[uid]!.pending = nil
                }
                changed = true
            }
            if let highestModSeq, map.highestModSeq != highestModSeq {
                map.highestModSeq = highestModSeq
                changed = true
            }
            if changed { try persistInPlace() }
        }
    }

    /// Records flags as agreed with the server without touching files: call it after uploading the
    /// local changes ``scanLocalChanges()`` reported, with the flags that were uploaded. If the user
    /// changed the flags again meanwhile, the difference stays visible to the next scan. UIDs not in
    /// the map are ignored. One map commit.
    /// - Throws: ``MaildirError/Code/io``, ``MaildirError/Code/needsReopen``, ``MaildirError/Code/folderClosed``.
    public func recordSyncedFlags(_ flags: [UInt32: MessageFlags], highestModSeq: UInt64? = nil) throws {
        try mutate {
            var next = map
            for (uid, value) in flags where next.entries[uid] != nil { next.entries[uid]!.flags = value }
            if let highestModSeq { next.highestModSeq = highestModSeq }
            if next != map { try persist(next) }
        }
    }

    /// Compares the files' current names with the map: flag changes, vanished messages and files
    /// that are not ours. Read-only apart from refreshing where each message's file is.
    ///
    /// The first scan after opening sees the files as recovery listed them at the open (if recovery
    /// changed nothing and nothing was changed through this handle since); later scans read the
    /// directories again. A rename the user makes after that listing shows up in the next scan.
    ///
    /// When that first scan finds nothing at all (no change, nothing vanished, no unknown file) and
    /// the directories had been left alone for ``MaildirStore/listingQuietPeriod`` when it was
    /// taken, their state is remembered: until something in `cur/`, `new/`, `tmp/` or the map
    /// changes, opening the folder reads none of them, and this scan returns no changes at once.
    /// - Throws: ``MaildirError/Code/io``, ``MaildirError/Code/needsReopen``, ``MaildirError/Code/folderClosed``.
    public func scanLocalChanges() throws -> LocalChanges {
        try checkUsable()
        if openedOnStamp { return LocalChanges() }  // nothing has changed since a clean listing
        let candidate = listingAtOpen != nil ? stampCandidate.take() : nil
        let listing = try listingAtOpen.take() ?? list()
        locations = listing.found
        locationsKnown = true
        let changes = Self.changes(map: map, listing: listing)
        if changes.isEmpty, let candidate, candidate.stamp.isQuiet(now: candidate.takenAt, directory: path) {
            candidate.stamp.save(folder: path, fileMode: store.options.fileMode)
        }
        return changes
    }

    /// What the files found say has changed against `map` (see ``scanLocalChanges()``).
    static func changes(map: UIDMap, listing: FolderListing) -> LocalChanges {
        var changes = LocalChanges()
        for (uid, entry) in map.entries {
            guard let location = listing.found[uid] else {
                changes.vanished.append(uid)
                continue
            }
            let local = location.flags
            if local != entry.flags {
                changes.flagChanges.append(.init(uid: uid, synced: entry.flags, local: local))
            }
        }
        // Sorted by UID, the few there are, rather than every entry.
        changes.vanished.sort()
        changes.flagChanges.sort { $0.uid < $1.uid }
        for index in listing.unclaimed {
            let file = listing.files[index]
            // Ours but unmapped: recovery adopts or quarantines it at the next open; not for upload.
            if file.parsed.isOurs, file.parsed.folderID == map.folderID { continue }
            changes.unknownFiles.append(file.relativePath)
        }
        changes.unknownFiles.sort()
        return changes
    }

    // MARK: Expunge

    /// Deletes messages the server expunged (or the user deleted locally, once propagated): unlinks
    /// their files and drops them from the map. UIDs not in the map are ignored; a vanished file is
    /// simply dropped.
    ///
    /// Durability: the map first marks the UIDs as being expunged, then the files are unlinked and
    /// their directories fsynced, then the map drops them. Recovery completes an interrupted expunge,
    /// so an expunged message never comes back and a kept one is never lost.
    /// - Throws: ``MaildirError/Code/io``, ``MaildirError/Code/needsReopen``, ``MaildirError/Code/folderClosed``.
    public func expunge(_ uids: some Sequence<UInt32>) throws {
        try mutate {
            let targets = Set(uids).filter { map.entries[$0] != nil }.sorted()
            guard !targets.isEmpty else { return }
            try ensureLocations(of: targets)
            // In place, as in setFlags(_:highestModSeq:).
            for uid in targets { map.entries[uid]!.pending = .expunge }
            try persistInPlace()
            try crash(.expungeIntentCommitted)
            var touched = Set<String>()
            var refreshed = false
            for (index, uid) in targets.enumerated() {
                try removeFile(of: uid, touched: &touched, refreshed: &refreshed)
                if index == 0 { try crash(.expungeFirstUnlinked) }
            }
            for directory in touched.sorted() { try store.syncDirectory(directory) }
            try crash(.expungeDirectoriesSynced)
            for uid in targets { map.entries[uid] = nil }
            try persistInPlace()
        }
    }

    /// Gives messages back to the user, for a change made here to a message the server deleted:
    /// each file is renamed to a name without syncd's markers (its flags kept) and dropped from the
    /// map, so the next upload appends it as a new message. UIDs not in the map, or whose file is
    /// gone, are dropped from it.
    ///
    /// Durability: the renames, the directories fsynced, then the map drops them. Interrupted, a
    /// renamed file is a message of the user's (uploaded), and its entry a mapped UID without a
    /// file: a deletion here of a message the server no longer has, which deletes nothing.
    /// - Returns: how many files were kept.
    /// - Throws: ``MaildirError/Code/io``, ``MaildirError/Code/needsReopen``, ``MaildirError/Code/folderClosed``.
    @discardableResult
    public func release(_ uids: some Sequence<UInt32>) throws -> Int {
        try mutate {
            let targets = Set(uids).filter { map.entries[$0] != nil }.sorted()
            guard !targets.isEmpty else { return 0 }
            try ensureLocations(of: targets)
            var kept = 0, fromNew = false
            for uid in targets {
                guard let location = locations[uid], let entry = map.entries[uid] else { continue }
                let name = location.name(base: entry.baseName)
                let file = (location.inNew ? newPath : curPath) + "/" + name
                locations[uid] = nil
                let parsed = MessageFileName(name)
                let released = MessageFileName.curName(base: store.nextUniqueName(), flags: location.inNew ? [] : parsed.flags,
                                                      others: location.inNew ? [] : parsed.otherLetters)
                // A file gone meanwhile (deleted, or renamed by a mail client at this moment) is
                // not kept: the delete stands, as it would have without the change.
                guard rename(file, curPath + "/" + released) == 0 else {
                    if errno == ENOENT { continue }
                    throw MaildirError.io("rename", file)
                }
                fromNew = fromNew || location.inNew
                kept += 1
            }
            if kept > 0 { try store.syncDirectory(curPath) }
            if fromNew { try store.syncDirectory(newPath) }
            for uid in targets { map.entries[uid] = nil }
            try persistInPlace()
            return kept
        }
    }

    // MARK: UIDVALIDITY

    /// Adopts the server's UIDVALIDITY. For a folder never synced it is simply recorded. When it
    /// differs from the map's, every local UID is meaningless, so:
    /// 1. every message file that is ours (mapped, or carrying this folder's marker) is moved, with its
    ///    name and flags, into a quarantine Maildir `.syncd-quarantine/uidvalidity-<old>-<time>/`
    ///    inside the folder's directory — hidden from the sync and from ``MaildirStore/listFolders()``,
    ///    openable with any Maildir reader, never deleted by syncd (the user decides);
    /// 2. the map is replaced by an empty one with the new UIDVALIDITY, so the re-download does not
    ///    collide with or duplicate anything in the folder.
    /// Files that are not ours stay where they are. Equal UIDVALIDITY: nothing happens.
    ///
    /// Interrupted, it is safe to call again: files already moved stay moved, and the map still shows
    /// the old UIDVALIDITY until the last step. Batches begun before cannot commit afterwards.
    /// - Throws: ``MaildirError/Code/io``, ``MaildirError/Code/needsReopen``, ``MaildirError/Code/folderClosed``.
    @discardableResult
    public func resetFolder(newUIDValidity: UInt32) throws -> ResetReport {
        try checkUsable()
        if map.uidValidity == newUIDValidity { return ResetReport(movedMessages: 0, quarantine: nil) }
        return try mutate {
            let listing = try list()
            // Mapped, or carrying this folder's marker.
            var mapped: [(inNew: Bool, name: String)] = []
            listing.found.forEach { uid, location in
                if let entry = map.entries[uid] { mapped.append((location.inNew, location.name(base: entry.baseName))) }
            }
            let marked = listing.unclaimed.map { listing.files[$0] }.filter {
                $0.parsed.isOurs && $0.parsed.folderID == map.folderID && map.folderID != nil
            }
            let ours = mapped + marked.map { (inNew: $0.inNew, name: $0.name) }
            var quarantine: String?
            if !ours.isEmpty {
                let target = try makeQuarantine("uidvalidity-\(map.uidValidity ?? 0)-\(time(nil))")
                quarantine = target
                var touched = Set<String>()
                for (index, file) in ours.enumerated() {
                    let relativePath = (file.inNew ? "new/" : "cur/") + file.name
                    try Posix.renameNoReplace(path + "/" + relativePath, target + "/" + relativePath)
                    touched.insert(file.inNew ? newPath : curPath)
                    touched.insert(target + (file.inNew ? "/new" : "/cur"))
                    if index == 0 { try crash(.resetFirstMoved) }
                }
                for directory in touched.sorted() { try store.syncDirectory(directory) }
                try crash(.resetDirectoriesSynced)
            }
            try removeOurTemporaryFiles()
            var next = UIDMap()
            next.folderID = map.folderID ?? UInt32.random(in: 1...UInt32.max)
            next.uidValidity = newUIDValidity
            try persist(next)
            locations = [:]
            locationsKnown = true
            generation += 1
            return ResetReport(movedMessages: ours.count, quarantine: quarantine)
        }
    }

    // MARK: Internals

    func checkUsable() throws {
        if isClosed { throw MaildirError(.folderClosed, "folder \(name) was closed") }
        if let failure {
            throw MaildirError(.needsReopen, "an earlier operation on \(name) failed part-way (\(failure)); close and reopen the folder")
        }
    }

    /// Runs a multi-step change; if it throws, the handle is unusable until reopened.
    func mutate<T>(_ body: () throws -> T) throws -> T {
        try checkUsable()
        listingAtOpen = nil
        stampCandidate = nil
        openedOnStamp = false
        do {
            return try body()
        } catch {
            failure = "\(error)"
            throw error
        }
    }

    func crash(_ point: CrashPoint) throws { try crashHook?(point) }

    /// Writes `map` as it is now (changed in place by a caller inside ``mutate(_:)``).
    func persistInPlace() throws {
        changedSinceOpen = true
        try store.writeMap(map, directory: path, hook: crashHook)
    }

    func persist(_ next: UIDMap) throws {
        changedSinceOpen = true
        try store.writeMap(next, directory: path, hook: crashHook)
        map = next
    }

    /// Lists `cur/` and `new/` against the map (see ``FolderListing``).
    func list() throws -> FolderListing {
        store.listingCount.add(1, ordering: .relaxed)
        return try FolderListing(folder: path, map: map)
    }

    func refreshLocations() throws {
        locations = try list().found
        locationsKnown = true
    }

    /// Makes `locations` hold each of `uids` that has a file. On a folder opened on a
    /// ``ListingStamp`` (clean when last listed: every file is where its map entry says, named by its
    /// flags) a few UIDs are looked up by the names they must have — a flag change or two from the
    /// server in a 100 000-message folder then costs a few `access` calls, not a listing of every
    /// file and its memory. A name that is not there (letters of a mail client's own, say) falls
    /// back to the listing.
    func ensureLocations(of uids: some Collection<UInt32>) throws {
        guard !locationsKnown, !uids.isEmpty else { return }
        // Not listed since the open, which found a clean stamp; what this handle changed since, it
        // recorded in `locations`.
        guard uids.count <= Self.lookupLimit else { return try refreshLocations() }
        var found: [(UInt32, Location)] = []
        for uid in uids where locations[uid] == nil {
            guard let entry = map.entries[uid] else { continue }
            let inCur = MessageFileName.curName(base: entry.baseName, flags: entry.flags)
            if access(curPath + "/" + inCur, F_OK) == 0 {
                found.append((uid, .canonical(inNew: false, flags: entry.flags)))
            } else if entry.flags.isEmpty, access(newPath + "/" + entry.baseName, F_OK) == 0 {
                found.append((uid, .canonical(inNew: true, flags: [])))
            } else {
                return try refreshLocations()
            }
        }
        for (uid, location) in found { locations[uid] = location }
    }

    /// How many UIDs ``ensureLocations(of:)`` looks up one by one before a listing is cheaper.
    static let lookupLimit = 512

    /// Renames `uid`'s file to carry `flags` in `cur/`; `false` if the file is gone.
    ///
    /// `refreshed` says whether this operation listed the folder again already: once is enough
    /// (after it, a file not where the listing says is gone), so 500 messages whose files a mail
    /// client moved away cost one listing, not 500.
    func applyFlags(_ uid: UInt32, _ flags: MessageFlags, touched: inout Set<String>, refreshed: inout Bool) throws -> Bool {
        for attempt in 0..<2 {
            guard let location = locations[uid], let entry = map.entries[uid] else {
                if attempt == 0, try refreshOnce(&refreshed) { continue }
                return false
            }
            let name = location.name(base: entry.baseName)
            let current = MessageFileName(name)
            let target = MessageFileName.curName(base: entry.baseName, flags: flags, others: current.otherLetters)
            if !location.inNew, name == target { return true }
            let from = (location.inNew ? newPath : curPath) + "/" + name
            do {
                try Posix.renameNoReplace(from, curPath + "/" + target)
            } catch let error as MaildirError where error.systemError == ENOENT && attempt == 0 {
                // A mail client renamed it meanwhile.
                if try refreshOnce(&refreshed) { continue }
                return false
            }
            touched.insert(curPath)
            if location.inNew { touched.insert(newPath) }
            locations[uid] = Location(inNew: false, name: target, base: entry.baseName)
            return true
        }
        return false
    }

    /// Unlinks `uid`'s file wherever a mail client has moved it; nothing if it is gone.
    func removeFile(of uid: UInt32, touched: inout Set<String>, refreshed: inout Bool) throws {
        for attempt in 0..<2 {
            guard let location = locations[uid], let entry = map.entries[uid] else {
                if attempt == 0, try refreshOnce(&refreshed) { continue }
                return
            }
            let directory = location.inNew ? newPath : curPath
            if try Posix.unlinkIfPresent(directory + "/" + location.name(base: entry.baseName)) {
                touched.insert(directory)
                locations[uid] = nil
                return
            }
            locations[uid] = nil
            guard try refreshOnce(&refreshed) else { return }
        }
    }

    /// Lists the folder again unless this operation did already; whether it did now.
    private func refreshOnce(_ refreshed: inout Bool) throws -> Bool {
        guard !refreshed else { return false }
        try refreshLocations()
        refreshed = true
        return true
    }

    /// Deletes our temporary files (every one: the store lock guarantees no delivery of ours is live
    /// except through this handle, and callers run this only when no batch may commit).
    func removeOurTemporaryFiles() throws {
        for entry in try Posix.list(tmpPath)?.entries ?? [] where MessageFileName(entry.name).isOurs {
            try Posix.unlinkIfPresent(tmpPath + "/" + entry.name)
        }
    }

    /// `<folder>/.syncd-quarantine/<label>/` as a Maildir, every new entry fsynced.
    func makeQuarantine(_ label: String) throws -> String {
        let mode = store.options.directoryMode
        let base = path + "/" + MaildirStore.quarantineDirectoryName
        if try Posix.makeDirectory(base, mode: mode) { try store.syncDirectory(path) }
        let target = base + "/" + label
        if try Posix.makeDirectory(target, mode: mode) { try store.syncDirectory(base) }
        var created = false
        for sub in ["cur", "new", "tmp"] where try Posix.makeDirectory(target + "/" + sub, mode: mode) { created = true }
        if created { try store.syncDirectory(target) }
        return target
    }
}
