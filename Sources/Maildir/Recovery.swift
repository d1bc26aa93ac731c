#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension MaildirFolder {
    /// Brings the folder back to the invariants after whatever interrupted the last run. Runs on
    /// every open, before the handle is returned; idempotent, and itself crash-safe (it only renames
    /// into place, unlinks what is provably redundant, and commits the map last).
    ///
    /// 1. `tmp/`: our temporary files are deleted (no delivery of ours can be live: the store lock);
    ///    other programs' files only when older than 36 hours, as the Maildir spec says. A leftover
    ///    `.syncd-uidmap.tmp` (a map commit cut off before its rename) is deleted.
    /// 2. A missing map with our files present is rebuilt from their names: the largest group of
    ///    files sharing a folder id and UIDVALIDITY wins. Files whose folder id belongs to another
    ///    folder of the store were moved in by the user and are left alone, as are the other groups.
    /// 3. Each map entry is matched to its file by base name, in `cur/` or `new/`. A second file with
    ///    the same base name is quarantined. No file: the entry stays and is reported as vanished —
    ///    unless it was being expunged, in which case the expunge is finished.
    /// 4. Unmapped files with this folder's `F=` are adopted if their UIDVALIDITY is the map's, their
    ///    UID is free and their size matches `S=` (a commit interrupted after its renames: the data
    ///    was fsynced before the rename); otherwise they are quarantined. Two exceptions finish a
    ///    headers-only message's replacement: a whole message (size matching) for a UID mapped as
    ///    headers only takes the entry over, and the header file goes after the map commit; a header
    ///    file (`H=1`) for a UID mapped to its whole message is deleted. A file whose name starts with
///    the unique part of an upload in flight (``PendingUpload``) is that upload: adopted under its
///    UID with the flags it was appended with, without raising the highest UID.
    /// 5. Flag changes recorded as pending are applied to files still carrying the old flags.
    /// 6. Touched directories are fsynced, then the map is committed if it changed.
    func recover() throws -> RecoveryReport {
        var report = RecoveryReport()
        var next = map
        var touched = Set<String>()
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let before = try ListingStamp.current(folder: path)

        // 1.
        if let listing = try Posix.list(tmpPath) {
            let now = time(nil)
            for entry in listing.entries where entry.isDirectory != true {
                let file = tmpPath + "/" + entry.name
                var stale = MessageFileName(entry.name).isOurs
                if !stale, let info = try Posix.status(file), info.st_mode & S_IFMT == S_IFREG {
                    stale = now - info.st_mtim.tv_sec > 36 * 3600
                }
                if stale, try Posix.unlinkIfPresent(file) { report.removedTemporaryFiles += 1 }
            }
            // No fsync: a temporary file that reappears after a power cut is deleted again.
        }
        // A map commit cut off before its rename; the committed map is the one that counts.
        try Posix.unlinkIfPresent(path + "/" + MaildirStore.mapFileName + ".tmp")

        var listing = try list()

        // 2.
        if next.folderID == nil, listing.files.contains(where: { $0.parsed.isOurs }) {
            struct Group: Hashable { var folderID: UInt32, uidValidity: UInt32 }
            var groups: [Group: Int] = [:]
            // Messages the user moved in from another synced folder carry that folder's id: not ours.
            let elsewhere = try store.folderIDsInUse(except: path)
            for file in listing.files where file.parsed.isOurs && !elsewhere.contains(file.parsed.folderID!) {
                groups[Group(folderID: file.parsed.folderID!, uidValidity: file.parsed.uidValidity!), default: 0] += 1
            }
            if let best = groups.max(by: { ($0.value, $0.key.uidValidity) < ($1.value, $1.key.uidValidity) }) {
                next.folderID = best.key.folderID
                next.uidValidity = best.key.uidValidity
            }
        }

        // 3.
        // A rebuilt map: no file was matched while reading (the map had no folder id).
        if next.folderID != map.folderID { listing.claimByBaseName(next) }
        let files = listing.files
        var found = listing.found
        var unclaimed = listing.unclaimed
        var quarantine: String?
        func moveToQuarantine(_ file: MessageFile) throws {
            let target = try quarantine ?? makeQuarantine("recovered-\(time(nil))")
            quarantine = target
            try Posix.renameNoReplace(path + "/" + file.relativePath, target + "/" + file.relativePath)
            touched.insert(file.inNew ? newPath : curPath)
            touched.insert(target + (file.inNew ? "/new" : "/cur"))
            report.quarantined.append(String(target.dropFirst(path.count + 1)) + "/" + file.relativePath)
        }
        // Only needed for unclaimed files, which a clean folder has none of.
        let claimedBases = unclaimed.isEmpty ? [] : Set(next.entries.values.map(\.baseName))
        for (uid, entry) in next.entries.filter({ found[$0.key] == nil }).sorted(by: { $0.key < $1.key }) {
            switch entry.pending {
            case .expunge:
                next.entries[uid] = nil
                report.completedExpunges.append(uid)
            case .flags(let target):
                next.entries[uid]!.flags = target
                next.entries[uid]!.pending = nil
                report.completedFlagChanges.append(uid)
                report.vanished.append(uid)
            case nil:
                report.vanished.append(uid)
            }
        }

        // 4.
        var stillUnclaimed: [Int] = []
        var replacedHeaders: [(inNew: Bool, name: String)] = []
        for index in unclaimed {
            let file = files[index]
            let parsed = file.parsed
            if claimedBases.contains(parsed.base) {
                try moveToQuarantine(file)  // a duplicate of a mapped message
                continue
            }
            guard parsed.isOurs, parsed.folderID == next.folderID else {
                stillUnclaimed.append(index)
                continue
            }
            let uid = parsed.uid!
            if parsed.uidValidity == next.uidValidity, next.entries[uid] == nil,
                let upload = next.uploads.values.first(where: { parsed.base.hasPrefix($0.unique + ",") }),
                UIDMap.isStorable(baseName: parsed.base)
            {
                // An upload renamed into place before its map commit: adopt it under its UID, but
                // leave the highest UID alone (messages below it may not be downloaded yet).
                next.entries[uid] = UIDMap.Entry(baseName: parsed.base, flags: upload.flags)
                next.uploads[upload.unique] = nil
                found[uid] = Location(inNew: file.inNew, name: file.name, base: parsed.base)
                report.adopted.append(uid)
                continue
            }
            let size = try Posix.status(path + "/" + file.relativePath).map { Int($0.st_size) }
            if parsed.uidValidity == next.uidValidity, let entry = next.entries[uid] {
                if parsed.headersOnly, !entry.isHeadersOnly {
                    // The header file of a message whose whole file was committed (its delivery
                    // stopped before deleting it): redundant.
                    try Posix.unlinkIfPresent(path + "/" + file.relativePath)
                    touched.insert(file.inNew ? newPath : curPath)
                    continue
                }
                if !parsed.headersOnly, entry.isHeadersOnly || found[uid] == nil, parsed.size != nil, size == parsed.size,
                    UIDMap.isStorable(baseName: parsed.base)
                {
                    // The whole message for a headers-only entry (or for one whose file is gone,
                    // downloaded again), renamed in before its map commit: finish the replacement
                    // (a header file goes once the map says so).
                    if let header = found[uid] { replacedHeaders.append((header.inNew, header.name(base: entry.baseName))) }
                    report.vanished.removeAll { $0 == uid }
                    next.entries[uid]!.baseName = parsed.base
                    found[uid] = Location(inNew: file.inNew, name: file.name, base: parsed.base)
                    report.adopted.append(uid)
                    continue
                }
            }
            if parsed.uidValidity == next.uidValidity, next.entries[uid] == nil, parsed.size != nil,
                size == parsed.size, UIDMap.isStorable(baseName: parsed.base)
            {
                next.entries[uid] = UIDMap.Entry(baseName: parsed.base, flags: file.inNew ? [] : parsed.flags)
                next.highestUID = max(next.highestUID, uid)
                found[uid] = Location(inNew: file.inNew, name: file.name, base: parsed.base)
                report.adopted.append(uid)
            } else {
                try moveToQuarantine(file)
            }
        }
        unclaimed = stillUnclaimed
        locations = found

        // 5.
        for (uid, entry) in next.entries.filter({ $0.value.pending != nil }).sorted(by: { $0.key < $1.key }) {
            guard let pending = entry.pending, let location = found[uid] else { continue }
            let name = location.name(base: entry.baseName)
            switch pending {
            case .expunge:
                let directory = location.inNew ? newPath : curPath
                try Posix.unlinkIfPresent(directory + "/" + name)
                touched.insert(directory)
                locations[uid] = nil
                next.entries[uid] = nil
                report.completedExpunges.append(uid)
            case .flags(let target):
                let current = location.flags
                if current == entry.flags, current != target || location.inNew {
                    // `applyFlags` reads the base name from `map`, which may not hold this entry yet.
                    let parsed = MessageFileName(name)
                    let renamed = MessageFileName.curName(base: entry.baseName, flags: target, others: parsed.otherLetters)
                    try Posix.renameNoReplace((location.inNew ? newPath : curPath) + "/" + name, curPath + "/" + renamed)
                    touched.insert(curPath)
                    if location.inNew { touched.insert(newPath) }
                    locations[uid] = Location(inNew: false, name: renamed, base: entry.baseName)
                }
                // Otherwise the file already has them, or the user changed it since: leave the file,
                // so the user's change shows up as a local change against the server's flags.
                next.entries[uid]!.flags = target
                next.entries[uid]!.pending = nil
                report.completedFlagChanges.append(uid)
            }
        }

        // 6.
        for directory in touched.sorted() { try store.syncDirectory(directory) }
        if next != map { try persist(next) }
        if !replacedHeaders.isEmpty {
            var emptied = Set<String>()
            for header in replacedHeaders {
                let directory = header.inNew ? newPath : curPath
                if try Posix.unlinkIfPresent(directory + "/" + header.name) { emptied.insert(directory) }
            }
            for directory in emptied.sorted() { try store.syncDirectory(directory) }
        } else if touched.isEmpty {
            listing.found = found
            listing.unclaimed = unclaimed
            listingAtOpen = listing  // what listing the folder again would give against the final map
            if report.isEmpty, next == map, let before { stampCandidate = (before, now) }
        }
        report.adopted.sort()
        report.completedExpunges.sort()
        report.completedFlagChanges.sort()
        report.vanished.sort()
        return report
    }
}
