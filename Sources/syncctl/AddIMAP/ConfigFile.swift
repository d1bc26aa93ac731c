#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The configuration file as it is on disk, and its replacement with a new store appended.
struct ConfigFile {
    let path: String
    /// The bytes now; empty for a file that does not exist yet.
    let original: Data
    let exists: Bool

    init(path: String) throws {
        self.path = path
        if let data = FileManager.default.contents(atPath: path) {
            original = data
            exists = true
        } else if FileManager.default.fileExists(atPath: path) {
            throw AddError("\(path) cannot be read (permissions?): run as its owner, or pass --config")
        } else {
            original = Data()
            exists = false
        }
    }

    /// The file with `section` after everything that is there, one blank line between.
    func appending(_ section: String) -> Data {
        var text = original
        if !text.isEmpty {
            if text.last != UInt8(ascii: "\n") { text.append(UInt8(ascii: "\n")) }
            text.append(UInt8(ascii: "\n"))
        }
        text.append(Data(section.utf8))
        return text
    }

    /// Replaces the file with `contents` atomically: a temporary file beside it, written and
    /// fsynced with the old file's mode and owner, renamed over it, the directory fsynced. A
    /// reader sees the old file or the new one, never half; a crash leaves one of them.
    /// - Throws: ``AddError`` when the file changed since it was read (someone edited it meanwhile).
    func replace(with contents: Data) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !exists { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        var info = stat()
        let mode: mode_t = exists && stat(path, &info) == 0 ? info.st_mode & 0o7777 : 0o644
        var template = Array((directory + "/.syncd.toml.XXXXXX").utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { throw AddError("cannot create a file in \(directory): \(String(cString: strerror(errno)))") }
        let temporary = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var done = false
        defer {
            if !done { unlink(temporary) }
        }
        let written = contents.withUnsafeBytes { bytes -> Bool in
            var offset = 0
            while offset < bytes.count {
                let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0, errno == EINTR { continue }
                guard n > 0 else { return false }
                offset += n
            }
            return true
        }
        fchmod(fd, mode)
        // Kept when we may (root editing a file someone else owns); else the file is ours anyway.
        if exists { _ = fchown(fd, info.st_uid, info.st_gid) }
        guard written, fsync(fd) == 0 else {
            let why = String(cString: strerror(errno))
            close(fd)
            throw AddError("cannot write \(temporary): \(why)")
        }
        close(fd)
        // Someone saved the file while we asked questions: theirs must not be overwritten.
        let now = FileManager.default.contents(atPath: path) ?? Data()
        guard now == original else { throw AddError("\(path) changed while syncctl add ran: nothing written; run it again") }
        guard rename(temporary, path) == 0 else { throw AddError("cannot replace \(path): \(String(cString: strerror(errno)))") }
        done = true
        let dfd = open(directory, O_RDONLY | O_DIRECTORY)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }
}

/// A failure of `syncctl add`, said as it is.
struct AddError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
