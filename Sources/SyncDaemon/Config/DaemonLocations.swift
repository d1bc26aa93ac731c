#if canImport(Glibc)
import Glibc
#endif
import SyncIPC

/// Where the daemon keeps its configuration, socket and state when neither a flag nor the
/// configuration file says. Root gets the system service's paths (packaging/syncd.service); anyone
/// else a user's own daemon's, from the XDG base directories, so that `syncd` run by a user (by
/// hand, or by `systemctl --user` with packaging/user/) needs no flags:
///
///   config  `$XDG_CONFIG_HOME/syncd/syncd.toml` (default `~/.config`)
///   socket  `$XDG_RUNTIME_DIR/syncd/syncd.sock`, mode 0600 (the user alone)
///   state   `$XDG_STATE_HOME/syncd` (default `~/.local/state`)
public struct DaemonLocations: Sendable, Equatable {
    public var scope: DaemonSocket.Scope
    public var configFile: String
    public var socket: String
    public var socketMode: UInt32
    public var stateDirectory: String

    /// The example for a user's own daemon (packaging/user/syncd.toml), installed beside
    /// ``DaemonConfig/installedExample``.
    public static let userExample = "/usr/lib/syncd/examples/syncd.user.toml"

    /// The system service's locations.
    public static let system = DaemonLocations(
        scope: .system, configFile: "/etc/syncd/syncd.toml", socket: DaemonSocket.system, socketMode: 0o660,
        stateDirectory: "/var/lib/syncd")

    /// A user's own daemon's locations. `$HOME` comes from the environment, else the password
    /// database; an XDG variable that is unset or not absolute is ignored, as the spec says.
    public static func user(environment: [String: String], uid: uid_t = getuid()) -> DaemonLocations {
        let home = environment["HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? Self.passwordHome(uid) ?? "/"
        func base(_ variable: String, _ fallback: String) -> String {
            if let value = environment[variable], value.hasPrefix("/") { return value }
            return (home == "/" ? "" : home) + "/" + fallback
        }
        return DaemonLocations(
            scope: .user, configFile: base("XDG_CONFIG_HOME", ".config") + "/syncd/syncd.toml",
            socket: DaemonSocket.user(environment: environment, uid: uid), socketMode: 0o600,
            stateDirectory: base("XDG_STATE_HOME", ".local/state") + "/syncd")
    }

    /// The locations for a process running as `euid`: the system's for root, else the user's.
    public static func forProcess(environment: [String: String], euid: uid_t = geteuid()) -> DaemonLocations {
        euid == 0 ? .system : .user(environment: environment, uid: euid)
    }

    /// What a file without `socket`, `socket_mode` or `state_directory` gets.
    public var defaultSettings: DaemonSettings {
        var settings = DaemonSettings()
        settings.socket = socket
        settings.socketMode = socketMode
        settings.stateDirectory = stateDirectory
        return settings
    }

    /// For a user's daemon, creates the directories its default socket and state live in (0700,
    /// as the XDG spec asks), when `settings` uses them: a new user has no `~/.local/state` and
    /// the runtime directory starts empty. Configured paths are the user's to make.
    public func prepareDirectories(for settings: DaemonSettings, listening activated: Bool) throws {
        guard scope == .user else { return }
        if !activated, settings.socket == socket {
            try Self.makeDirectories(String(socket[..<(socket.lastIndex(of: "/") ?? socket.startIndex)]))
        }
        if settings.stateDirectory == stateDirectory {
            try Self.makeDirectories(String(stateDirectory[..<(stateDirectory.lastIndex(of: "/") ?? stateDirectory.startIndex)]))
        }
    }

    /// `mkdir -p -m 0700`.
    static func makeDirectories(_ path: String) throws {
        guard !path.isEmpty else { return }
        var info = stat()
        if stat(path, &info) == 0 { return }
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            try makeDirectories(String(path[..<slash]))
        }
        guard mkdir(path, 0o700) == 0 || errno == EEXIST else {
            throw ConfigError(file: path, "cannot create the directory \(path): \(String(cString: strerror(errno)))")
        }
    }

    private static func passwordHome(_ uid: uid_t) -> String? {
        guard let entry = getpwuid(uid), let directory = entry.pointee.pw_dir else { return nil }
        return String(cString: directory)
    }
}
