import IMAPProtocol
import Maildir
import SyncProtocol

/// Moves between local folders become server moves.
///
/// A mail client moves a message by renaming its file into another folder's `cur/`: the source
/// folder's map still knows the UID, the file is gone there, and the destination holds a file
/// whose base name (the part before `:2,`) is that entry's. Such a pair is sent as `UID MOVE`
/// (RFC 6851) when offered, else `UID COPY` + `\Deleted` (+ `UID EXPUNGE` with UIDPLUS): never a
/// deletion and an upload, never a download of the moved copy. The destination UID comes from
/// COPYUID (RFC 4315) and the destination's file is adopted under it; without UIDPLUS the copy is
/// found by Message-ID.
///
/// Exactly once: the move is recorded in the destination's UID map (an upload with a
/// ``MoveSource``) before the command is sent. A move an earlier run left open is resolved
/// before anything else: arrived in the destination (searched by Message-ID)? adopted, and the
/// source's copy, if still there, expunged; still in the source? moved again; in neither? appended.
///
/// Moves run before any folder's deletions, so a mass move never trips the safety valve of the
/// folder it left.
extension IMAPSyncRun {
    /// One message to move: its intent in the destination's map, its UID in the source.
    struct Move {
        var upload: PendingUpload
        var source: UInt32
    }

    func uploadMoves(_ folders: [RemoteFolder]) async throws {
        let remote = Dictionary(folders.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var open: [FolderName: MaildirFolder] = [:]
        var changes: [FolderName: LocalChanges] = [:]
        for name in remote.keys {
            guard let prepared = localFolders.peek(name) else { continue }
            if prepared.folder.uidValidity == nil {
                // Never synced (made here, created on the server by this run): it takes the
                // server's UIDVALIDITY now, so that a message moved into it is moved there, not
                // appended anew and deleted from the folder it left.
                guard !prepared.changes.unknownFiles.isEmpty, let validity = remote[name]?.status?.uidValidity else { continue }
                try prepared.folder.resetFolder(newUIDValidity: validity)
            }
            open[name] = prepared.folder
            changes[name] = prepared.changes
        }
        let byDescription = Dictionary(open.keys.map { ($0.description, $0) }, uniquingKeysWith: { first, _ in first })
        defer { movingAway = Self.openMoves(open, byDescription) }
        movingAway = Self.openMoves(open, byDescription)

        // Moves an earlier run left open, first.
        for (name, local) in open.sorted(by: { $0.key < $1.key }) where !local.pendingMoves.isEmpty {
            try checkCancelled()
            do {
                try await resolveMoves(local.pendingMoves, into: remote[name]!, local, remote, open, byDescription)
            } catch let error as IMAPCommandError {
                guard case .refused = error else { throw error }
                callback.error(.failed, "\(name): moves into it left open: \(error)")
            }
        }

        // New moves: a mapped message whose file is gone, whose base name a new file elsewhere
        // has — or, for a client that names the moved file anew, whose Message-ID and size it has.
        var gone: [String: (folder: FolderName, uid: UInt32)] = [:]
        for (name, local) in open {
            let moving = movingAway[name] ?? []
            for uid in changes[name]?.vanished ?? [] where !moving.contains(uid) {
                if let entry = local.map[uid], !entry.isHeadersOnly { gone[entry.baseName] = (name, uid) }
            }
        }
        guard !gone.isEmpty else { return }
        var planned: [FolderName: [FolderName: [Move]]] = [:]  // destination → source → moves
        var renamed: [(destination: FolderName, file: LocalMessageFile, measured: UploadFile)] = []
        func plan(_ file: LocalMessageFile, _ measured: UploadFile, from source: FolderName, uid: UInt32, to destination: FolderName) {
            guard let from = open[source], let entry = from.map[uid], let validity = from.uidValidity, let local = open[destination] else { return }
            let upload = PendingUpload(
                unique: local.makeUniqueName(), localBase: file.base, flags: entry.flags, wireSize: measured.wireSize,
                internalDate: nil, moveSource: MoveSource(folder: source.description, uidValidity: validity, uid: uid))
            planned[destination, default: [:]][source, default: []].append(Move(upload: upload, source: uid))
        }
        for (destination, local) in open.sorted(by: { $0.key < $1.key }) {
            guard let scanned = changes[destination], !scanned.unknownFiles.isEmpty else { continue }
            for file in local.newLocalMessages(scanned) {
                guard let measured = try? UploadFile(path: file.path), measured.wireSize > 0 else { continue }
                if let (source, uid) = gone[file.base], source != destination {
                    gone[file.base] = nil
                    plan(file, measured, from: source, uid: uid, to: destination)
                } else if measured.messageID != nil {
                    renamed.append((destination, file, measured))
                }
            }
        }
        if !gone.isEmpty, !renamed.isEmpty {
            var identities = try await identify(Array(gone.values), remote, open)
            for item in renamed {
                guard let key = Self.identity(item.measured.messageID, item.measured.wireSize),
                      let (source, uid) = identities[key], source != item.destination
                else { continue }
                identities[key] = nil
                plan(item.file, item.measured, from: source, uid: uid, to: item.destination)
            }
        }
        for (destination, bySource) in planned.sorted(by: { $0.key < $1.key }) {
            let local = open[destination]!
            for (source, moves) in bySource.sorted(by: { $0.key < $1.key }) {
                try checkCancelled()
                try local.recordUploads(moves.map(\.upload))
                movingAway[source, default: []].formUnion(moves.map(\.source))
                try crashHook?(.moveIntentRecorded)
                do {
                    try await move(moves, arrived: [], from: remote[source]!, open[source]!, to: remote[destination]!, local)
                } catch let error as IMAPCommandError {
                    guard case .refused = error else { throw error }
                    callback.error(.failed, "\(source): \(moves.count) messages moved here to \(destination) not moved on the server: \(error)")
                }
            }
            // A flag changed on the way (a message flagged as it was moved) is a local change to
            // the message now mapped here: its folder's sync sends it.
            localFolders.rescan(destination)
        }
    }

    private static func identity(_ messageID: String?, _ size: Int?) -> String? {
        guard let messageID, let size else { return nil }
        return "\(size) \(messageID)"
    }

    /// The Message-ID and size of each of `messages` (gone here, unmatched by name), as the
    /// server has them: one FETCH per source folder, of the header field alone.
    private func identify(
        _ messages: [(folder: FolderName, uid: UInt32)], _ remote: [FolderName: RemoteFolder], _ open: [FolderName: MaildirFolder]
    ) async throws -> [String: (folder: FolderName, uid: UInt32)] {
        var result: [String: (folder: FolderName, uid: UInt32)] = [:]
        let section = BodySection(.headerFields(["Message-ID"]))
        for (name, group) in Dictionary(grouping: messages, by: \.folder).sorted(by: { $0.key < $1.key }) {
            guard let folder = remote[name], let local = open[name], try await selectMatching(folder, local) else { continue }
            var current: (uid: UInt32?, size: Int?, header: [UInt8]) = (nil, nil, [])
            try await session.run(.uidFetch(UIDSet(group.map(\.uid)), [.uid, .rfc822Size, .body(section, peek: true, partial: nil)])) { event in
                switch event {
                case .fetchStart: current = (nil, nil, [])
                case .fetchAttribute(.uid(let uid)): current.uid = uid
                case .fetchAttribute(.rfc822Size(let size)): current.size = size
                case .bodyChunk(let bytes): if current.header.count < 64 * 1024 { current.header += bytes.readableBytesView }
                case .fetchEnd:
                    if let uid = current.uid, let key = Self.identity(UploadFile.messageID(inHeader: current.header), current.size),
                       result[key] == nil {
                        result[key] = (name, uid)
                    }
                default: break
                }
            }
        }
        return result
    }

    /// The source UIDs of every move still open, by source folder.
    private static func openMoves(_ open: [FolderName: MaildirFolder], _ byDescription: [String: FolderName]) -> [FolderName: Set<UInt32>] {
        var result: [FolderName: Set<UInt32>] = [:]
        for local in open.values {
            for move in local.pendingMoves {
                guard let source = move.moveSource, let name = byDescription[source.folder] else { continue }
                result[name, default: []].insert(source.uid)
            }
        }
        return result
    }

    /// Resolves moves into `local` that an earlier run recorded: each is looked for in the
    /// destination on the server first.
    private func resolveMoves(
        _ moves: [PendingUpload], into destination: RemoteFolder, _ local: MaildirFolder, _ remote: [FolderName: RemoteFolder],
        _ open: [FolderName: MaildirFolder], _ byDescription: [String: FolderName]
    ) async throws {
        guard try await selectMatching(destination, local) else { return }  // renumbered: its sync resets it
        var claimed = Set<UInt32>()
        var files: [String: String] = [:]  // unique → current path
        for move in moves { if let path = try local.currentPath(of: move) { files[move.unique] = path } }
        let copies = try await findOnServer(
            moves.map { ($0, files[$0.unique].flatMap { try? UploadFile(path: $0) }?.messageID) }, local, retrying: true, claimed: &claimed)
        var adoptions: [(upload: PendingUpload, uid: UInt32)] = []
        for move in moves { if case .adopt(let uid, _)? = copies[move.unique] { adoptions.append((move, uid)) } }
        try local.adoptUploads(adoptions)
        moved += adoptions.count
        let arrived = Set(adoptions.map(\.upload.unique))
        // Not arrived and deleted here meanwhile: no move, a deletion in the source.
        try local.dropUploads(moves.filter { !arrived.contains($0.unique) && files[$0.unique] == nil }.map(\.unique))
        let bySource = Dictionary(grouping: moves.filter { arrived.contains($0.unique) || files[$0.unique] != nil }) { $0.moveSource!.folder }
        for (sourceName, group) in bySource.sorted(by: { $0.key < $1.key }) {
            let validity = group[0].moveSource!.uidValidity
            guard let name = byDescription[sourceName], let from = open[name], from.uidValidity == validity, let folder = remote[name] else {
                // The source is gone, or renumbered: what did not arrive is appended.
                try local.recordUploads(group.filter { !arrived.contains($0.unique) }.map(\.withoutMoveSource))
                continue
            }
            let pending = group.filter { !arrived.contains($0.unique) }.map { Move(upload: $0, source: $0.moveSource!.uid) }
            let done = group.filter { arrived.contains($0.unique) }.map { $0.moveSource!.uid }
            try await move(pending, arrived: done, from: folder, from, to: destination, local)
        }
    }

    /// SELECTs `folder`; whether its UIDVALIDITY is the one `local` has.
    private func selectMatching(_ folder: RemoteFolder, _ local: MaildirFolder) async throws -> Bool {
        var validity: UInt32?
        try await session.run(.select(folder.mailbox)) { event in
            if case .untagged(let status) = event, case .uidValidity(let value)? = status.code { validity = value }
        }
        return validity != nil && validity == local.uidValidity
    }

    /// Moves `moves` (recorded in `local`'s map) from `source` to `destination` on the server and
    /// adopts the destination's files under the UIDs they got; removes from the source whatever
    /// of `arrived` (source UIDs already adopted in the destination) is still there; drops all
    /// of them from the source's map. A message gone from the source on the server is appended
    /// instead (its intent becomes a plain upload).
    private func move(
        _ moves: [Move], arrived: [UInt32], from source: RemoteFolder, _ sourceLocal: MaildirFolder, to destination: RemoteFolder,
        _ local: MaildirFolder
    ) async throws {
        guard !moves.isEmpty || !arrived.isEmpty else { return }
        guard try await selectMatching(source, sourceLocal) else {
            // Renumbered on the server: the source's sync quarantines it; the files here are uploads.
            try local.recordUploads(moves.map(\.upload.withoutMoveSource))
            return
        }
        // Which are still there: gone ones (another client's expunge) are appended instead;
        // arrived ones still there (a COPY whose expunge a crash cut off) are removed.
        var present = Set<UInt32>()
        try await session.run(.uidSearch([.uid(UIDSet(moves.map(\.source) + arrived))])) { event in
            if case .search(let uids, _) = event { present.formUnion(uids) }
        }
        let moving = moves.filter { present.contains($0.source) }
        let lost = moves.filter { !present.contains($0.source) }
        try local.recordUploads(lost.map(\.upload.withoutMoveSource))
        let leftovers = arrived.filter { present.contains($0) }
        let uidplus = session.capabilities.contains(.uidplus)
        if !leftovers.isEmpty {
            let set = UIDSet(leftovers)
            try await session.run(.uidStore(set, .add, [.deleted]))
            if uidplus { try await session.run(.uidExpunge(set)) }
        }
        var assigned: [UInt32: UInt32] = [:]  // source UID → destination UID
        if !moving.isEmpty {
            let set = UIDSet(moving.map(\.source))
            func learn(_ code: ResponseCode?) {
                guard case .copyUID(let validity, let from, let to)? = code, validity == local.uidValidity else { return }
                for (old, new) in zip(Array(from), Array(to)) { assigned[old] = new }
            }
            if session.capabilities.contains(.move) {
                let status = try await session.run(.uidMove(set, destination.mailbox)) { event in
                    if case .untagged(let status) = event { learn(status.code) }
                }
                learn(status.code)
            } else {
                learn(try await session.run(.uidCopy(set, destination.mailbox)).code)
                try crashHook?(.copied)
                try await session.run(.uidStore(set, .add, [.deleted]))
                if uidplus { try await session.run(.uidExpunge(set)) }
            }
            try crashHook?(.moved)
        }
        var adoptions: [(upload: PendingUpload, uid: UInt32)] = []
        var unknown: [Move] = []
        for item in moving {
            if let uid = assigned[item.source], !local.contains(uid) { adoptions.append((item.upload, uid)) } else { unknown.append(item) }
        }
        if !unknown.isEmpty, try await selectMatching(destination, local) {
            // No COPYUID: found by Message-ID (or size) among the destination's unmapped messages.
            var claimed = Set(adoptions.map(\.uid))
            var items: [(upload: PendingUpload, messageID: String?)] = []
            for item in unknown {
                let path = try local.currentPath(of: item.upload)
                items.append((item.upload, path.flatMap { try? UploadFile(path: $0) }?.messageID))
            }
            let copies = try await findOnServer(items, local, retrying: true, claimed: &claimed)
            for item in unknown {
                if case .adopt(let uid, let flags)? = copies[item.upload.unique] {
                    adoptions.append((item.upload.agreeing(flags), uid))
                } else {
                    callback.error(.warning, "\(destination.name): a message moved here from \(source.name) was moved on the server but not found here again; the next run looks for it")
                }
            }
        }
        try local.adoptUploads(adoptions)
        moved += adoptions.count
        try crashHook?(.moveAdopted)
        let adopted = Set(adoptions.map(\.upload.unique))
        let finished = moving.filter { adopted.contains($0.upload.unique) }.map(\.source) + lost.map(\.source) + arrived
        try sourceLocal.expunge(finished)
        movingAway[source.name]?.subtract(finished)
    }
}
