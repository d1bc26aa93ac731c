/// What a folder's local copy records about the server: UIDVALIDITY, the highest UID and
/// HIGHESTMODSEQ seen, and for every downloaded message its UID, file base name and the flags last
/// agreed with the server (the base that ``MaildirFolder/scanLocalChanges()`` compares files to).
///
/// Persisted as `.syncd-uidmap` in the folder's directory, replaced atomically on every commit
/// (temp file, fsync, rename, fsync of the directory). The format is line-based ASCII:
/// ```
/// syncd-uidmap 1
/// folder 1a2b3c4d
/// uidvalidity 1700000000
/// highestuid 42
/// highestmodseq 9001
/// messages 2
/// 41 FS 1700000001.M5P7Q1R0badf00d.host,S=4096,F=1a2b3c4d,V=1700000000,U=41
/// 42 - 1700000001.M9P7Q2Rcafe0001.host,S=120,F=1a2b3c4d,V=1700000000,U=42 =S
/// end
/// ```
/// `folder`, `uidvalidity` and `highestmodseq` lines are omitted when unknown. Each message line is
/// `<uid> <flags or -> <base name>` and, while a two-phase change is in flight, a fourth field: `x`
/// (being expunged) or `=<flags>` (being renamed to those flags); recovery completes either. Lines are
/// sorted by UID. Between the last message line and `end`, uploads in flight (see
/// ``PendingUpload``) each have a line
/// `upload <unique> <flags or -> <size> <date or -> <local base name, %-escaped>`, sorted by unique
/// part, and for a move into this folder a seventh field `from:<uidvalidity>:<uid>:<source folder,
/// %-escaped>` (see ``MoveSource``); a map without uploads in flight has none (and reads as before uploads existed). A file
/// that does not end in `end` after exactly `messages` message lines and any upload lines is corrupt.
public struct UIDMap: Sendable, Equatable {
    /// One downloaded message.
    public struct Entry: Sendable, Hashable {
        /// The message file's name up to (not including) `:2,`; stable across flag changes.
        public internal(set) var baseName: String
        /// The flags last agreed with the server.
        public internal(set) var flags: MessageFlags
        /// Whether only the message's header is here (see ``DeliveryBatch/open(uid:flags:headersOnly:internalDate:sizeHint:)``);
        /// ``DeliveryBatch/openBody(uid:sizeHint:)`` replaces it with the whole message.
        public var isHeadersOnly: Bool { MessageFileName.isHeadersOnly(base: baseName) }
        var pending: Pending?

        init(baseName: String, flags: MessageFlags, pending: Pending? = nil) {
            self.baseName = baseName
            self.flags = flags
            self.pending = pending
        }
    }

    /// The second half of a two-phase change, recorded before the files are touched.
    enum Pending: Hashable, Sendable {
        case expunge
        case flags(MessageFlags)
    }

    /// The server's UIDVALIDITY the entries belong to; `nil` until the folder is first synced.
    public internal(set) var uidValidity: UInt32?
    /// The highest UID downloaded or declared seen (never decreases under one UIDVALIDITY).
    public internal(set) var highestUID: UInt32 = 0
    /// The server's HIGHESTMODSEQ up to which flag changes have been applied, if the server has one.
    public internal(set) var highestModSeq: UInt64?
    /// This folder's random id, written into its message names as `F=` (see ``MessageFileName``).
    var folderID: UInt32?
    /// The downloaded messages by UID.
    public internal(set) var entries: [UInt32: Entry] = [:]
    /// Local messages being appended to the server, by ``PendingUpload/unique``: recorded before
    /// the APPEND, replaced by an entry once the server's UID for it is known.
    public internal(set) var uploads: [String: PendingUpload] = [:]

    /// An empty map: no UIDVALIDITY, no messages.
    public init() {}

    /// How many messages the map holds.
    public var count: Int { entries.count }
    /// The entry for `uid`, if downloaded.
    public subscript(uid: UInt32) -> Entry? { entries[uid] }
    /// All UIDs, ascending.
    public var uids: [UInt32] { entries.keys.sorted() }

    static let magic = "syncd-uidmap 1"

    /// Whether a base name can be stored in a map line: printable ASCII without spaces.
    static func isStorable(baseName: String) -> Bool {
        !baseName.isEmpty && baseName.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    // MARK: Encoding

    func encoded() -> [UInt8] {
        var whole = [UInt8]()
        encode { whole += $0 }
        return whole
    }

    /// Encodes the map in pieces of about 64 KiB handed to `write`, so that writing a 100 000-message
    /// map never holds its whole text (nor a sorted copy of its entries) in memory.
    func encode(_ write: ([UInt8]) throws -> Void) rethrows {
        let flushAt = 64 * 1024
        var out = [UInt8]()
        out.reserveCapacity(flushAt + 4096)
        func text(_ s: String) { out.append(contentsOf: s.utf8) }
        // Integers below 10^15 are small strings: no allocation.
        func number(_ value: UInt64) { out.append(contentsOf: String(value).utf8) }
        func flags(_ value: MessageFlags) {
            if value.isEmpty { out.append(UInt8(ascii: "-")) } else { text(value.maildirLetters) }
        }
        text(Self.magic + "\n")
        if let folderID { text("folder " + MessageFileName.hex8(folderID) + "\n") }
        if let uidValidity { text("uidvalidity "); number(UInt64(uidValidity)); text("\n") }
        text("highestuid "); number(UInt64(highestUID)); text("\n")
        if let highestModSeq { text("highestmodseq "); number(highestModSeq); text("\n") }
        text("messages "); number(UInt64(entries.count)); text("\n")
        for uid in entries.keys.sorted() {
            let entry = entries[uid]!
            if out.count >= flushAt {
                try write(out)
                out.removeAll(keepingCapacity: true)
            }
            number(UInt64(uid))
            out.append(UInt8(ascii: " "))
            flags(entry.flags)
            out.append(UInt8(ascii: " "))
            text(entry.baseName)
            switch entry.pending {
            case nil: break
            case .expunge: text(" x")
            case .flags(let target):
                text(" =")
                text(target.maildirLetters)
            }
            out.append(UInt8(ascii: "\n"))
        }
        for (unique, upload) in uploads.sorted(by: { $0.key < $1.key }) {
            text("upload " + unique + " ")
            flags(upload.flags)
            text(" ")
            number(UInt64(upload.wireSize))
            text(" ")
            if let date = upload.internalDate { text(String(date)) } else { text("-") }
            text(" " + PendingUpload.escape(upload.localBase))
            if let source = upload.moveSource { text(" " + source.encoded) }
            text("\n")
        }
        text("end\n")
        try write(out)
    }

    // MARK: Decoding

    /// Parses an encoded map.
    /// - Throws: ``MaildirError/Code/corruptMap`` naming `path` and the offending line.
    init(decoding bytes: [UInt8], path: String) throws {
        var lines = MapLines(bytes)
        try self.init(decoding: &lines, path: path)
    }

    /// Reads the map file at `path` a piece at a time; `nil` if there is none.
    /// - Throws: ``MaildirError/Code/corruptMap`` naming `path` and the offending line;
    ///   ``MaildirError/Code/io``.
    init?(file path: String) throws {
        guard var lines = try MapLines(file: path) else { return nil }
        try self.init(decoding: &lines, path: path)
    }

    private init(decoding lines: inout MapLines, path: String) throws {
        var lineNumber = 0
        func corrupt(_ why: String) -> MaildirError {
            MaildirError(.corruptMap, "\(path) line \(lineNumber): \(why); move the file aside to rebuild it from the message names")
        }
        func nextLine() throws -> ArraySlice<UInt8>? {
            guard let line = try lines.next() else { return nil }  // the end, or no newline: truncated
            lineNumber += 1
            return line
        }
        func fields(_ line: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
            line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        }
        func decimal<T: FixedWidthInteger>(_ field: ArraySlice<UInt8>, _: T.Type) -> T? {
            guard !field.isEmpty, field.count <= 20 else { return nil }
            var value: T = 0
            for byte in field {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                let (times, o1) = value.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times.addingReportingOverflow(T(byte - UInt8(ascii: "0")))
                guard !o1, !o2 else { return nil }
                value = sum
            }
            return value
        }
        func flags(_ field: ArraySlice<UInt8>) -> MessageFlags? {
            if field.count == 1, field.first == UInt8(ascii: "-") { return [] }
            return MessageFlags(maildirLetters: String(decoding: field, as: UTF8.self))
        }

        guard let first = try nextLine(), first.elementsEqual(Self.magic.utf8) else {
            throw corrupt("not a syncd UID map (expected \"\(Self.magic)\")")
        }
        var expected: Int?
        while expected == nil {
            guard let line = try nextLine() else { throw corrupt("truncated header") }
            let parts = fields(line)
            guard parts.count == 2 else { throw corrupt("malformed header line") }
            let key = String(decoding: parts[0], as: UTF8.self)
            switch key {
            case "folder":
                guard parts[1].count == 8, let id = UInt32(String(decoding: parts[1], as: UTF8.self), radix: 16)
                else { throw corrupt("bad folder id") }
                folderID = id
            case "uidvalidity":
                guard let value = decimal(parts[1], UInt32.self) else { throw corrupt("bad uidvalidity") }
                uidValidity = value
            case "highestuid":
                guard let value = decimal(parts[1], UInt32.self) else { throw corrupt("bad highestuid") }
                highestUID = value
            case "highestmodseq":
                guard let value = decimal(parts[1], UInt64.self) else { throw corrupt("bad highestmodseq") }
                highestModSeq = value
            case "messages":
                guard let value = decimal(parts[1], Int.self) else { throw corrupt("bad message count") }
                expected = value
            default:
                throw corrupt("unknown header \"\(key)\"")
            }
        }
        let count = expected!
        entries.reserveCapacity(count)
        for _ in 0..<count {
            guard let line = try nextLine() else { throw corrupt("truncated: expected \(count) messages") }
            let parts = fields(line)
            guard parts.count == 3 || parts.count == 4 else { throw corrupt("malformed message line") }
            guard let uid = decimal(parts[0], UInt32.self), uid != 0 else { throw corrupt("bad UID") }
            guard let agreed = flags(parts[1]) else { throw corrupt("bad flags") }
            guard !parts[2].isEmpty else { throw corrupt("empty file name") }
            var pending: Pending?
            if parts.count == 4 {
                let marker = parts[3]
                if marker.count == 1, marker.first == UInt8(ascii: "x") {
                    pending = .expunge
                } else if marker.first == UInt8(ascii: "="),
                    let target = MessageFlags(maildirLetters: String(decoding: marker.dropFirst(), as: UTF8.self))
                {
                    pending = .flags(target)
                } else {
                    throw corrupt("bad pending marker")
                }
            }
            let entry = Entry(baseName: String(decoding: parts[2], as: UTF8.self), flags: agreed, pending: pending)
            guard entries.updateValue(entry, forKey: uid) == nil else { throw corrupt("UID \(uid) twice") }
        }
        while true {
            guard let line = try nextLine() else { throw corrupt("missing \"end\"") }
            if line.elementsEqual("end".utf8) { break }
            let parts = fields(line)
            guard parts.count == 6 || parts.count == 7, parts[0].elementsEqual("upload".utf8) else { throw corrupt("missing \"end\"") }
            let unique = String(decoding: parts[1], as: UTF8.self)
            guard UIDMap.isStorable(baseName: unique), !unique.contains(","), let uploaded = flags(parts[2]),
                let size = decimal(parts[3], Int.self), size > 0,
                let localBase = PendingUpload.unescape(String(decoding: parts[5], as: UTF8.self)), !localBase.isEmpty
            else { throw corrupt("malformed upload line") }
            var date: Int64?
            if !(parts[4].count == 1 && parts[4].first == UInt8(ascii: "-")) {
                guard let value = decimal(parts[4], Int64.self) else { throw corrupt("bad upload date") }
                date = value
            }
            var source: MoveSource?
            if parts.count == 7 {
                guard let value = MoveSource(encoded: String(decoding: parts[6], as: UTF8.self)) else { throw corrupt("bad move source") }
                source = value
            }
            let upload = PendingUpload(
                unique: unique, localBase: localBase, flags: uploaded, wireSize: size, internalDate: date, moveSource: source)
            guard uploads.updateValue(upload, forKey: unique) == nil else { throw corrupt("upload \(unique) twice") }
        }
        guard try lines.atEnd else { throw corrupt("data after \"end\"") }
    }
}
