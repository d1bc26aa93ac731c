#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin throwing wrappers over the system calls the module uses. Every failure becomes a
/// ``MaildirError`` with code `.io` naming the path; "already there" / "already gone" cases that
/// callers treat as success are reported through return values instead of errors.
enum Posix {
    struct Entry {
        var name: String
        /// From `d_type`; `nil` when the file system does not say (then callers `stat`).
        var isDirectory: Bool?
    }

    struct Listing {
        var entries: [Entry] = []
        /// Names that are not valid UTF-8: never ours, never touched, but counted so a delete can refuse.
        var undecodable = 0
    }

    /// The entries of a directory except `.` and `..`; `nil` if the directory does not exist.
    static func list(_ path: String) throws -> Listing? {
        var listing = Listing()
        let found = try forEachEntry(path) { bytes, isDirectory in
            guard let name = String(validating: bytes, as: UTF8.self) else {
                listing.undecodable += 1
                return
            }
            listing.entries.append(Entry(name: name, isDirectory: isDirectory))
        }
        return found ? listing : nil
    }

    /// Calls `body` with each entry's name (its bytes, valid only during the call) and type,
    /// except `.` and `..`, without keeping any: a folder of 100 000 files is read with no
    /// memory for their names. `false` if the directory does not exist.
    static func forEachEntry(_ path: String, _ body: (_ name: UnsafeBufferPointer<UInt8>, _ isDirectory: Bool?) throws -> Void) throws -> Bool {
        guard let dir = opendir(path) else {
            if errno == ENOENT { return false }
            throw MaildirError.io("opendir", path)
        }
        defer { closedir(dir) }
        while true {
            errno = 0
            guard let entry = readdir(dir) else {
                if errno != 0 { throw MaildirError.io("readdir", path) }
                return true
            }
            let isDirectory: Bool? = switch Int32(entry.pointee.d_type) {
            case Int32(DT_DIR): true
            case Int32(DT_UNKNOWN), Int32(DT_LNK): nil
            default: false
            }
            try withUnsafePointer(to: &entry.pointee.d_name) { tuple in
                try tuple.withMemoryRebound(to: UInt8.self, capacity: 256) { start in
                    let name = UnsafeBufferPointer(start: start, count: strlen(UnsafeRawPointer(start).assumingMemoryBound(to: CChar.self)))
                    if name.elementsEqual(".".utf8) || name.elementsEqual("..".utf8) { return }
                    try body(name, isDirectory)
                }
            }
        }
    }

    /// `stat` (following symlinks); `nil` if the path does not exist.
    static func status(_ path: String) throws -> stat? {
        var info = stat()
        if stat(path, &info) == 0 { return info }
        if errno == ENOENT || errno == ENOTDIR { return nil }
        throw MaildirError.io("stat", path)
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    static func isDirectory(_ entry: Entry, in directory: String) -> Bool {
        entry.isDirectory ?? isDirectory(directory + "/" + entry.name)
    }

    /// Creates a directory; `false` if it already existed (as a directory).
    @discardableResult
    static func makeDirectory(_ path: String, mode: mode_t) throws -> Bool {
        if mkdir(path, mode) == 0 { return true }
        let code = errno
        if code == EEXIST, isDirectory(path) { return false }
        throw MaildirError.io("mkdir", path, errno: code)
    }

    /// Creates a new file for writing, failing (-1, `errno` set) if it exists.
    static func create(_ path: String, mode: mode_t) -> Int32 {
        open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
    }

    /// The whole file, or `nil` if it does not exist.
    static func readFile(_ path: String) throws -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw MaildirError.io("open", path)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw MaildirError.io("fstat", path) }
        var bytes = [UInt8]()
        bytes.reserveCapacity(Int(info.st_size))
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw MaildirError.io("read", path)
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return bytes
    }

    /// Writes all of `buffer` to `fd`, retrying short writes and `EINTR`.
    static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < buffer.count {
            let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw MaildirError.io("write", path)
            }
            offset += n
        }
    }

    private typealias RenameAt2 = @convention(c) (
        Int32, UnsafePointer<CChar>?, Int32, UnsafePointer<CChar>?, UInt32
    ) -> Int32

    // glibc declares renameat2 only under _GNU_SOURCE, which the Swift Glibc module does not set.
    private static let renameat2: RenameAt2? = dlsym(nil, "renameat2").map {
        unsafeBitCast($0, to: RenameAt2.self)
    }

    /// Renames without ever replacing an existing target: `renameat2(RENAME_NOREPLACE)` where the
    /// kernel and file system support it, else a check then `rename` (the store's lock keeps other
    /// syncd processes out, and our names are unique, so the window is only against foreign writers).
    /// - Throws: `.io` with `EEXIST` when the target exists, `ENOENT` when the source is gone.
    static func renameNoReplace(_ from: String, _ to: String) throws {
        if let renameat2 {
            if renameat2(AT_FDCWD, from, AT_FDCWD, to, 1 /* RENAME_NOREPLACE */) == 0 { return }
            let code = errno
            if code != EINVAL && code != ENOSYS && code != ENOTSUP {
                throw MaildirError.io("rename to \(to) from", from, errno: code)
            }
        }
        if access(to, F_OK) == 0 { throw MaildirError.io("rename to \(to) from", from, errno: EEXIST) }
        guard rename(from, to) == 0 else { throw MaildirError.io("rename to \(to) from", from) }
    }

    /// Removes a file; `false` if it was already gone.
    @discardableResult
    static func unlinkIfPresent(_ path: String) throws -> Bool {
        if unlink(path) == 0 { return true }
        if errno == ENOENT { return false }
        throw MaildirError.io("unlink", path)
    }

    /// Removes an empty directory; `false` if it was already gone.
    @discardableResult
    static func removeDirectoryIfPresent(_ path: String) throws -> Bool {
        if rmdir(path) == 0 { return true }
        if errno == ENOENT { return false }
        throw MaildirError.io("rmdir", path)
    }

    static func describe(_ code: Int32) -> String { String(cString: strerror(code)) }
}

/// The parent directory of a path (no trailing slash); "/" for top-level paths.
func parentDirectory(_ path: String) -> String {
    guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "." }
    if slash == path.utf8.startIndex { return "/" }
    return String(path[..<slash])
}
