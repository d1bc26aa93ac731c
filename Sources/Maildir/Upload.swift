#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A local message on its way to the server (IMAP APPEND), recorded in the UID map *before* it is
/// sent, so that a run stopped anywhere — before the APPEND, after the server stored it but before
/// its UID was recorded, after — is finished by the next without the message ending up twice on
/// either side:
///
/// 1. ``MaildirFolder/recordUploads(_:)`` commits the intent (one map commit for a batch).
/// 2. The message is appended.
/// 3. ``MaildirFolder/adoptUploads(_:)`` renames the user's file to carry this folder's markers
///    (`<unique>,S=,F=,V=,U=`, with ``unique`` chosen in step 1), fsyncs the directories, and
///    commits the map with an entry for the new UID in place of the intent.
///
/// A crash between the renames and the map commit of step 3 is finished by recovery: a file of
/// ours whose name starts with an intent's ``unique`` is that upload, adopted under its UID (and,
/// unlike a download, without raising the map's highest UID: messages below it may still be
/// waiting for download). An intent still open at the next run is resolved against the server
/// (search by Message-ID, size and date) before anything is downloaded or appended again.
public struct PendingUpload: Sendable, Hashable {
    /// The `<unique>` part (see ``MessageFileName``) the file is renamed to when adopted.
    public let unique: String
    /// The base name (up to `:2,`) of the user's file: how it is found again (mail clients keep it
    /// when they change flags or move the file from `new/` to `cur/`).
    public let localBase: String
    /// The flags it is appended with: the ones agreed with the server once adopted.
    public let flags: MessageFlags
    /// The size of the APPEND literal (the message with CRLF line ends): the server's RFC822.SIZE.
    public let wireSize: Int
    /// The INTERNALDATE sent with the APPEND, in seconds since 1970, if one was.
    public let internalDate: Int64?

    /// For a message the user moved here from another folder: where it is on the server, to be
    /// moved (UID MOVE, or COPY and expunge) rather than appended. See ``MoveSource``.
    public let moveSource: MoveSource?

    public init(
        unique: String, localBase: String, flags: MessageFlags, wireSize: Int, internalDate: Int64?, moveSource: MoveSource? = nil
    ) {
        self.unique = unique
        self.localBase = localBase
        self.flags = flags
        self.wireSize = wireSize
        self.internalDate = internalDate
        self.moveSource = moveSource
    }

    /// The same upload without its move source: a plain upload (APPEND) from now on.
    public var withoutMoveSource: PendingUpload {
        PendingUpload(unique: unique, localBase: localBase, flags: flags, wireSize: wireSize, internalDate: internalDate)
    }

    /// `%XX` for `%` and every byte outside printable ASCII or a space: a map line holds any name.
    static func escape(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            if byte > 0x20, byte < 0x7F, byte != UInt8(ascii: "%") {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" : "") + hex
            }
        }
        return out
    }

    static func unescape(_ text: String) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next(), let low = iterator.next(),
                let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            else { return nil }
            bytes.append(value)
        }
        return String(validating: bytes, as: UTF8.self)
    }
}

/// Where a message moved here locally is on the server: the folder it left (its name as
/// ``FolderName/description`` gives it), that folder's UIDVALIDITY and the message's UID there.
/// Recorded in the destination's UID map before the server is asked to move it, so that a run
/// stopped anywhere is finished by the next: arrived in the destination (found by Message-ID)?
/// Then adopted, and whatever is left in the source expunged; still in the source? Moved again;
/// in neither? Appended.
public struct MoveSource: Sendable, Hashable {
    public let folder: String
    public let uidValidity: UInt32
    public let uid: UInt32

    public init(folder: String, uidValidity: UInt32, uid: UInt32) {
        self.folder = folder
        self.uidValidity = uidValidity
        self.uid = uid
    }

    /// `from:<uidvalidity>:<uid>:<folder, %-escaped>`, a map line's seventh field.
    var encoded: String { "from:\(uidValidity):\(uid):" + PendingUpload.escape(folder) }

    init?(encoded: String) {
        let parts = encoded.split(separator: ":", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "from", let validity = UInt32(parts[1]), let uid = UInt32(parts[2]), uid > 0,
            let folder = PendingUpload.unescape(String(parts[3])), !folder.isEmpty
        else { return nil }
        self.init(folder: folder, uidValidity: validity, uid: uid)
    }
}

/// A message file of the user's (no markers of this folder) that the UID map does not know: a
/// candidate for upload.
public struct LocalMessageFile: Sendable, Hashable {
    /// `cur/<name>` or `new/<name>`.
    public let relativePath: String
    /// The absolute path.
    public let path: String
    /// The name up to `:2,`.
    public let base: String
    /// The flags its name carries (none in `new/`).
    public let flags: MessageFlags
}

extension MaildirFolder {
    /// Uploads recorded and not yet resolved (see ``PendingUpload``), by unique part; moves
    /// (``PendingUpload/moveSource``) included.
    public var pendingUploads: [PendingUpload] { map.uploads.values.sorted { $0.unique < $1.unique } }

    /// Moves into this folder recorded and not yet resolved, by unique part.
    public var pendingMoves: [PendingUpload] { pendingUploads.filter { $0.moveSource != nil } }

    /// The user's files that are new to the map: the scan's ``LocalChanges/unknownFiles``, without
    /// duplicates of mapped messages (same base name) and without files an upload in flight
    /// already covers.
    public func newLocalMessages(_ changes: LocalChanges) -> [LocalMessageFile] {
        let mapped = Set(map.entries.values.map(\.baseName))
        let uploading = Set(map.uploads.values.map(\.localBase))
        var seen = Set<String>()
        var files: [LocalMessageFile] = []
        // cur/ sorts before new/: a base name in both is the cur/ file.
        for relative in changes.unknownFiles {
            let inNew = relative.hasPrefix("new/")
            let name = String(relative.dropFirst(4))
            let parsed = MessageFileName(name)
            guard !mapped.contains(parsed.base), !uploading.contains(parsed.base), seen.insert(parsed.base).inserted else { continue }
            files.append(LocalMessageFile(
                relativePath: relative, path: path + "/" + relative, base: parsed.base, flags: inNew ? [] : parsed.flags))
        }
        return files
    }

    /// The current path of an upload's file (its name may have changed since it was recorded),
    /// or `nil` if the user deleted it.
    /// - Throws: ``MaildirError/Code/io``.
    public func currentPath(of upload: PendingUpload) throws -> String? {
        try checkUsable()
        return try findUserFile(base: upload.localBase).map { path + "/" + $0.relativePath }
    }

    /// Chooses the unique name part an upload's file will get (see ``PendingUpload``).
    public func makeUniqueName() -> String { store.nextUniqueName() }

    /// Records uploads about to be appended: one map commit.
    /// - Throws: ``MaildirError/Code/noUIDValidity`` for a folder never synced;
    ///   ``MaildirError/Code/io`` (the handle then needs reopening).
    public func recordUploads(_ uploads: [PendingUpload]) throws {
        guard !uploads.isEmpty else { return }
        guard map.uidValidity != nil, map.folderID != nil else {
            throw MaildirError(.noUIDValidity, "folder \(name) has no UIDVALIDITY yet: nothing can be uploaded before its first sync")
        }
        try mutate {
            var next = map
            for upload in uploads { next.uploads[upload.unique] = upload }
            try persist(next)
        }
    }

    /// Forgets uploads that turned out not to be needed (the file is gone and the server does not
    /// have it, or the server had it already): one map commit.
    public func dropUploads(_ uniques: some Sequence<String>) throws {
        try mutate {
            var next = map
            for unique in uniques { next.uploads[unique] = nil }
            if next != map { try persist(next) }
        }
    }

    /// Adopts appended messages under the UIDs the server gave them: renames each user's file to
    /// carry this folder's markers (flags and directory unchanged), fsyncs the directories, then
    /// commits the map with the new entries (flags: those appended with) in place of the intents.
    /// A file the user deleted meanwhile is mapped all the same, and so shows as deleted locally.
    /// The highest UID is not raised: the server may hold messages below these not downloaded yet.
    /// - Throws: ``MaildirError/Code/duplicateUID`` if a UID is already mapped;
    ///   ``MaildirError/Code/io`` (the handle then needs reopening; recovery finishes the adoption).
    public func adoptUploads(_ adoptions: [(upload: PendingUpload, uid: UInt32)]) throws {
        guard !adoptions.isEmpty else { return }
        guard let uidValidity = map.uidValidity, let folderID = map.folderID else {
            throw MaildirError(.noUIDValidity, "folder \(name) has no UIDVALIDITY yet")
        }
        for (_, uid) in adoptions where map.entries[uid] != nil || uid == 0 {
            throw MaildirError(.duplicateUID, "UID \(uid) of \(name) is already mapped to another message")
        }
        try mutate {
            // One pass over the listing for the whole batch, not one per adopted message.
            let wanted = Set(adoptions.map(\.upload.localBase))
            let userFiles = userFiles(bases: wanted, in: try list().files)
            var next = map
            var touched = Set<String>()
            for (index, (upload, uid)) in adoptions.enumerated() {
                let file = userFiles[upload.localBase]
                var size = upload.wireSize
                if let file, let info = try Posix.status(path + "/" + file.relativePath) { size = Int(info.st_size) }
                let base = MessageFileName.ourBase(unique: upload.unique, size: size, folderID: folderID, uidValidity: uidValidity, uid: uid)
                if let file {
                    let directory = file.inNew ? newPath : curPath
                    let target = base + String(decoding: file.name.utf8.dropFirst(file.parsed.base.utf8.count), as: UTF8.self)
                    try Posix.renameNoReplace(directory + "/" + file.name, directory + "/" + target)
                    touched.insert(directory)
                    locations[uid] = Location(inNew: file.inNew, name: target, base: base)
                }
                next.entries[uid] = UIDMap.Entry(baseName: base, flags: upload.flags)
                next.uploads[upload.unique] = nil
                if index == 0 { try crash(.uploadFirstRenamed) }
            }
            for directory in touched.sorted() { try store.syncDirectory(directory) }
            try crash(.uploadDirectoriesSynced)
            try persist(next)
        }
    }

    /// The user's (unmarked, unmapped) file with this base name, preferring `cur/`.
    func findUserFile(base: String) throws -> MessageFile? {
        userFile(base: base, in: try list().files)
    }

    private func userFile(base: String, in files: [MessageFile]) -> MessageFile? {
        userFiles(bases: [base], in: files)[base]
    }

    /// The user's file for each of `bases` that has one, preferring `cur/`.
    private func userFiles(bases: Set<String>, in files: [MessageFile]) -> [String: MessageFile] {
        var found: [String: MessageFile] = [:]
        for file in files where bases.contains(file.parsed.base) && !(file.parsed.isOurs && file.parsed.folderID == map.folderID) {
            if let seen = found[file.parsed.base], !seen.inNew { continue }
            if found[file.parsed.base] == nil || !file.inNew { found[file.parsed.base] = file }
        }
        return found
    }
}
