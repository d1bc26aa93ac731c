#if canImport(Glibc)
import CLinuxVFS
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a folder's `cur/`, `new/`, `tmp/` and UID map looked like (inode, size, modification and
/// change times) when a full listing found the folder clean: nothing to recover, no local change,
/// no file the map does not account for. While all four still look exactly so, nothing has been
/// created, renamed or deleted in those directories and the map is the same file, so opening the
/// folder again can skip reading them (10 000 names, on a sync with nothing new).
///
/// Kept in `.syncd-listing` beside the map, written without fsync: it is a cache, and a stale or
/// lost one only costs a listing. It is only written when the directories have been quiet for
/// ``quietPeriod`` before the listing began — a file system stamps times at the granularity of a
/// clock tick, so a rename in the same tick as the last change could otherwise go unnoticed — and
/// never on network file systems, whose times come from another machine's clock.
struct ListingStamp: Equatable {
    struct Entry: Equatable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var modified: timespec
        var changed: timespec

        init(_ info: stat) {
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
            size = Int64(info.st_size)
            modified = info.st_mtim
            changed = info.st_ctim
        }

        init?(_ fields: ArraySlice<Substring>) {
            let numbers = fields.compactMap { Int64($0) }
            guard numbers.count == 7 else { return nil }
            device = UInt64(bitPattern: numbers[0])
            inode = UInt64(bitPattern: numbers[1])
            size = numbers[2]
            modified = timespec(tv_sec: Int(numbers[3]), tv_nsec: Int(numbers[4]))
            changed = timespec(tv_sec: Int(numbers[5]), tv_nsec: Int(numbers[6]))
        }

        var fields: String {
            "\(Int64(bitPattern: device)) \(Int64(bitPattern: inode)) \(size) \(modified.tv_sec) \(modified.tv_nsec) \(changed.tv_sec) \(changed.tv_nsec)"
        }

        static func == (a: Entry, b: Entry) -> Bool {
            a.device == b.device && a.inode == b.inode && a.size == b.size
                && a.modified.tv_sec == b.modified.tv_sec && a.modified.tv_nsec == b.modified.tv_nsec
                && a.changed.tv_sec == b.changed.tv_sec && a.changed.tv_nsec == b.changed.tv_nsec
        }
    }

    static let fileName = ".syncd-listing"
    static let magic = "syncd-listing 1"
    /// How long the directories must have been unchanged before a listing may be stamped, on a file
    /// system with sub-second times: a few of the kernel's clock ticks (1–10 ms), which is what such
    /// file systems stamp times with. One whose times are whole seconds (FAT, ext3, ext4 with small
    /// inodes) waits ``coarseQuietPeriod`` instead.
    static let quietPeriod = 0.02
    static let coarseQuietPeriod = 2.0

    /// cur, new, tmp, map
    var entries: [Entry]

    /// The folder's current stamp; `nil` if a directory or the map is missing.
    static func current(folder path: String) throws -> ListingStamp? {
        var entries: [Entry] = []
        for name in ["cur", "new", "tmp", MaildirStore.mapFileName] {
            guard let info = try Posix.status(path + "/" + name) else { return nil }
            entries.append(Entry(info))
        }
        return ListingStamp(entries: entries)
    }

    /// Whether the directories were last changed at least ``quietPeriod`` before `now`, and live on
    /// a local file system.
    func isQuiet(now: timespec, directory: String) -> Bool {
        let directories = entries.prefix(3)
        let fine = directories.contains { $0.modified.tv_nsec != 0 || $0.changed.tv_nsec != 0 }
        let limit = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9 - (fine ? Self.quietPeriod : Self.coarseQuietPeriod)
        for entry in directories {
            for time in [entry.modified, entry.changed] where Double(time.tv_sec) + Double(time.tv_nsec) / 1e9 > limit {
                return false
            }
        }
        var info = statfs()
        guard statfs(directory, &info) == 0 else { return false }
        let network: Set<Int64> = [
            0x6969,  // NFS
            0x517B, 0xFF53_4D42, 0xFE53_4D42,  // SMB, CIFS, SMB2
            0x6573_5546,  // FUSE (sshfs and the like)
            0x0102_1997,  // 9p
            0x00C3_6400,  // Ceph
            0x0BD0_0BD0,  // Lustre
        ]
        return !network.contains(Int64(info.f_type))
    }

    /// The stamp saved for the folder at `path`; `nil` if there is none or it does not parse.
    static func saved(folder path: String) -> ListingStamp? {
        guard let bytes = try? Posix.readFile(path + "/" + fileName) else { return nil }
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
        guard lines.count == 6, lines[0] == magic, lines[5] == "end" else { return nil }
        var entries: [Entry] = []
        for (line, name) in zip(lines[1...4], ["cur", "new", "tmp", "map"]) {
            let fields = line.split(separator: " ")
            guard fields.first.map(String.init) == name, let entry = Entry(fields.dropFirst()) else { return nil }
            entries.append(entry)
        }
        return ListingStamp(entries: entries)
    }

    /// Saves the stamp (temporary file and rename, no fsync; failures are ignored: it is a cache).
    func save(folder path: String, fileMode: mode_t) {
        var text = Self.magic + "\n"
        for (entry, name) in zip(entries, ["cur", "new", "tmp", "map"]) { text += name + " " + entry.fields + "\n" }
        text += "end\n"
        let target = path + "/" + Self.fileName
        let temporary = target + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, fileMode)
        guard fd >= 0 else { return }
        let written = (try? Array(text.utf8).withUnsafeBytes { try Posix.writeAll(fd, $0, path: temporary) }) != nil
        close(fd)
        if !written || rename(temporary, target) != 0 { unlink(temporary) }
    }

    /// Removes a saved stamp (so a folder being deleted leaves no file behind).
    static func remove(folder path: String) throws {
        try Posix.unlinkIfPresent(path + "/" + fileName)
        try Posix.unlinkIfPresent(path + "/" + fileName + ".tmp")
    }
}
