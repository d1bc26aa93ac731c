import IMAPProtocol
import Maildir
import SyncProtocol

/// Points in an upload where tests stop a run — by throwing from the hook, or by `kill -9` in a
/// child process — to leave exactly what a crash there leaves. Production code never sets a hook.
enum UploadStep: String, CaseIterable, Sendable {
    /// The uploads of a batch are recorded in the UID map; nothing is appended yet.
    case intentRecorded
    /// The server has stored the batch; its UIDs are not recorded yet.
    case appended
    /// The batch is adopted: files renamed, UIDs in the map.
    case adopted
    /// Local deletions are flagged `\Deleted` on the server; not expunged, and still in the map.
    case deletionFlagged
    /// Local deletions are expunged on the server; still in the map.
    case deletionExpunged
    /// Moves between local folders are recorded in the destination's map; nothing sent yet.
    case moveIntentRecorded
    /// Without MOVE: the messages are copied to the destination; the source's are not flagged yet.
    case copied
    /// The server has moved them (MOVE, or COPY and expunge); nothing adopted yet.
    case moved
    /// The destination's files are adopted; the source's map still has the old entries.
    case moveAdopted

    /// The steps of appends and deletions (not of moves).
    static let appendAndDeletionSteps: [UploadStep] = [.intentRecorded, .appended, .adopted, .deletionFlagged, .deletionExpunged]
}

typealias UploadCrashHook = @Sendable (UploadStep) throws -> Void

extension IMAPSyncRun {
    /// Messages per upload batch: one map commit records them all before their APPENDs, one after.
    /// Between batches the server idles (the last answers awaited, the batch adopted, the next
    /// measured): large enough that a thousand new messages are one or two batches.
    static let uploadBatch = 1024
    /// APPENDs in flight at most when they pipeline (LITERAL+).
    static let appendWindow = 16
    /// Messages in one MULTIAPPEND, and their bytes at most (a larger message goes alone).
    static let appendGroup = 64
    static let appendGroupBytes = 4 << 20
    /// MULTIAPPENDs sent before the first is answered.
    static let appendGroupsInFlight = 2

    /// One message on its way up: its record in the map and its file.
    struct Outgoing {
        var upload: PendingUpload
        var file: UploadFile
        var relativePath: String
    }

    /// What the server holds that may be one of our uploads.
    enum ServerCopy {
        /// Not yet ours (unmapped) and matching: adopt the local file under this UID; the server
        /// has these flags (the ones agreed: the file's own, if different, are uploaded next).
        case adopt(UInt32, MessageFlags)
        /// A message with the same Message-ID that is not this one (mapped, or different).
        case elsewhere(UInt32)
    }

    /// Finishes uploads an earlier run left open (resolved against the server before anything is
    /// appended again or downloaded), then, if `uploadNew`, appends the folder's new local
    /// messages in batches. Every step is durable before the next (see ``PendingUpload``).
    func uploadMessages(
        _ folder: RemoteFolder, _ local: MaildirFolder, _ changes: LocalChanges, uploadNew: Bool,
        untagged: (ResponseEvent) -> Void
    ) async throws {
        var retries: [Outgoing] = []
        let open = local.pendingUploads.filter { $0.moveSource == nil }  // moves: IMAPSyncRun+Moves.swift
        if !open.isEmpty {
            var files: [String: Outgoing] = [:]
            for upload in open {
                guard let path = try local.currentPath(of: upload), let file = try? UploadFile(path: path) else { continue }
                files[upload.unique] = Outgoing(upload: upload, file: file, relativePath: String(path.dropFirst(local.path.count + 1)))
            }
            var claimed = Set<UInt32>()
            let copies = try await findOnServer(
                open.map { ($0, files[$0.unique]?.file.messageID) }, local, retrying: true, claimed: &claimed)
            var adoptions: [(upload: PendingUpload, uid: UInt32)] = []
            var dropped: [String] = []
            for upload in open {
                if case .adopt(let uid, let flags)? = copies[upload.unique] {
                    adoptions.append((upload.agreeing(flags), uid))
                } else if let outgoing = files[upload.unique] {
                    if uploadNew { retries.append(outgoing) }
                } else {
                    dropped.append(upload.unique)  // deleted here, and never reached the server
                }
            }
            try local.adoptUploads(adoptions)
            try local.dropUploads(dropped)
            uploaded += adoptions.count
        }
        guard uploadNew else { return }
        // Retries are recorded already: appended as the first batch.
        for start in stride(from: 0, to: retries.count, by: Self.uploadBatch) {
            try checkCancelled()
            try await appendBatch(Array(retries[start..<min(start + Self.uploadBatch, retries.count)]), [], folder, local, untagged)
        }
        // The scan predates this run's adoptions: leave out the files the open uploads covered.
        let covered = Set(open.map(\.localBase))
        let fresh = local.newLocalMessages(changes).filter { !covered.contains($0.base) }
        for start in stride(from: 0, to: fresh.count, by: Self.uploadBatch) {
            try checkCancelled()
            var batch: [Outgoing] = []
            for file in fresh[start..<min(start + Self.uploadBatch, fresh.count)] {
                let measured: UploadFile
                do {
                    measured = try UploadFile(path: file.path)
                } catch let error as UploadFileError {
                    if !error.isMissing { callback.error(.storage, "\(folder.name): \(file.relativePath) not uploaded: \(error.reason)") }
                    continue
                }
                guard measured.wireSize > 0 else { continue }  // an empty file is no message
                let upload = PendingUpload(
                    unique: local.makeUniqueName(), localBase: file.base, flags: file.flags, wireSize: measured.wireSize,
                    internalDate: measured.modificationTime >= 0 ? measured.modificationTime : nil)
                batch.append(Outgoing(upload: upload, file: measured, relativePath: file.relativePath))
            }
            // A message the server holds already (same Message-ID) is adopted, not appended:
            // a Maildir that had mail before its first sync, or a copy the server saved itself.
            var claimed = Set<UInt32>()
            let copies = try await findOnServer(
                batch.filter { $0.file.messageID != nil }.map { ($0.upload, $0.file.messageID) }, local, retrying: false,
                claimed: &claimed)
            var toAdopt: [(upload: PendingUpload, uid: UInt32)] = []
            var toAppend: [Outgoing] = []
            for item in batch {
                switch copies[item.upload.unique] {
                case .adopt(let uid, let flags)?: toAdopt.append((item.upload.agreeing(flags), uid))
                case .elsewhere(let uid)?:
                    callback.error(.warning, "\(folder.name): \(item.relativePath) not uploaded: the server holds another message with its Message-ID \(item.file.messageID ?? "") (UID \(uid))")
                case nil: toAppend.append(item)
                }
            }
            guard !toAdopt.isEmpty || !toAppend.isEmpty else { continue }
            try local.recordUploads(toAdopt.map(\.upload) + toAppend.map(\.upload))
            try crashHook?(.intentRecorded)
            try await appendBatch(toAppend, toAdopt, folder, local, untagged)
        }
    }

    /// Appends `batch` (recorded in the map already), learns their UIDs — from APPENDUID with
    /// UIDPLUS, else by searching — and adopts them with `alsoAdopt` in one map commit.
    private func appendBatch(
        _ batch: [Outgoing], _ alsoAdopt: [(upload: PendingUpload, uid: UInt32)], _ folder: RemoteFolder, _ local: MaildirFolder,
        _ untagged: (ResponseEvent) -> Void
    ) async throws {
        let uidplus = session.capabilities.contains(.uidplus)
        var assigned: [String: UInt32] = [:]
        var refused: [String] = []
        var inFlight: [String: Int] = [:]  // tag → index in batch
        func drain(to limit: Int) async throws {
            while inFlight.count > limit {
                let (tag, status) = try await session.completion(anyOf: Set(inFlight.keys)) { untagged($0) }
                let item = batch[inFlight.removeValue(forKey: tag)!]
                guard status.condition == .ok else {
                    refused.append(item.upload.unique)
                    callback.error(.failed, "\(folder.name): \(item.relativePath) not uploaded: the server refused it: \(status.condition.rawValue) \(status.text)")
                    continue
                }
                if uidplus, case .appendUID(let validity, let uids)? = status.code, validity == local.uidValidity, uids.count == 1,
                    let uid = Array(uids).first
                {
                    assigned[item.upload.unique] = uid
                }
            }
        }
        func appendEach(_ indices: [Int]) async throws {
            for index in indices {
                let item = batch[index]
                let pipelined = session.appendsPipeline(size: item.file.wireSize)
                if !pipelined { try await drain(to: 0) }
                do {
                    let tag = try await session.sendAppend(
                        to: folder.mailbox, flags: item.upload.flags.imapFlags,
                        internalDate: item.upload.internalDate.flatMap { InternalDate(secondsSince1970: $0) }, message: item.file)
                    inFlight[tag] = index
                } catch IMAPCommandError.refused(_, let status) {
                    refused.append(item.upload.unique)
                    callback.error(.failed, "\(folder.name): \(item.relativePath) not uploaded: the server refused it: \(status.condition.rawValue) \(status.text)")
                } catch let error as UploadFileError {
                    // Unreadable before anything of it was sent (deleted meanwhile: nothing to say).
                    refused.append(item.upload.unique)
                    if !error.isMissing { callback.error(.storage, "\(folder.name): \(item.relativePath) not uploaded: \(error.reason)") }
                }
                try await drain(to: pipelined ? Self.appendWindow : 0)
                sent += 1
                _ = callback.progress(
                    step: "\(folder.name) uploading \(uploaded + sent)", index: UInt32(clamping: done),
                    max: UInt32(clamping: Swift.max(total, done)))
            }
        }
        var sent = 0
        var alone = Array(batch.indices)
        if session.appendsTogether {
            // Groups of messages in one MULTIAPPEND each, a few in flight: the server stores a
            // group in one transaction (Dovecot: one fsync and one index update, not one per
            // message). A group the server refuses stored nothing; its messages go one by one, so
            // that the one at fault is named and the others get in.
            alone = []
            var groups: [String: [Int]] = [:]  // tag → indices in batch
            func drainGroups(to limit: Int) async throws {
                while groups.count > limit {
                    let (tag, status) = try await session.completion(anyOf: Set(groups.keys)) { untagged($0) }
                    let indices = groups.removeValue(forKey: tag)!
                    guard status.condition == .ok else {
                        alone += indices
                        continue
                    }
                    if uidplus, case .appendUID(let validity, let uids)? = status.code, validity == local.uidValidity, uids.count == indices.count {
                        for (index, uid) in zip(indices, Array(uids)) { assigned[batch[index].upload.unique] = uid }
                    }
                }
            }
            var start = 0
            while start < batch.count {
                var end = start
                var bytes = 0
                while end < batch.count, end - start < Self.appendGroup, end == start || bytes + batch[end].file.wireSize <= Self.appendGroupBytes {
                    bytes += batch[end].file.wireSize
                    end += 1
                }
                let members = Array(start..<end)
                var skipped: [Int] = []
                let tag = try await session.sendAppends(
                    to: folder.mailbox,
                    members.map { (batch[$0].upload.flags.imapFlags, batch[$0].upload.internalDate.flatMap { InternalDate(secondsSince1970: $0) }, batch[$0].file) },
                    skipped: &skipped)
                let gone = Set(skipped.map { members[$0] })
                for index in gone {
                    // The user deleted it meanwhile: nothing to upload, nothing to say.
                    refused.append(batch[index].upload.unique)
                }
                if let tag { groups[tag] = members.filter { !gone.contains($0) } }
                try await drainGroups(to: Self.appendGroupsInFlight)
                sent += members.count
                _ = callback.progress(
                    step: "\(folder.name) uploading \(uploaded + sent)", index: UInt32(clamping: done),
                    max: UInt32(clamping: Swift.max(total, done)))
                start = end
            }
            try await drainGroups(to: 0)
            sent -= alone.count
        }
        try await appendEach(alone.sorted())
        try await drain(to: 0)
        try crashHook?(.appended)
        var adoptions = alsoAdopt
        var unknown: [Outgoing] = []
        for item in batch where !refused.contains(item.upload.unique) {
            if let uid = assigned[item.upload.unique] { adoptions.append((item.upload, uid)) } else { unknown.append(item) }
        }
        if !unknown.isEmpty {
            // No UIDPLUS: find each by Message-ID (or size and date) among the UIDs we do not have.
            var claimed = Set(adoptions.map(\.uid))
            let copies = try await findOnServer(unknown.map { ($0.upload, $0.file.messageID) }, local, retrying: true, claimed: &claimed)
            for item in unknown {
                if case .adopt(let uid, let flags)? = copies[item.upload.unique] {
                    adoptions.append((item.upload.agreeing(flags), uid))
                } else {
                    // Left recorded: the next run looks again before appending it a second time.
                    callback.error(.warning, "\(folder.name): \(item.relativePath) was uploaded but not found on the server again; the next run looks for it")
                }
            }
        }
        try local.adoptUploads(adoptions)
        try local.dropUploads(refused)
        uploaded += adoptions.count
        try crashHook?(.adopted)
    }

    /// Looks for server copies of `items`: by Message-ID when there is one, else (only when
    /// `retrying`: after an APPEND whose UID is unknown) by size among UIDs above the highest
    /// downloaded; candidates are confirmed by RFC822.SIZE and, when retrying, INTERNALDATE.
    /// Only unmapped UIDs not in `claimed` are adopted (and then claimed).
    ///
    /// Retrying, a same-Message-ID message we do not have is taken even if its size differs (a
    /// server may rewrite what it stores); for a new file only an exact copy is adopted, and any
    /// other message with its Message-ID is reported as ``ServerCopy/elsewhere(_:)``.
    func findOnServer(
        _ items: [(upload: PendingUpload, messageID: String?)], _ local: MaildirFolder, retrying: Bool, claimed: inout Set<UInt32>
    ) async throws -> [String: ServerCopy] {
        var results: [[UInt32]] = Array(repeating: [], count: items.count)
        // A new file can only have an unmapped server copy among the messages the server got
        // after our last download (every older one is mapped here): one cheap search for those,
        // and none of the header searches, which read every message, when there are none. Mapped
        // ones above it are our own uploads (adopted, not downloaded: the highest UID stays):
        // left out, or each batch of a large upload would search every batch before it.
        var scope: [SearchKey] = []
        if !retrying, items.contains(where: { $0.messageID != nil }) {
            let highest = local.highestUID
            var newer: [UInt32] = []
            try await session.run(.uidSearch([.uid(.from(highest + 1))])) { event in
                // `UID n:*` always matches the highest UID even when it is below n: filter.
                if case .search(let uids, _) = event { newer += uids.filter { $0 > highest && !local.contains($0) } }
            }
            guard !newer.isEmpty else { return [:] }
            scope = [.uid(UIDSet(newer))]
        }
        var searches: [(index: Int, keys: [SearchKey])] = []
        for (index, item) in items.enumerated() {
            let size = UInt32(clamping: item.upload.wireSize)
            if let id = item.messageID {
                searches.append((index, scope + [.header("Message-ID", id)]))
            } else if retrying {
                searches.append((index, [.uid(.from(local.highestUID + 1)), .larger(size - 1), .smaller(size &+ 1)]))
            }
        }
        guard !searches.isEmpty else { return [:] }
        if session.capabilities.contains(.esearch) {
            // Pipelined: ESEARCH answers name their command's tag.
            var byTag: [String: Int] = [:]
            for search in searches { byTag[try await session.send(.uidSearch(search.keys, returning: [.all]))] = search.index }
            var pending = Set(byTag.keys)
            while !pending.isEmpty {
                let tag = try await session.complete(anyOf: pending, name: "UID SEARCH") { event in
                    if case .esearch(let answer) = event, let answerTag = answer.tag, let target = byTag[answerTag] {
                        results[target] += Array(answer.all ?? UIDSet())
                    }
                }
                pending.remove(tag)
            }
        } else {
            for search in searches {
                try await session.run(.uidSearch(search.keys)) { event in
                    if case .search(let uids, _) = event { results[search.index] += uids }
                }
            }
        }
        // Size, date and flags of every match, in one fetch.
        let candidates = Set(results.joined())
        var facts: [UInt32: (size: Int?, date: Int64?, flags: MessageFlags)] = [:]
        if !candidates.isEmpty {
            var current: (uid: UInt32?, size: Int?, date: Int64?, flags: MessageFlags) = (nil, nil, nil, [])
            try await session.run(.uidFetch(UIDSet(candidates), [.uid, .flags, .rfc822Size, .internalDate])) { event in
                switch event {
                case .fetchStart: current = (nil, nil, nil, [])
                case .fetchAttribute(.uid(let uid)): current.uid = uid
                case .fetchAttribute(.flags(let flags)): current.flags = MessageFlags(imap: flags)
                case .fetchAttribute(.rfc822Size(let size)): current.size = size
                case .fetchAttribute(.internalDate(let date)): current.date = date.secondsSince1970
                case .fetchEnd: if let uid = current.uid { facts[uid] = (current.size, current.date, current.flags) }
                default: break
                }
            }
        }
        var copies: [String: ServerCopy] = [:]
        for (index, item) in items.enumerated() where !results[index].isEmpty {
            let uids = results[index].sorted()
            let free = uids.filter { !local.contains($0) && !claimed.contains($0) && facts[$0] != nil }
            func exact(_ uid: UInt32) -> Bool {
                guard let fact = facts[uid], fact.size == item.upload.wireSize else { return false }
                guard retrying, let date = item.upload.internalDate else { return true }
                return fact.date == date
            }
            let chosen = free.first(where: exact) ?? (retrying && item.messageID != nil ? free.first : nil)
            if let chosen, let fact = facts[chosen] {
                claimed.insert(chosen)
                copies[item.upload.unique] = .adopt(chosen, fact.flags)
            } else if !retrying,
                // Not one flagged \Deleted (an old draft deleted here, kept there): that one is going.
                let other = uids.first(where: { facts[$0].map { !$0.flags.contains(.trashed) } ?? false })
            {
                copies[item.upload.unique] = .elsewhere(other)
            }
        }
        return copies
    }
}

extension PendingUpload {
    /// The same upload, agreed with the server on `flags`.
    func agreeing(_ flags: MessageFlags) -> PendingUpload {
        PendingUpload(
            unique: unique, localBase: localBase, flags: flags, wireSize: wireSize, internalDate: internalDate, moveSource: moveSource)
    }
}

// MARK: Local deletions

extension IMAPSyncRun {
    /// Whether a deletion here ends in an expunge on the server: asked for (`expunge = true`),
    /// and possible without touching other messages (UID EXPUNGE needs UIDPLUS; a plain EXPUNGE
    /// would remove every `\Deleted` message in the mailbox, also other clients').
    var expungesDeletions: Bool { account.expunge && session.capabilities.contains(.uidplus) }

    /// The messages deleted here that still need something on the server: mapped, file gone, and
    /// not already flagged `\Deleted` there by an earlier run that could not expunge them.
    func pendingDeletions(_ local: MaildirFolder, _ vanished: [UInt32]) -> [UInt32] {
        let moving = movingAway[local.name] ?? []
        return vanished.filter { uid in
            guard let entry = local.map[uid], !moving.contains(uid) else { return false }
            return expungesDeletions || !entry.flags.contains(.trashed)
        }
    }

    /// Propagates local deletions to the server: each message whose file the user deleted is
    /// flagged `\Deleted` and, if ``expungesDeletions``, expunged with UID EXPUNGE; then dropped
    /// from the map (or, kept on the server, recorded as agreed `\Deleted`). The server's state
    /// is read first:
    /// - a message gone there already is only dropped here;
    /// - a message whose flags changed there since the last sync is kept — the change wins over
    ///   the delete — and returned, to be downloaded again (reported as a warning);
    /// - if what is left exceeds the safety valve (more than `max_delete_share` of the server's
    ///   messages in the folder, and at least `max_delete_min`), nothing destructive happens in the
    ///   folder: an Error names the folder and the count, until a run with
    ///   ``SyncFlags/allowMassDelete``.
    /// Each step is idempotent on the server, so a run stopped anywhere is finished by the next.
    /// - Returns: the UIDs to download again.
    func uploadDeletions(
        _ folder: RemoteFolder, _ local: MaildirFolder, _ deletions: [UInt32], serverCount: Int,
        untagged: (ResponseEvent) -> Void
    ) async throws -> [UInt32] {
        guard !deletions.isEmpty else { return [] }
        var server: [UInt32: MessageFlags] = [:]
        var fetching: (uid: UInt32?, flags: MessageFlags?) = (nil, nil)
        try await session.run(.uidFetch(UIDSet(deletions), [.uid, .flags])) { event in
            switch event {
            case .fetchStart: fetching = (nil, nil)
            case .fetchAttribute(.uid(let uid)): fetching.uid = uid
            case .fetchAttribute(.flags(let flags)): fetching.flags = MessageFlags(imap: flags)
            case .fetchEnd: if let uid = fetching.uid, let flags = fetching.flags { server[uid] = flags }
            default: untagged(event)
            }
        }
        let goneThere = deletions.filter { server[$0] == nil }
        // A change there wins over the delete here; `\Deleted` alone is no such change (it agrees
        // with the delete: another client's, or ours from a run stopped before its expunge).
        let changedThere = deletions.filter { uid in
            guard let now = server[uid], let agreed = local.map[uid]?.flags else { return false }
            return now.subtracting(.trashed) != agreed.subtracting(.trashed)
        }
        let doomed = deletions.filter { server[$0] != nil && !changedThere.contains($0) }
        if !goneThere.isEmpty { try local.expunge(goneThere) }
        let share = account.maxDeleteShare
        if doomed.count >= account.maxDeleteMin, doomed.count * 100 > serverCount * share, !flags.contains(.allowMassDelete) {
            failedFolders += 1
            callback.error(.failed, "\(folder.name): \(doomed.count) of its \(serverCount) messages were deleted here; not deleting them on the server (more than \(share) % at once: an emptied or unmounted Maildir?). If they are meant to go, run `syncctl sync \(callback.store) --allow-mass-delete`")
            return []
        }
        if !changedThere.isEmpty {
            callback.error(.warning, "\(folder.name): \(changedThere.count) messages deleted here were changed on the server since the last sync; kept, and downloaded again")
        }
        guard !doomed.isEmpty else { return changedThere }
        let set = UIDSet(doomed)
        try await session.run(.uidStore(set, .add, [.deleted])) { untagged($0) }
        try crashHook?(.deletionFlagged)
        if expungesDeletions {
            try await session.run(.uidExpunge(set)) { untagged($0) }
            try crashHook?(.deletionExpunged)
            try local.expunge(doomed)
        } else {
            // Kept on the server, flagged: agreed as `\Deleted`, so later runs leave them be.
            try local.recordSyncedFlags(Dictionary(uniqueKeysWithValues: doomed.map { ($0, local.map[$0]!.flags.union(.trashed)) }))
        }
        deleted += doomed.count
        return changedThere
    }

    /// Downloads again messages whose file is gone here (the server's change won over the local
    /// delete): the map keeps them meanwhile, so a run stopped before is finished by the next.
    func restore(_ uids: [UInt32], _ folder: RemoteFolder, _ local: MaildirFolder) async throws {
        guard !uids.isEmpty else { return }
        let batch = try local.beginBatch()
        var writer: MessageWriter?
        var uid: UInt32?
        try await session.run(.uidFetch(UIDSet(uids), [.uid, .body(.complete, peek: true)])) { event in
            switch event {
            case .fetchStart: (uid, writer) = (nil, nil)
            case .fetchAttribute(.uid(let value)): uid = value
            case .bodyStart:
                guard let uid else { throw IMAPCommandError.protocolViolation("the server sent a message body before its UID") }
                writer = try batch.openRestore(uid: uid)
            case .bodyChunk(let chunk): try chunk.withUnsafeReadableBytes { try writer?.write($0) }
            case .bodyEnd:
                try writer?.finish()
                writer = nil
            default: break
            }
        }
        _ = try batch.commit()
    }
}
