#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SyncIPC
import SyncProtocol

/// The built `syncd` binary next to the test bundle (`swift build --build-tests` builds both).
public func builtProduct(_ name: String) throws -> String {
    let bundle = URL(fileURLWithPath: CommandLine.arguments.first { $0.hasSuffix(".xctest") } ?? CommandLine.arguments[0])
    let path = bundle.deletingLastPathComponent().appendingPathComponent(name).path
    guard FileManager.default.isExecutableFile(atPath: path) else {
        throw TestError("\(path) is missing: run `swift build --build-tests` first")
    }
    return path
}

public struct TestError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A real syncd process on a temporary socket, config and state directory.
public final class DaemonProcess {
    public let directory: String
    public let socket: String
    public let configPath: String
    public let stateDirectory: String
    public private(set) var process: Process?
    private var stderrFile: String { directory + "/stderr.log" }

    public init(config: String) throws {
        directory = "/tmp/syncd-test-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        socket = directory + "/s.sock"
        configPath = directory + "/syncd.toml"
        stateDirectory = directory + "/state"
        try writeConfig(config)
    }

    deinit {
        if let process, process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    public func writeConfig(_ text: String) throws {
        try text.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// Starts syncd and waits until it accepts viewers; `prefix` as for ``launch(arguments:environment:prefix:)``.
    @discardableResult
    public func start(environment: [String: String] = [:], prefix: [String] = []) async throws -> Process {
        let process = try launch(environment: environment, prefix: prefix)
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if !process.isRunning { throw TestError("syncd exited with \(process.terminationStatus): \(stderr)") }
            if let client = try? await SyncClient.connect(to: socket, clientName: "probe") {
                await client.close()
                return process
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestError("syncd did not listen within 20 s: \(stderr)")
    }

    /// Starts syncd without waiting for it (for start-up failures). `prefix` runs it behind a
    /// command that execs it (`setpriv --reuid=...`), so the pid stays syncd's.
    public func launch(arguments: [String]? = nil, environment: [String: String] = [:], prefix: [String] = []) throws -> Process {
        let process = Process()
        let binary = try builtProduct("syncd")
        let arguments = arguments ?? ["--config", configPath, "--socket", socket, "--state-dir", stateDirectory]
        process.executableURL = URL(fileURLWithPath: prefix.first ?? binary)
        process.arguments = prefix.isEmpty ? arguments : Array(prefix.dropFirst()) + [binary] + arguments
        var env = ProcessInfo.processInfo.environment
        env["JOURNAL_STREAM"] = nil
        env["NOTIFY_SOCKET"] = nil
        env.merge(environment) { $1 }
        process.environment = env
        _ = FileManager.default.createFile(atPath: stderrFile, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: stderrFile)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        self.process = process
        return process
    }

    public var stderr: String { (try? String(contentsOfFile: stderrFile, encoding: .utf8)) ?? "" }

    /// Waits for the process to exit and returns its status.
    public func waitForExit(timeout: Duration = .seconds(20)) async throws -> Int32 {
        guard let process else { throw TestError("not started") }
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else { throw TestError("syncd did not exit within \(timeout)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    public func signal(_ number: Int32) {
        if let process { kill(process.processIdentifier, number) }
    }

    public func client(_ name: String = "test") async throws -> SyncClient {
        try await SyncClient.connect(to: socket, clientName: name)
    }

    public func savedState() throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: stateDirectory + "/state.json"))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }
}

/// Reads a subscription until `predicate` holds for an event, returning everything seen.
public func events(
    from updates: AsyncThrowingStream<ViewerUpdate, Error>, timeout: Duration = .seconds(20),
    until predicate: @escaping @Sendable (SyncEvent) -> Bool
) async throws -> [SyncEvent] {
    try await withTimeout(timeout, "an event") {
        var seen: [SyncEvent] = []
        for try await update in updates {
            guard case .event(let event) = update else { continue }
            seen.append(event)
            if predicate(event) { return seen }
        }
        throw TestError("stream ended after \(seen.count) events without the awaited one: \(seen.map(\.kind))")
    }
}

/// Runs `body`, failing with "timed out waiting for `what`" if it has not finished after `timeout`.
public func withTimeout<T: Sendable>(
    _ timeout: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            throw TestError("timed out waiting for \(what)")
        }
        let result = try await group.next()!
        group.cancelAll()
        return result
    }
}

extension SyncEvent {
    public var isDone: Bool {
        if case .done = kind { return true }
        return false
    }

    public var isProgress: Bool {
        if case .progress = kind { return true }
        return false
    }

    public var isRunStarted: Bool {
        if case .runStarted = kind { return true }
        return false
    }

    public var doneResult: SyncStatus? {
        if case .done(let result) = kind { return result }
        return nil
    }
}

/// Runs a short-lived tool and returns its exit status and stdout. posix_spawn and waitpid, not
/// Foundation's Process: a tool that daemonizes (tmux) confuses Process's exit monitoring.
///
/// With `captureOutput` false, stdout goes to /dev/null: a tool that leaves a daemon behind
/// (`tmux new-session` starts the tmux server) would otherwise hold the pipe open forever.
///
/// The tool starts as from a clean shell, not with the test runner's state: no signal blocked,
/// every signal at its default action (a runner that blocks or ignores SIGTERM would otherwise
/// hand that on, and a Dovecot started by the tool would ignore `dovecot.sh stop`), and no
/// descriptor but 0, 1 and 2 open (a test's listening socket or pipe must not live on in a daemon
/// the tool leaves running). It stays in the runner's process group: what must outlive it in a
/// group of its own makes one itself (tests/dovecot/dovecot.sh starts Dovecot under setsid).
public func runTool(
    _ path: String, _ arguments: [String], captureOutput: Bool = true, mergeStandardError: Bool = false
) -> (status: Int32, stdout: String) {
    var fds: [CInt] = [0, 0]
    guard pipe(&fds) == 0 else { return (-1, "") }
    // Close-on-exec, so only the dup onto fd 1 (when capturing) reaches the tool, and nothing it
    // leaves running keeps the read end from seeing EOF.
    _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
    _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
    let pid = spawnTool(path, arguments) { actions in
        if captureOutput {
            posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        }
        if mergeStandardError, captureOutput {
            posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
    }
    close(fds[1])
    defer { close(fds[0]) }
    guard let pid else { return (-1, "") }
    var output = [UInt8]()
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = read(fds[0], &chunk, chunk.count)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        output += chunk[0..<n]
    }
    return (waitForTool(pid), String(decoding: output, as: UTF8.self))
}

/// Starts a tool as ``runTool(_:_:captureOutput:mergeStandardError:)`` does, with its stdout and
/// stderr appended to `outputFile`, and returns its pid without waiting: for a test that watches
/// the output while the tool runs. The caller waits for it with ``waitForTool(_:)``.
public func startTool(_ path: String, _ arguments: [String], outputFile: String) -> pid_t? {
    spawnTool(path, arguments) { actions in
        posix_spawn_file_actions_addopen(&actions, 1, outputFile, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
    }
}

/// Waits for a tool's exit: its exit status, or 128 + the signal that ended it.
public func waitForTool(_ pid: pid_t) -> Int32 {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let exited = status & 0x7f == 0
    return exited ? (status >> 8) & 0xff : 128 + (status & 0x7f)
}

/// posix_spawn with a clean signal mask and default dispositions and no descriptor but 0, 1 and 2
/// (see ``runTool(_:_:captureOutput:mergeStandardError:)``); `redirect` sets up 1 and 2.
private func spawnTool(
    _ path: String, _ arguments: [String], redirect: (inout posix_spawn_file_actions_t) -> Void
) -> pid_t? {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    redirect(&actions)
    closeInheritedDescriptors(&actions)
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var noSignals = sigset_t()
    sigemptyset(&noSignals)
    posix_spawnattr_setsigmask(&attributes, &noSignals)
    var allSignals = sigset_t()
    sigemptyset(&allSignals)
    for signal in 1..<Int32(NSIG) { sigaddset(&allSignals, signal) }  // SIGKILL, SIGSTOP: no-ops
    posix_spawnattr_setsigdefault(&attributes, &allSignals)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    guard posix_spawn(&pid, path, &actions, &attributes, argv, environ) == 0 else { return nil }
    return pid
}

/// Adds "close every descriptor from 3 up" to `actions`, after the dups onto 0, 1 and 2.
/// glibc (2.34+) has posix_spawn_file_actions_addclosefrom_np, but declares it only under
/// _GNU_SOURCE, which Swift's Glibc module does not define: it is looked up at run time. Without
/// it, each descriptor open now is closed by its own action (one opened meanwhile by another
/// thread may then slip through; glibc ignores closing one that is gone by then).
private func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) {
    typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, CInt) -> CInt
    if let symbol = dlsym(dlopen(nil, RTLD_NOW), "posix_spawn_file_actions_addclosefrom_np") {
        let closeFrom = unsafeBitCast(symbol, to: CloseFrom.self)
        if closeFrom(&actions, 3) == 0 { return }
    }
    let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    for fd in open.compactMap({ CInt($0) }) where fd > 2 {
        posix_spawn_file_actions_addclose(&actions, fd)
    }
}
