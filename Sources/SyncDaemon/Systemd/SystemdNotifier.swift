import CSystemd
#if canImport(Glibc)
import Glibc
#endif

/// `sd_notify` for `Type=notify`: readiness, status line, watchdog pings, stopping.
///
/// Without `$NOTIFY_SOCKET` (not started by systemd) every call does nothing, as
/// systemd's own example does: running by hand is not an error.
public struct SystemdNotifier: Sendable {
    public init() {}

    public var isEnabled: Bool { getenv("NOTIFY_SOCKET") != nil }

    /// The watchdog interval systemd expects pings within (`WatchdogSec=`), if enabled for us.
    public var watchdogInterval: Duration? {
        var usec: UInt64 = 0
        guard sd_watchdog_enabled(0, &usec) > 0, usec > 0 else { return nil }
        return .microseconds(Int64(usec))
    }

    public func ready(status: String) { send("READY=1\nSTATUS=\(status)\nMAINPID=\(getpid())") }
    public func status(_ status: String) { send("STATUS=\(status)") }
    public func watchdog() { send("WATCHDOG=1") }
    public func reloading(status: String) { send("RELOADING=1\nSTATUS=\(status)") }
    public func stopping(status: String) { send("STOPPING=1\nSTATUS=\(status)") }

    private func send(_ state: String) {
        guard isEnabled else { return }
        _ = sd_notify(0, state)
    }
}

/// Socket activation: the listening socket systemd passes as fd 3.
public enum SocketActivation {
    /// The passed Unix stream socket, or nil when not socket-activated.
    /// - Throws: when systemd passed something else than exactly one Unix stream socket.
    public static func listeningSocket() throws -> CInt? {
        // `1` unsets LISTEN_* so child processes (the exec provider) do not inherit them.
        let count = sd_listen_fds(1)
        if count == 0 { return nil }
        guard count == 1 else {
            throw SocketActivationError(count < 0
                ? "sd_listen_fds failed: \(String(cString: strerror(-count)))"
                : "systemd passed \(count) sockets; syncd.socket must have exactly one ListenStream=")
        }
        let fd = SD_LISTEN_FDS_START
        guard sd_is_socket_unix(fd, Int32(SOCK_STREAM.rawValue), 1, nil, 0) > 0 else {
            throw SocketActivationError("fd \(fd) from systemd is not a listening Unix stream socket")
        }
        return fd
    }
}

public struct SocketActivationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
