#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a mapped message's file is, as last seen.
///
/// A file syncd named (its map entry's base name, then `:2,` and the flag letters in order, or
/// the bare base name in `new/`) keeps no name: the name is made again from the base name when
/// needed. So the locations of a 100 000-message folder cost a byte each, not a string each.
struct Location: Equatable {
    /// The file's name, when it is not the one its base name and flags give (a mail client's
    /// rename, letters of its own, a name of its own).
    private let storedName: String?
    let inNew: Bool
    /// The flags its name carries (none in `new/`).
    let flags: MessageFlags

    private init(storedName: String?, inNew: Bool, flags: MessageFlags) {
        self.storedName = storedName
        self.inNew = inNew
        self.flags = flags
    }

    /// The file syncd would name for `base` with `flags`.
    static func canonical(inNew: Bool, flags: MessageFlags) -> Location {
        Location(storedName: nil, inNew: inNew, flags: inNew ? [] : flags)
    }

    /// The file `name`, of the message whose base name is `base`: kept as the canonical
    /// location if that is the name it has.
    init(inNew: Bool, name: String, base: String) {
        let flags = inNew ? MessageFlags() : MessageFileName(name).flags
        let canonical = inNew ? base : MessageFileName.curName(base: base, flags: flags)
        self.init(storedName: name == canonical ? nil : name, inNew: inNew, flags: flags)
    }

    /// The file's name, for the message whose base name is `base`.
    func name(base: String) -> String {
        storedName ?? (inNew ? base : MessageFileName.curName(base: base, flags: flags))
    }

    /// Packed into a byte: the six flags, `inNew`, and a set bit so that 0 means "none".
    fileprivate var packed: UInt8? {
        storedName == nil ? flags.rawValue | (inNew ? 0x40 : 0) | 0x80 : nil
    }

    fileprivate init(packed: UInt8) {
        self.init(storedName: nil, inNew: packed & 0x40 != 0, flags: MessageFlags(rawValue: packed & 0x3F))
    }
}

/// The file of each mapped UID (see ``Location``): a byte per canonical file, a name for the rest.
struct Locations: ExpressibleByDictionaryLiteral {
    private var canonical: [UInt32: UInt8] = [:]
    private var named: [UInt32: Location] = [:]

    init(dictionaryLiteral elements: (UInt32, Location)...) {
        for (uid, location) in elements { self[uid] = location }
    }

    subscript(uid: UInt32) -> Location? {
        get {
            if let packed = canonical[uid] { return Location(packed: packed) }
            return named[uid]
        }
        set {
            if let packed = newValue?.packed {
                canonical[uid] = packed
                named[uid] = nil
            } else {
                canonical[uid] = nil
                named[uid] = newValue
            }
        }
    }

    var count: Int { canonical.count + named.count }

    mutating func reserveCapacity(_ count: Int) { canonical.reserveCapacity(count) }

    /// Every UID with a file, with it, in no particular order.
    func forEach(_ body: (UInt32, Location) throws -> Void) rethrows {
        for (uid, packed) in canonical { try body(uid, Location(packed: packed)) }
        for (uid, location) in named { try body(uid, location) }
    }
}

/// A message file seen in a listing, with its name: one that syncd did not name for its map entry.
struct MessageFile {
    var inNew: Bool
    var name: String
    var parsed: MessageFileName
    var relativePath: String { (inNew ? "new/" : "cur/") + name }
}

/// One pass over a folder's `cur/` and `new/`, matched against its UID map by base name (a file
/// in `cur/` wins over one in `new/`).
///
/// The files syncd named for their entries (nearly all, in a folder a mail client only reads)
/// are matched as the directories are read and only their ``Location`` is kept; the others,
/// with their names, are in ``files``. So a listing of a 100 000-message folder costs a few
/// bytes a message, not the names.
struct FolderListing {
    /// The files not matched while reading: every name syncd did not give, and duplicates.
    var files: [MessageFile] = []
    /// Each mapped UID's file.
    var found: Locations = [:]
    /// Indices into ``files`` of the files no map entry claims. Extra files with a claimed base
    /// name count as unclaimed.
    var unclaimed: [Int] = []

    /// Lists the folder at `path` against `map`.
    /// - Throws: ``MaildirError/Code/io``, also when `cur/` or `new/` is missing.
    init(folder path: String, map: UIDMap) throws {
        found.reserveCapacity(map.entries.count)
        for inNew in [false, true] {
            let directory = path + (inNew ? "/new" : "/cur")
            let exists = try Posix.forEachEntry(directory) { name, isDirectory in
                guard name.first != UInt8(ascii: "."), isDirectory != true else { return }
                if let (uid, flags) = Self.canonicalFile(name, inNew: inNew, map: map), found[uid] == nil {
                    found[uid] = .canonical(inNew: inNew, flags: flags)
                } else if let name = String(validating: name, as: UTF8.self) {
                    files.append(MessageFile(inNew: inNew, name: name, parsed: MessageFileName(name)))
                }
            }
            guard exists else { throw MaildirError.io("opendir", directory, errno: ENOENT) }
        }
        claimByBaseName(map)
    }

    /// The UID and flags of a file named exactly as syncd names `map`'s entry for the UID in its
    /// `U=` (our folder id and UIDVALIDITY, the entry's base name, the flag letters in order and
    /// nothing else); `nil` for any other name. Reads the bytes only: no string is made.
    private static func canonicalFile(_ name: UnsafeBufferPointer<UInt8>, inNew: Bool, map: UIDMap) -> (UInt32, MessageFlags)? {
        guard let folderID = map.folderID, let uidValidity = map.uidValidity else { return nil }
        let colon = name.lastIndex(of: UInt8(ascii: ":")) ?? name.endIndex
        let base = UnsafeBufferPointer(rebasing: name[..<colon])
        guard let markers = MessageFileName.markers(base), markers.folderID == folderID, markers.uidValidity == uidValidity,
            let entry = map.entries[markers.uid], entry.baseName.utf8.elementsEqual(base)
        else { return nil }
        if inNew { return colon == name.endIndex ? (markers.uid, []) : nil }
        // `:2,` then the known letters, in order, each once.
        guard name.endIndex - colon >= 3, name[colon + 1] == UInt8(ascii: "2"), name[colon + 2] == UInt8(ascii: ",") else { return nil }
        var flags = MessageFlags()
        var next = 0
        for byte in UnsafeBufferPointer(rebasing: name[(colon + 3)...]) {
            guard let position = MessageFlags.letters[next...].firstIndex(where: { $0.0 == byte }) else { return nil }
            flags.insert(MessageFlags.letters[position].1)
            next = position + 1
        }
        return (markers.uid, flags)
    }

    /// Matches the files not matched while reading to the map's entries by base name.
    mutating func claimByBaseName(_ map: UIDMap) {
        guard !files.isEmpty else { return }
        // One index per base name; the rare further files with a base name already seen apart.
        var first: [String: Int] = [:]
        var more: [String: [Int]] = [:]
        for (index, file) in files.enumerated() {
            if first[file.parsed.base] == nil {
                first[file.parsed.base] = index
            } else {
                more[file.parsed.base, default: []].append(index)
            }
        }
        var claimed = [Bool](repeating: false, count: files.count)
        for (uid, entry) in map.entries {
            guard let index = first[entry.baseName] else { continue }
            let candidates = [index] + (more[entry.baseName] ?? [])
            if let seen = found[uid] {
                // Matched while reading; a file in cur/ still wins over that one in new/.
                guard seen.inNew, let inCur = candidates.first(where: { !files[$0].inNew }) else { continue }
                claimed[inCur] = true
                found[uid] = Location(inNew: false, name: files[inCur].name, base: entry.baseName)
                let displaced = seen.name(base: entry.baseName)
                files.append(MessageFile(inNew: true, name: displaced, parsed: MessageFileName(displaced)))
                claimed.append(false)
                continue
            }
            var chosen = index
            if files[index].inNew, let inCur = candidates.first(where: { !files[$0].inNew }) { chosen = inCur }
            claimed[chosen] = true
            found[uid] = Location(inNew: files[chosen].inNew, name: files[chosen].name, base: entry.baseName)
        }
        unclaimed = claimed.indices.filter { !claimed[$0] }
    }
}
