#if canImport(Glibc)
import Glibc
#endif

/// Where a syncd listens when nothing says otherwise: the system service's socket
/// (packaging/syncd.socket), or a user's own daemon's in the user's runtime directory
/// (packaging/user/syncd.socket, or `syncd` run by hand without root). The daemon binds these
/// and syncctl looks for them, so both agree by construction.
public enum DaemonSocket {
    /// Which daemon: the machine's, or the user's own.
    public enum Scope: String, Sendable, Hashable {
        case system, user
    }

    /// The system service's socket.
    public static let system = "/run/syncd/syncd.sock"

    /// The user's own daemon's socket: `$XDG_RUNTIME_DIR/syncd/syncd.sock`. Without a usable
    /// `$XDG_RUNTIME_DIR` (unset or relative, as the XDG base directory spec says to ignore),
    /// the directory systemd-logind makes for the user, `/run/user/UID`.
    public static func user(environment: [String: String], uid: uid_t = getuid()) -> String {
        runtimeDirectory(environment: environment, uid: uid) + "/syncd/syncd.sock"
    }

    /// `$XDG_RUNTIME_DIR` if absolute, else `/run/user/UID`.
    public static func runtimeDirectory(environment: [String: String], uid: uid_t = getuid()) -> String {
        if let value = environment["XDG_RUNTIME_DIR"], value.hasPrefix("/") { return value }
        return "/run/user/\(uid)"
    }

    /// The socket of `scope`'s daemon.
    public static func path(_ scope: Scope, environment: [String: String], uid: uid_t = getuid()) -> String {
        scope == .system ? system : user(environment: environment, uid: uid)
    }

    /// The daemon a client talks to when told nothing: the user's own if its socket exists,
    /// else the system's (as a user's `syncctl` would want: their mail, if they run a syncd).
    public static func defaultScope(environment: [String: String], uid: uid_t = getuid()) -> Scope {
        var info = stat()
        let userSocket = user(environment: environment, uid: uid)
        return stat(userSocket, &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK ? .user : .system
    }
}
