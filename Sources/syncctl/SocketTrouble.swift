import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Why syncctl could not open the daemon's socket, in the user's terms: what the path is (missing,
/// a directory, not a socket, a socket nobody listens on) and, when permission is denied, which
/// file or directory denies it and what decides who may open it.
///
/// Everything here is read from the file system after a failed connect, so the message describes
/// the path as it is, not only the errno connect(2) happened to give (a directory and a regular
/// file both give ECONNREFUSED).
enum SocketTrouble {
    /// The system service's socket (packaging/syncd.socket); systemd hints are for it alone.
    static let systemSocket = "/run/syncd/syncd.sock"

    /// The message for a failed connect to `path`, and the exit status it deserves.
    static func explain(_ path: String, connectErrno: Int32?, error: Error) -> (message: String, status: Int32) {
        // sockaddr_un's limit: syncd cannot listen on such a path either.
        if path.utf8.count > 107 {
            return ("socket path is too long (\(path.utf8.count) bytes; a Unix socket's path has at most 107): \(path)", Exit.unavailable)
        }
        var info = stat()
        if stat(path, &info) != 0 {
            let failure = errno
            switch failure {
            case ENOENT: return (missing(path), Exit.unavailable)
            case ENOTDIR: return (notADirectoryOnTheWay(path), Exit.unavailable)
            case EACCES: return (deniedOnTheWay(path), Exit.permissionDenied)
            default: return ("cannot use \(path): \(String(cString: strerror(failure)))", Exit.unavailable)
            }
        }
        switch info.st_mode & S_IFMT {
        case S_IFSOCK:
            break
        case S_IFDIR:
            return (directory(path), Exit.unavailable)
        default:
            return ("\(path) is \(kind(info.st_mode)), not a socket: --socket takes the socket syncd listens on (the path given to syncd --socket, or socket in its config)",
                    Exit.unavailable)
        }
        switch connectErrno {
        case EACCES?:
            return (denied(path, info, isDirectory: false, socket: path), Exit.permissionDenied)
        case ECONNREFUSED?:
            let stale = "syncd is not running: nothing listens on \(path), a socket left behind by a syncd that stopped or crashed"
            return (stale + (path == systemSocket
                ? " (start it with `sudo systemctl start syncd.socket`; `journalctl -u syncd` says why it stopped)"
                : " (start syncd again with --socket \(path): it replaces the stale socket)"), Exit.unavailable)
        default:
            return ("cannot connect to syncd at \(path): \(error)", Exit.unavailable)
        }
    }

    // MARK: What the path is

    private static func missing(_ path: String) -> String {
        let directory = parent(path)
        var info = stat()
        let directoryMissing = stat(directory, &info) != 0 && errno == ENOENT
        let what = directoryMissing ? "no socket at \(path): its directory \(directory) does not exist either" : "no socket at \(path)"
        if path == systemSocket {
            return "syncd is not running: \(what) (start it with `sudo systemctl start syncd.socket`; if it does not start, `journalctl -u syncd` says why)"
        }
        return "\(what) (is syncd running with --socket \(path)? Else point --socket or $SYNCD_SOCKET at the socket it listens on)"
    }

    private static func notADirectoryOnTheWay(_ path: String) -> String {
        let blocker = ancestors(of: path).first { ancestor in
            var info = stat()
            return stat(ancestor, &info) == 0 && info.st_mode & S_IFMT != S_IFDIR
        }
        guard let blocker else { return "no socket at \(path): part of the path is not a directory" }
        return "no socket at \(path): \(blocker) is not a directory"
    }

    private static func directory(_ path: String) -> String {
        let base = path.hasSuffix("/") ? String(path.dropLast()) : path
        let sockets = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().filter { name in
            var info = stat()
            return stat(base + "/" + name, &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK
        }
        // syncd's own first (syncd.sock, s.sock in a test directory), then any *.sock.
        let likely = sockets.first { $0.contains("syncd") } ?? sockets.first { $0.hasSuffix(".sock") } ?? sockets.first
        let example = likely.map { ", such as \(base)/\($0)" } ?? ""
        return "\(path) is a directory, not a socket: --socket takes the socket file itself\(example)"
    }

    private static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFREG: return "a regular file"
        case S_IFIFO: return "a named pipe"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        default: return "a special file"
        }
    }

    // MARK: Permission

    /// `stat` was refused: a directory on the way cannot be searched. Names the first one.
    private static func deniedOnTheWay(_ path: String) -> String {
        for ancestor in ancestors(of: path) {
            guard access(ancestor, X_OK) != 0, errno == EACCES else { continue }
            var info = stat()
            guard stat(ancestor, &info) == 0 else { break }
            return denied(ancestor, info, isDirectory: true, socket: path)
        }
        return "permission denied on \(path): a directory on the way to it cannot be entered"
    }

    /// Says which file denies, its mode and group, and what would let the user in: joining its
    /// group when that group is one to join; otherwise who owns it and what decides.
    static func denied(_ file: String, _ info: stat, isDirectory: Bool, socket: String) -> String {
        let octal = String(info.st_mode & 0o7777, radix: 8)
        let mode = String(repeating: "0", count: max(0, 4 - octal.count)) + octal
        let owner = userName(info.st_uid)
        let group = groupName(info.st_gid)
        // Opening a socket needs write permission on it; reaching it, search permission on its
        // directories.
        let groupMay = info.st_mode & (isDirectory ? S_IXGRP : S_IWGRP) != 0
        let joinable = groupMay && info.st_gid != 0 && !isPersonalGroup(info.st_gid, of: info.st_uid)
        let subject = isDirectory ? "directory \(file)" : file
        let way = isDirectory ? ", on the way to \(socket)" : ""
        if joinable {
            let head = "permission denied on \(subject) (mode \(mode), group \(group))\(way)"
            if isInGroupDatabase(info.st_gid), !sessionHasGroup(info.st_gid) {
                return "\(head): you were added to group '\(group)' after this session began; log in again (or run `newgrp \(group)`)"
            }
            return "\(head): add yourself to group '\(group)' (sudo usermod -aG \(group) $USER, then log in again)"
        }
        let head = "permission denied on \(subject) (mode \(mode), owner \(owner), group \(group))\(way)"
        let who: String
        if !groupMay {
            who = "only \(owner) may \(isDirectory ? "enter" : "open") it"
        } else if info.st_gid == 0 {
            who = "only \(owner) and group root may \(isDirectory ? "enter" : "open") it (not a group to join for this)"
        } else {
            who = "only \(owner) may \(isDirectory ? "enter" : "open") it (group \(group) is \(owner)'s own)"
        }
        if isDirectory {
            return "\(head): \(who); whoever runs syncd decides where its socket lives (--socket, or socket in its config): ask them, or use a socket you can reach"
        }
        return "\(head): \(who); whoever runs syncd decides who else may: its socket_mode (\"0666\" lets anyone watch, and its control_group decides who may control), or SocketMode=/SocketGroup= in syncd.socket"
    }

    /// A user's private group (named after them, their primary group) or their primary group
    /// when it carries their name: letting a user in there is not what the group is for.
    private static func isPersonalGroup(_ gid: gid_t, of uid: uid_t) -> Bool {
        guard let user = getpwuid(uid) else { return false }
        let name = String(cString: user.pointee.pw_name)
        return groupName(gid) == name
    }

    /// Whether the group database lists the user running syncctl in `gid` (primary or member).
    private static func isInGroupDatabase(_ gid: gid_t) -> Bool {
        guard let user = getpwuid(getuid()) else { return false }
        if user.pointee.pw_gid == gid { return true }
        let name = String(cString: user.pointee.pw_name)
        guard let group = getgrgid(gid), var member = group.pointee.gr_mem else { return false }
        while let entry = member.pointee {
            if String(cString: entry) == name { return true }
            member += 1
        }
        return false
    }

    /// Whether this process has `gid` among its groups (as a login session started now would).
    private static func sessionHasGroup(_ gid: gid_t) -> Bool {
        if getegid() == gid { return true }
        let count = getgroups(0, nil)
        guard count > 0 else { return false }
        var groups = [gid_t](repeating: 0, count: Int(count))
        let got = getgroups(count, &groups)
        return groups.prefix(Int(max(0, got))).contains(gid)
    }

    private static func userName(_ uid: uid_t) -> String {
        getpwuid(uid).map { String(cString: $0.pointee.pw_name) } ?? "uid \(uid)"
    }

    private static func groupName(_ gid: gid_t) -> String {
        getgrgid(gid).map { String(cString: $0.pointee.gr_name) } ?? "gid \(gid)"
    }

    // MARK: Paths

    private static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    private static func parent(_ path: String) -> String {
        let directory = (path as NSString).deletingLastPathComponent
        return directory.isEmpty ? "." : directory
    }

    /// The directories leading to `path`, outermost first: "/", "/run", "/run/syncd".
    private static func ancestors(of path: String) -> [String] {
        let parts = absolute(path).split(separator: "/").dropLast()
        var result = ["/"]
        var current = ""
        for part in parts {
            current += "/" + part
            result.append(current)
        }
        return result
    }
}
