import ArgumentParser
import Foundation
import SyncIPC
import SyncJSON
import SyncProtocol
#if canImport(Glibc)
import Glibc
#endif

/// syncctl's exit statuses, listed once, in `syncctl --help`.
enum Exit {
    static let ok: Int32 = 0
    /// The daemon refused or failed the request (unknown store, busy, ...).
    static let refused: Int32 = 1
    /// `sync --wait`: a run finished, but with warnings or errors (result `partial`, or `ok` after
    /// error or warning callbacks).
    static let warnings: Int32 = 2
    /// `sync --wait`: the run failed.
    static let failed: Int32 = 3
    /// `sync --wait`: the run was cancelled.
    static let cancelled: Int32 = 4
    /// syncd cannot be reached (not running, wrong socket).
    static let unavailable: Int32 = 69
    /// Standard output could not be written (other than a reader that went away, which is 0).
    static let ioError: Int32 = 74
    /// Not allowed: the socket, or control requests.
    static let permissionDenied: Int32 = 77

    static let help = """
        Exit status: 0 success (for `sync --wait`: every run completed cleanly, without warnings or errors); \
        1 the daemon refused a request (unknown store, busy, ...); \
        2 `sync --wait` / `wait --until done`: a run finished with warnings or errors (result partial, or ok with errors or warnings reported on the way); \
        3 a run failed; 4 a run was cancelled (with several stores, the worst of them); \
        64 usage error; 69 syncd cannot be reached; 77 permission denied; 124 `wait --timeout` ran out.
        """

    /// The status for a finished run's result.
    static func forResult(_ result: SyncStatus) -> Int32 {
        if result == .cancelled || result == .shuttingDown || result == .paused { return cancelled }
        if result.isFailure { return failed }
        return result.isWarning ? warnings : ok
    }

    /// The status for a finished run as the user saw it: a run that reported errors or warnings
    /// on the way did not finish cleanly, whatever its result says.
    static func forRun(_ result: SyncStatus, reportedProblems: Bool) -> Int32 {
        let code = forResult(result)
        return code == ok && reportedProblems ? warnings : code
    }
}

/// `--socket`, `--user`, `--system`, shared by every subcommand.
struct SocketOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "The daemon's socket.",
        discussion: "Default: $SYNCD_SOCKET, else the user's own daemon's ($XDG_RUNTIME_DIR/syncd/syncd.sock) if it exists, else the system's (/run/syncd/syncd.sock)."))
    var socket: String?

    @Flag(name: .long, help: "Talk to the user's own daemon ($XDG_RUNTIME_DIR/syncd/syncd.sock).")
    var user = false

    @Flag(name: .long, help: "Talk to the system daemon (/run/syncd/syncd.sock).")
    var system = false

    func validate() throws {
        if user, system { throw ValidationError("--user and --system exclude each other") }
        if socket != nil, user || system { throw ValidationError("--socket names the socket itself: leave out --user and --system") }
    }

    /// Which daemon syncctl picked itself (nil when --socket or $SYNCD_SOCKET named the socket).
    var scope: DaemonSocket.Scope? {
        if user { return .user }
        if system { return .system }
        let environment = ProcessInfo.processInfo.environment
        if socket != nil || environment["SYNCD_SOCKET"] != nil { return nil }
        return DaemonSocket.defaultScope(environment: environment)
    }

    var path: String {
        if let scope { return DaemonSocket.path(scope, environment: ProcessInfo.processInfo.environment) }
        return socket ?? ProcessInfo.processInfo.environment["SYNCD_SOCKET"] ?? DaemonSocket.system
    }

    /// The line `status` starts with when syncctl picked the daemon, as `systemctl` names the
    /// manager: "syncd (user): /run/user/1000/syncd/syncd.sock".
    var header: String? {
        scope.map { "syncd (\($0.rawValue)): \(path)" }
    }

    /// Connects, or exits with a message that says what to do.
    func connect() async throws -> SyncClient {
        do {
            return try await SyncClient.connect(to: path, clientName: "syncctl")
        } catch let error as SyncClientError where error.connectErrno != nil || error.isConnectFailure {
            let (message, status) = SocketTrouble.explain(path, connectErrno: error.connectErrno, error: error)
            fail(message, status: status)
        } catch {
            fail("cannot talk to syncd at \(path): \(error)", status: Exit.unavailable)
        }
    }
}

extension SyncClientError {
    var isConnectFailure: Bool {
        if case .connectFailed = self { return true }
        return false
    }
}

/// Prints a refusal or failure to stderr, prefixed with `syncctl: `.
func complain(_ message: String) {
    Output.error("syncctl: " + message)
}

/// Prints to stderr and exits.
func fail(_ message: String, status: Int32) -> Never {
    complain(message)
    exit(status)
}

/// The daemon's answer in the user's words: it names requests as they are on the wire
/// ("permission denied: sync-now — ..."); syncctl names them as its subcommands ("sync").
func userWords(_ message: String, for command: Request.Command) -> String {
    let verb = userVerb(command)
    guard verb != command.name else { return message }
    return message
        .replacingOccurrences(of: "permission denied: \(command.name) ", with: "permission denied: \(verb) ")
        .replacingOccurrences(of: "accepts no \(command.name) requests", with: "accepts no \(verb) requests")
}

/// The subcommand that sends `command`: "sync" for the wire's sync-now, else the wire's name.
func userVerb(_ command: Request.Command) -> String { JSONOutput.verb(command) }

/// The store a control request names, nil for reload.
func storeName(_ command: Request.Command) -> String? { JSONOutput.store(of: command) }

/// The exit status for a refused reply.
func status(for reply: Reply) -> Int32 {
    if reply.status.isOK || !reply.status.isFailure { return Exit.ok }
    return reply.status == .permissionDenied ? Exit.permissionDenied : Exit.refused
}

/// Runs a request, turning a lost connection into a clear exit.
func request<T>(isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> T) async -> T {
    do {
        return try await body()
    } catch SyncClientError.refused(let reply) {
        fail(reply.message, status: status(for: reply))
    } catch {
        fail("\(error)", status: Exit.unavailable)
    }
}
