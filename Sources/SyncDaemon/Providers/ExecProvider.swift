#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import Synchronization
import SyncIPC
import SyncProtocol

/// Runs a command the user already trusts (mbsync, rclone, vdirsyncer, a script) as a store's sync.
///
/// Options: `command` (required array of strings; `command[0]` is looked up in the child's `PATH`
/// unless it contains a `/`, and a relative path is taken from `working_directory`),
/// `working_directory` (absolute path; default: the daemon's), `environment` (table of strings),
/// `secret_env` (table of `NAME = { credential = "x" }`, `{ file = "/p" }` or `{ command = [...] }`,
/// read at the start of each run) and `grace` (default `"5s"`: the time between SIGTERM and SIGKILL
/// when a run is cancelled).
///
/// The command runs in its own process group with standard input from `/dev/null`. Its
/// environment is the daemon's, without systemd's `LISTEN_FDS`, `LISTEN_PID`, `LISTEN_FDNAMES`,
/// `NOTIFY_SOCKET`, `WATCHDOG_PID` and `WATCHDOG_USEC`, plus `SYNCD_STORE`, `SYNCD_RUN`,
/// `SYNCD_FLAGS` (such as `download-hierarchy,download-contents`) and `SYNCD_TRIGGER` (such as
/// `schedule`), then `environment`, then `secret_env` (a later one wins).
///
/// Standard output is read line by line, in this format. Words are separated by spaces or tabs;
/// a CODE is a status name (`partial`, `network`, `auth-failed`, ...) or a `0x` hexadecimal number
/// (`0x80040115`); bit 31 set makes a code a failure:
///
///     progress INDEX MAX [STEP TEXT...]  INDEX of MAX done (decimal; MAX 0 if unknown); without
///                                        STEP TEXT, viewers keep showing the previous text
///     warning [CODE] MESSAGE...          a warning; CODE defaults to `warning` and must be a
///                                        warning code (not a failure, not `ok`)
///     error [CODE] MESSAGE...            an error; CODE defaults to `failed` and must be a failure
///     result CODE                        the run's result if the command exits with status 0
///                                        (`result partial`); the last such line counts
///
/// After `warning` or `error`, a first word that is a status name or `0x` number is the CODE, and
/// MESSAGE (the rest of the line) must not be empty. A line whose first word is one of these
/// keywords but that does not fit its form is logged as a warning, "malformed line from command:
/// ...", and otherwise ignored. Any other line is logged at info level; empty lines are ignored.
/// Lines longer than 64 KiB are cut, with a warning in the log. Standard error is logged line by
/// line at warning level. Progress lines that arrive together are merged into one event (viewers
/// need only the latest bar); warnings and errors keep their place between them.
///
/// Result: exit status 0 gives the `result` line's code, or `ok`. Another exit status, or death by a
/// signal the daemon did not send, reports an error and gives `failed`. A command that cannot be
/// started (not found, not executable) or a secret that cannot be read reports an error and gives
/// `config`. When the run is cancelled (task cancellation, or progress answering cancel) the whole
/// process group gets SIGTERM, and SIGKILL after `grace`; the run gives `cancelled`. When the
/// command exits, whatever it left running in its process group is killed.
public struct ExecProvider: StoreProvider {
    /// The program and its arguments; never empty.
    public var command: [String]
    /// The command's current directory; nil keeps the daemon's.
    public var workingDirectory: String?
    /// Variables added to (or replacing) the daemon's in the command's environment.
    public var environment: [String: String]
    /// Environment variables whose values are secrets, read when a run starts.
    public var secretEnvironment: [String: SecretSource]
    /// How long the command may take to exit after SIGTERM before its process group gets SIGKILL.
    public var grace: Duration

    /// Variables systemd sets for the daemon alone; a child that saw them could answer for the daemon.
    static let daemonOnlyVariables = ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "NOTIFY_SOCKET", "WATCHDOG_PID", "WATCHDOG_USEC"]

    /// - Precondition: `command` is not empty.
    public init(command: [String], workingDirectory: String? = nil, environment: [String: String] = [:],
                secretEnvironment: [String: SecretSource] = [:], grace: Duration = .seconds(5)) {
        precondition(!command.isEmpty, "an exec provider needs a command")
        self.command = command
        self.workingDirectory = workingDirectory
        self.environment = environment
        self.secretEnvironment = secretEnvironment
        self.grace = grace
    }

    public func synchronize(_ request: SyncRequest, callback: SyncCallback) async throws -> SyncStatus {
        let control: ChildControl
        do {
            control = try ChildControl(grace: grace)
        } catch {
            callback.error(.config, "cannot run '\(command[0])': \(error)")
            return .config
        }
        let job = Job(provider: self, request: request, callback: callback, control: control)
        // A run is driven by blocking calls (a secret's command, poll, waitid), so it gets a thread
        // of its own rather than holding one of the few threads of Swift's cooperative pool.
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<SyncStatus, Never>) in
                let thread = Thread { continuation.resume(returning: job.run()) }
                thread.name = "exec \(request.store)"
                thread.start()
            }
        } onCancel: {
            control.cancel()
        }
    }

    /// The child's environment: see the type's documentation.
    /// - Throws: ``SecretError`` naming the variable and the source that failed.
    func childEnvironment(for request: SyncRequest, callback: SyncCallback) throws -> [String: String] {
        var variables = ProcessInfo.processInfo.environment
        for name in Self.daemonOnlyVariables { variables[name] = nil }
        variables["SYNCD_STORE"] = request.store
        variables["SYNCD_RUN"] = String(request.run)
        variables["SYNCD_FLAGS"] = request.flags.description
        variables["SYNCD_TRIGGER"] = request.trigger.description
        variables.merge(environment) { $1 }
        for (name, source) in secretEnvironment.sorted(by: { $0.key < $1.key }) {
            do {
                variables[name] = try callback.secret(source)
            } catch {
                throw SecretError("secret_env.\(name): \(error)")
            }
        }
        return variables
    }
}

/// Builds ``ExecProvider``s: `provider = "exec"`.
public struct ExecFactory: ProviderFactory {
    public init() {}
    public let name = "exec"
    public let optionKeys = ["command", "working_directory", "environment", "secret_env", "grace"]

    public func makeProvider(for store: String, options: ConfigSection) throws -> any StoreProvider {
        guard let command = try options.stringArray("command") else {
            throw options.error("command", "is required, such as command = [\"mbsync\", \"--all\"]")
        }
        guard let program = command.first, !program.isEmpty else {
            throw options.error("command", "expected the program and its arguments, such as [\"mbsync\", \"--all\"]")
        }
        guard !command.contains(where: { $0.utf8.contains(0) }) else {
            throw options.error("command", "an argument contains a NUL character")
        }
        let directory = try options.string("working_directory")
        if let directory, !directory.hasPrefix("/") || directory.utf8.contains(0) {
            throw options.error("working_directory", "expected an absolute path")
        }
        let environment = try options.stringTable("environment") ?? [:]
        for (name, value) in environment {
            try Self.checkVariable(name, in: options, key: "environment.\(name)")
            if value.utf8.contains(0) { throw options.error("environment.\(name)", "the value contains a NUL character") }
        }
        try Self.checkProgram(program, workingDirectory: directory, environment: environment, in: options)
        return ExecProvider(
            command: command, workingDirectory: directory, environment: environment,
            secretEnvironment: try secretEnvironment(options), grace: try options.duration("grace", default: .seconds(5)))
    }

    private func secretEnvironment(_ options: ConfigSection) throws -> [String: SecretSource] {
        guard let section = try options.section("secret_env") else { return [:] }
        var secrets: [String: SecretSource] = [:]
        for name in section.table.keys.sorted() {
            try Self.checkVariable(name, in: section, key: name)
            secrets[name] = try section.secret(name)
        }
        try section.finish()
        return secrets
    }

    /// A program that cannot be started would fail every run, so `--check`, start and reload
    /// refuse it: a path (relative ones from `working_directory`) must be an executable file, and a
    /// bare name must be found in `PATH` the way a run looks it up (`environment.PATH`, else the
    /// daemon's own). A run still reports `config` if the program goes away later.
    private static func checkProgram(_ program: String, workingDirectory: String?, environment: [String: String],
                                     in options: ConfigSection) throws {
        guard program.contains("/") else {
            let searchPath = environment["PATH"] ?? ProcessInfo.processInfo.environment["PATH"]
            do {
                _ = try ExecProvider.Spawner.locate(program, searchPath: searchPath)
            } catch {
                let path = searchPath ?? ExecProvider.Spawner.defaultSearchPath
                throw options.error("command", error.rawValue == EACCES
                    ? "\(program): found in PATH (\(path)) but not executable"
                    : "\(program): not found in PATH (\(path))")
            }
            return
        }
        let path = program.hasPrefix("/") ? program : (workingDirectory ?? ".") + "/" + program
        var info = stat()
        guard stat(path, &info) == 0 else {
            let reason = errno == ENOENT ? "no such file" : String(cString: strerror(errno))
            throw options.error("command", "\(program): \(reason)")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw options.error("command", "\(program): \(info.st_mode & S_IFMT == S_IFDIR ? "is a directory" : "not a regular file")")
        }
        guard access(path, X_OK) == 0 else { throw options.error("command", "\(program): not executable") }
    }

    /// An environment variable name must not be empty or contain `=` (nor NUL): execve would
    /// silently read it as another variable.
    private static func checkVariable(_ name: String, in section: ConfigSection, key: String) throws {
        guard !name.isEmpty, !name.contains("="), !name.utf8.contains(0) else {
            throw section.error(key, "'\(name)' is not a valid environment variable name")
        }
    }
}

// MARK: - One run

extension ExecProvider {
    /// One run of the command, on its own thread: start it, pump its output, reap it.
    struct Job: Sendable {
        let provider: ExecProvider
        let request: SyncRequest
        let callback: SyncCallback
        let control: ChildControl

        /// How long to keep reading after the command exited and its group was killed: output can
        /// then stay open only in a process that left the group (a daemon it started), and that is
        /// not waited for.
        static let drainLimit = Duration.milliseconds(500)

        func run() -> SyncStatus {
            defer { control.close() }
            let environment: [String: String]
            do {
                environment = try provider.childEnvironment(for: request, callback: callback)
            } catch {
                callback.error(.config, "\(error)")
                return .config
            }
            if control.isCancelled { return .cancelled }
            let child: SpawnedChild
            do {
                child = try start(environment: environment)
            } catch {
                callback.error(.config, "\(error)")
                return .config
            }
            defer {
                close(child.stdout)
                close(child.stderr)
            }
            control.adopt(child.pid)
            startWaiter(for: child.pid)
            var pump = OutputPump(stdout: child.stdout, stderr: child.stderr, callback: callback, control: control)
            let status = pump.run()
            return result(status: status, reported: pump.interpreter.result)
        }

        private func start(environment: [String: String]) throws(SpawnError) -> SpawnedChild {
            let program = provider.command[0]
            if let directory = provider.workingDirectory {
                // Checked here because a failing chdir in the child reads like a missing command.
                var info = stat()
                guard stat(directory, &info) == 0 else {
                    let code = Errno(rawValue: errno)
                    throw SpawnError("working_directory \(directory): \(code)")
                }
                guard info.st_mode & S_IFMT == S_IFDIR else {
                    throw SpawnError("working_directory \(directory): not a directory")
                }
            }
            do {
                let path = try Spawner.locate(program, searchPath: environment["PATH"])
                return try Spawner.spawn(
                    path: path, arguments: provider.command,
                    environment: environment.map { "\($0.key)=\($0.value)" },
                    workingDirectory: provider.workingDirectory)
            } catch {
                throw SpawnError("cannot run '\(program)': \(error)")
            }
        }

        /// Waits for the command to exit without reaping it (so its pid, which is also its process
        /// group id, cannot be reused meanwhile), and tells the pump.
        private func startWaiter(for pid: pid_t) {
            let control = self.control
            let thread = Thread {
                var info = siginfo_t()
                while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0, errno == EINTR {}
                control.markExited()
            }
            thread.name = "exec wait \(pid)"
            thread.start()
        }

        private func result(status: Int32?, reported: SyncStatus?) -> SyncStatus {
            if control.isCancelled { return .cancelled }
            guard let status else {
                callback.error(.failed, "the command's exit status was lost (something else in the daemon reaped it)")
                return .failed
            }
            let signal = status & 0x7F
            if signal == 0 {
                let code = (status >> 8) & 0xFF
                if code == 0 { return reported ?? .ok }
                callback.error(.failed, "command exited with status \(code)")
            } else {
                callback.error(.failed, "command killed by signal \(signal)")
            }
            return .failed
        }
    }

    /// The command could not be started; the message says which part failed and why.
    struct SpawnError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}

// MARK: - Process control

extension ExecProvider {
    /// What cancellation (from any thread), the waiter thread and the pump share: the child's pid,
    /// whether it exited, and the pipe that wakes the pump's `poll`.
    ///
    /// Signals are sent only while the child is unreaped, under the lock that reaps it: an unreaped
    /// child (even a zombie) keeps its pid, which is its process group id too, from being given to
    /// an unrelated process.
    final class ChildControl: Sendable {
        private struct State {
            var pid: pid_t?
            var cancelled = false
            var exited = false
            var reaped = false
            var killDeadline: ContinuousClock.Instant?
            /// -1 once closed, so a late `cancel` never writes to a reused descriptor.
            var wake: (read: Int32, write: Int32)
        }

        let grace: Duration
        /// The read end of the wake pipe, for the pump's `poll`.
        let wakeFD: Int32
        private let state: Mutex<State>

        init(grace: Duration) throws(Errno) {
            let fds = try Spawner.makePipe(nonBlocking: true)
            self.grace = grace
            self.wakeFD = fds.read
            self.state = Mutex(State(wake: fds))
        }

        /// Asks the command to stop: SIGTERM to its group now, SIGKILL after `grace` (sent by the
        /// pump). Does nothing once the command has exited, so a finished run keeps its result.
        func cancel() {
            state.withLock { state in
                guard !state.cancelled, !state.exited else { return }
                state.cancelled = true
                if let pid = state.pid { Self.terminate(pid, &state, grace: grace) }
                Self.wake(state)
            }
        }

        /// Records the started child; if the run was cancelled while it started, stops it at once.
        func adopt(_ pid: pid_t) {
            state.withLock { state in
                state.pid = pid
                if state.cancelled { Self.terminate(pid, &state, grace: grace) }
            }
        }

        /// True when the run was cancelled before the command exited.
        var isCancelled: Bool { state.withLock { $0.cancelled } }
        var hasExited: Bool { state.withLock { $0.exited } }
        /// When a command that got SIGTERM is due for SIGKILL.
        var killDeadline: ContinuousClock.Instant? { state.withLock { $0.killDeadline } }

        /// SIGKILL for a group that outlived its grace.
        func kill() {
            state.withLock { state in
                state.killDeadline = nil
                if let pid = state.pid, !state.reaped { Self.send(SIGKILL, to: pid) }
            }
        }

        /// Called by the waiter thread once the command has exited (not yet reaped).
        func markExited() {
            state.withLock { state in
                state.exited = true
                Self.wake(state)
            }
        }

        /// Kills whatever the command left running in its group, then reaps the command.
        /// - Returns: the wait status, or nil if something else reaped it.
        func reap() -> Int32? {
            state.withLock { (state) -> Int32? in
                guard let pid = state.pid, !state.reaped else { return nil }
                Self.send(SIGKILL, to: pid)
                state.reaped = true
                state.killDeadline = nil
                var status: Int32 = 0
                var result: pid_t
                repeat { result = waitpid(pid, &status, 0) } while result < 0 && errno == EINTR
                return result == pid ? status : nil
            }
        }

        /// Empties the wake pipe after `poll` found it readable.
        func drainWake() {
            var bytes = (UInt64(0), UInt64(0))
            while withUnsafeMutableBytes(of: &bytes, { read(wakeFD, $0.baseAddress, $0.count) }) > 0 {}
        }

        /// Closes the wake pipe, once the run is over.
        func close() {
            state.withLock { state in
                if state.wake.read >= 0 { Glibc.close(state.wake.read) }
                if state.wake.write >= 0 { Glibc.close(state.wake.write) }
                state.wake = (-1, -1)
            }
        }

        private static func terminate(_ pid: pid_t, _ state: inout State, grace: Duration) {
            send(SIGTERM, to: pid)
            state.killDeadline = .now + grace
        }

        /// Signals the command's whole group, and the command itself should it have left the group.
        private static func send(_ signal: Int32, to pid: pid_t) {
            Glibc.kill(-pid, signal)
            if getpgid(pid) != pid { Glibc.kill(pid, signal) }
        }

        private static func wake(_ state: State) {
            guard state.wake.write >= 0 else { return }
            var byte: UInt8 = 1
            // The pipe is non-blocking: when it is full, a wake-up is already pending.
            _ = write(state.wake.write, &byte, 1)
        }
    }
}

// MARK: - Output

extension ExecProvider {
    /// Reads the command's stdout and stderr on the run's thread until it has exited and its
    /// output is closed, and sends SIGKILL when the grace after SIGTERM runs out.
    struct OutputPump {
        let callback: SyncCallback
        let control: ChildControl
        private(set) var interpreter: OutputInterpreter
        private var stdout: PipeReader
        private var stderr: PipeReader
        /// Shared by both pipes: one read at a time.
        private var buffer = [UInt8](repeating: 0, count: 64 * 1024)

        init(stdout: Int32, stderr: Int32, callback: SyncCallback, control: ChildControl) {
            self.callback = callback
            self.control = control
            self.interpreter = OutputInterpreter(callback: callback, control: control)
            self.stdout = PipeReader(fd: stdout)
            self.stderr = PipeReader(fd: stderr)
        }

        /// - Returns: the command's wait status (nil if it was lost).
        mutating func run() -> Int32? {
            let clock = ContinuousClock()
            var status: Int32?
            var drainDeadline: ContinuousClock.Instant?  // set once the command has exited
            while true {
                if drainDeadline == nil, control.hasExited {
                    status = control.reap()
                    drainDeadline = clock.now + Job.drainLimit
                }
                if drainDeadline != nil, !stdout.isOpen, !stderr.isOpen { break }
                if let drainDeadline, clock.now >= drainDeadline {
                    callback.logger.warning("a process the command started left its process group and holds its output open; no longer reading it")
                    break
                }
                if drainDeadline == nil, let killDeadline = control.killDeadline, clock.now >= killDeadline {
                    callback.logger.warning("the command did not stop within \(control.grace.configText) of SIGTERM; sending SIGKILL")
                    control.kill()
                }
                waitForInput(until: drainDeadline ?? control.killDeadline)
                interpreter.flush()
                if callback.isCancelled { control.cancel() }
            }
            interpreter.flush()
            return status
        }

        /// Blocks until output, a wake-up (exit, cancel) or `deadline`, and handles what came.
        private mutating func waitForInput(until deadline: ContinuousClock.Instant?) {
            var fds = [
                pollfd(fd: stdout.isOpen ? stdout.fd : -1, events: Int16(POLLIN), revents: 0),
                pollfd(fd: stderr.isOpen ? stderr.fd : -1, events: Int16(POLLIN), revents: 0),
                pollfd(fd: control.wakeFD, events: Int16(POLLIN), revents: 0),
            ]
            // On a timeout or EINTR the caller's loop re-checks exit and deadlines.
            guard poll(&fds, nfds_t(fds.count), pollMilliseconds(until: deadline)) > 0 else { return }
            if fds[2].revents != 0 { control.drainWake() }
            if fds[0].revents != 0 {
                for line in stdout.read(using: &buffer) {
                    if line.cut { warnCut("stdout") }
                    interpreter.handle(line.text)
                }
            }
            if fds[1].revents != 0 {
                for line in stderr.read(using: &buffer) {
                    if line.cut { warnCut("stderr") }
                    if !line.text.isEmpty { callback.logger.warning("\(callback.redact(line.text))", metadata: ["stream": "stderr"]) }
                }
            }
        }

        private func warnCut(_ stream: String) {
            callback.logger.warning("a line on the command's \(stream) was longer than \(LineBuffer.limit / 1024) KiB and was cut")
        }
    }

    /// One of the command's output pipes, read into lines.
    struct PipeReader {
        let fd: Int32
        private(set) var isOpen = true
        private var lines = LineBuffer()

        init(fd: Int32) { self.fd = fd }

        /// Reads what the pipe holds. - Returns: the lines it completed; at end of file, also the
        /// last line if it had no newline.
        mutating func read(using buffer: inout [UInt8]) -> [LineBuffer.Line] {
            while true {
                let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if count > 0 { return lines.append(buffer[..<count]) }
                if count < 0, errno == EINTR { continue }
                isOpen = false
                return lines.finish()
            }
        }
    }

    /// Splits a byte stream into lines, cutting any line at ``limit`` bytes so memory stays bounded
    /// whatever the command prints.
    struct LineBuffer {
        static let limit = 64 * 1024

        struct Line: Equatable {
            var text: String
            /// True when the line was longer than ``limit`` and lost its end.
            var cut = false
        }

        private var pending: [UInt8] = []
        /// True after a cut, until the rest of that line (up to its newline) has been skipped.
        private var skipping = false

        mutating func append(_ bytes: ArraySlice<UInt8>) -> [Line] {
            var lines: [Line] = []
            var rest = bytes
            while !rest.isEmpty {
                let newline = rest.firstIndex(of: UInt8(ascii: "\n"))
                let segment = rest[..<(newline ?? rest.endIndex)]
                rest = rest[(newline.map { $0 + 1 } ?? rest.endIndex)...]
                if !skipping {
                    let room = Self.limit - pending.count
                    pending.append(contentsOf: segment.prefix(room))
                    if segment.count > room {
                        lines.append(Line(text: takePending(), cut: true))
                        skipping = true
                    }
                }
                if newline != nil {
                    if !skipping { lines.append(Line(text: takePending())) }
                    skipping = false
                }
            }
            return lines
        }

        /// End of file: a last line without a newline still counts.
        mutating func finish() -> [Line] {
            defer { skipping = false }
            return pending.isEmpty || skipping ? [] : [Line(text: takePending())]
        }

        private mutating func takePending() -> String {
            defer { pending.removeAll(keepingCapacity: true) }
            return String(decoding: pending, as: UTF8.self)
        }
    }

    /// Turns the command's stdout lines into callbacks. Progress is held back until ``flush()``
    /// (after each read) or the next warning or error, so a flood of progress lines costs one
    /// event per read, and viewers only ever need the latest bar.
    struct OutputInterpreter {
        let callback: SyncCallback
        let control: ChildControl
        /// The last `result` line's code.
        private(set) var result: SyncStatus?
        private var pendingProgress: (step: String?, index: UInt32, max: UInt32)?

        init(callback: SyncCallback, control: ChildControl) {
            self.callback = callback
            self.control = control
        }

        mutating func handle(_ line: String) {
            switch OutputLine(line) {
            case .progress(let step, let index, let max):
                // Merged progress keeps the text of the line that last set one.
                pendingProgress = (step ?? pendingProgress?.step, index, max)
            case .report(let code, let message):
                flush()
                callback.error(code, message)
            case .result(let code):
                result = code
            case .malformed:
                callback.logger.warning("malformed line from command: \(callback.redact(line))")
            case .text:
                callback.logger.info("\(callback.redact(line))", metadata: ["stream": "stdout"])
            case .blank:
                break
            }
        }

        /// Reports the held-back progress; cancels the command if the host answers cancel.
        mutating func flush() {
            guard let progress = pendingProgress else { return }
            pendingProgress = nil
            if callback.progress(step: progress.step, index: progress.index, max: progress.max) == .cancel {
                control.cancel()
            }
        }
    }

    /// One line of the command's stdout, parsed (the format is in ``ExecProvider``'s documentation).
    enum OutputLine: Equatable {
        case progress(step: String?, index: UInt32, max: UInt32)
        /// A warning or an error.
        case report(SyncStatus, String)
        case result(SyncStatus)
        /// Starts with a keyword but does not fit its form.
        case malformed
        /// Not meant for syncd: logged.
        case text
        case blank

        init(_ line: String) {
            var words = WordReader(line)
            guard let keyword = words.next() else {
                self = .blank
                return
            }
            switch keyword {
            case "progress": self = Self.progress(&words)
            case "warning": self = Self.report(&words, default: .warning, valid: \.isWarning)
            case "error": self = Self.report(&words, default: .failed, valid: \.isFailure)
            case "result": self = Self.result(&words)
            default: self = .text
            }
        }

        private static func progress(_ words: inout WordReader) -> OutputLine {
            guard let index = words.next().flatMap({ UInt32($0) }), let max = words.next().flatMap({ UInt32($0) }) else {
                return .malformed
            }
            let step = words.rest
            return .progress(step: step.isEmpty ? nil : String(step), index: index, max: max)
        }

        private static func report(_ words: inout WordReader, default fallback: SyncStatus,
                                   valid: (SyncStatus) -> Bool) -> OutputLine {
            var code = fallback
            var lookahead = words
            if let word = lookahead.next(), let given = status(word) {
                guard valid(given) else { return .malformed }
                code = given
                words = lookahead
            }
            let message = words.rest
            return message.isEmpty ? .malformed : .report(code, String(message))
        }

        private static func result(_ words: inout WordReader) -> OutputLine {
            guard let code = words.next().flatMap(status), words.next() == nil else { return .malformed }
            return .result(code)
        }

        /// A status name (`partial`) or a `0x` hexadecimal code (`0x00040680`).
        static func status(_ word: Substring) -> SyncStatus? {
            if word.hasPrefix("0x") || word.hasPrefix("0X") {
                let digits = word.dropFirst(2)
                guard (1...8).contains(digits.count), digits.allSatisfy(\.isHexDigit),
                      let value = UInt32(digits, radix: 16) else { return nil }
                return SyncStatus(value)
            }
            return SyncStatus(name: String(word))
        }
    }

    /// Reads space- or tab-separated words off the front of a line.
    struct WordReader {
        private var remaining: Substring

        init(_ line: String) { remaining = line[...] }

        /// The next word, or nil at the end of the line.
        mutating func next() -> Substring? {
            remaining = remaining.drop(while: Self.isBlank)
            guard !remaining.isEmpty else { return nil }
            let word = remaining.prefix { !Self.isBlank($0) }
            remaining = remaining[word.endIndex...]
            return word
        }

        /// The rest of the line, without the blanks in front.
        var rest: Substring { remaining.drop(while: Self.isBlank) }

        private static func isBlank(_ character: Character) -> Bool { character == " " || character == "\t" }
    }
}

// MARK: - posix_spawn

extension ExecProvider {
    /// A started command: its pid (also its process group id) and the read ends of its pipes.
    struct SpawnedChild: Sendable {
        let pid: pid_t
        let stdout: Int32
        let stderr: Int32
    }

    /// An errno value; its description is `strerror`'s.
    struct Errno: Error, Equatable, CustomStringConvertible {
        let rawValue: Int32
        init(rawValue: Int32) { self.rawValue = rawValue }
        var description: String { String(cString: strerror(rawValue)) }
    }

    /// Starts commands with `posix_spawn`, which (unlike Foundation's `Process`) can give the child
    /// a process group of its own, so that cancelling reaches everything the command starts.
    enum Spawner {
        /// The search path when the child's environment has no `PATH`.
        static let defaultSearchPath = "/usr/local/bin:/usr/bin:/bin"

        /// Finds `program` as `execvp` would, but in the child's `PATH` rather than the daemon's.
        /// - Throws: ENOENT when it is nowhere, EACCES when found but not executable.
        static func locate(_ program: String, searchPath: String?) throws(Errno) -> String {
            if program.contains("/") { return program }
            var failure = Errno(rawValue: ENOENT)
            for directory in (searchPath ?? defaultSearchPath).split(separator: ":", omittingEmptySubsequences: false) {
                let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + program
                var info = stat()
                guard stat(candidate, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
                if access(candidate, X_OK) == 0 { return candidate }
                failure = Errno(rawValue: EACCES)
            }
            throw failure
        }

        /// Starts `path` in a new process group, stdin from `/dev/null`, stdout and stderr to pipes.
        /// - Throws: the errno of making the pipes, or of `posix_spawn` (and so of `execve`).
        static func spawn(path: String, arguments: [String], environment: [String],
                          workingDirectory: String?) throws(Errno) -> SpawnedChild {
            let out = try makePipe(nonBlocking: false)
            let err: (read: Int32, write: Int32)
            do { err = try makePipe(nonBlocking: false) } catch {
                closeAll(out.read, out.write)
                throw error
            }
            // The child has its own copies of the write ends; holding them would hide its EOF.
            defer { closeAll(out.write, err.write) }
            do {
                let pid = try spawn(path: path, arguments: arguments, environment: environment,
                                    workingDirectory: workingDirectory, stdout: out.write, stderr: err.write)
                return SpawnedChild(pid: pid, stdout: out.read, stderr: err.read)
            } catch {
                closeAll(out.read, err.read)
                throw error
            }
        }

        private static func spawn(path: String, arguments: [String], environment: [String], workingDirectory: String?,
                                  stdout: Int32, stderr: Int32) throws(Errno) -> pid_t {
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            try check(posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0))
            try check(posix_spawn_file_actions_adddup2(&actions, stdout, 1))
            try check(posix_spawn_file_actions_adddup2(&actions, stderr, 2))
            if let workingDirectory {
                guard let addchdir = GlibcExtensions.addchdir else { throw Errno(rawValue: ENOSYS) }
                try check(addchdir(&actions, workingDirectory))
            }
            // Descriptors the daemon holds without close-on-exec (systemd's listening socket) are
            // none of the command's business.
            if let addclosefrom = GlibcExtensions.addclosefrom { try check(addclosefrom(&actions, 3)) }

            var attributes = posix_spawnattr_t()
            posix_spawnattr_init(&attributes)
            defer { posix_spawnattr_destroy(&attributes) }
            // SETPGROUP with group 0: a group of its own, to signal the command and all it starts.
            // SETSIGMASK and SETSIGDEF: blocked and ignored signals survive exec, and a command
            // with SIGTERM blocked or SIGPIPE ignored would not behave as it does in a shell.
            let flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
            try check(posix_spawnattr_setflags(&attributes, Int16(flags)))
            try check(posix_spawnattr_setpgroup(&attributes, 0))
            var signals = sigset_t()
            sigemptyset(&signals)
            try check(posix_spawnattr_setsigmask(&attributes, &signals))
            sigfillset(&signals)
            try check(posix_spawnattr_setsigdefault(&attributes, &signals))

            let argv = CStringArray(arguments)
            let envp = CStringArray(environment)
            defer {
                argv.free()
                envp.free()
            }
            var pid: pid_t = 0
            try check(posix_spawn(&pid, path, &actions, &attributes, argv.pointers, envp.pointers))
            return pid
        }

        /// A pipe with both ends close-on-exec from the start, so that a command another thread
        /// starts meanwhile cannot inherit them (and hold them open). The child gets its ends by
        /// dup2, which clears the flag on the copy.
        static func makePipe(nonBlocking: Bool) throws(Errno) -> (read: Int32, write: Int32) {
            var fds: [Int32] = [-1, -1]
            let flags = O_CLOEXEC | (nonBlocking ? O_NONBLOCK : 0)
            if let pipe2 = GlibcExtensions.pipe2 {
                guard pipe2(&fds, flags) == 0 else { throw Errno(rawValue: errno) }
            } else {
                guard pipe(&fds) == 0 else { throw Errno(rawValue: errno) }
                for fd in fds {
                    _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                    if nonBlocking { _ = fcntl(fd, F_SETFL, O_NONBLOCK) }
                }
            }
            return (fds[0], fds[1])
        }

        private static func check(_ result: Int32) throws(Errno) {
            if result != 0 { throw Errno(rawValue: result) }
        }

        private static func closeAll(_ fds: Int32...) {
            for fd in fds { close(fd) }
        }
    }

    /// A NULL-terminated array of C strings, for `argv` and `envp`; ``free()`` it when done.
    struct CStringArray {
        let pointers: [UnsafeMutablePointer<CChar>?]

        init(_ strings: [String]) {
            pointers = strings.map { strdup($0) } + [nil]
        }

        func free() {
            for pointer in pointers { Glibc.free(pointer) }
        }
    }

    /// glibc functions that Swift's Glibc module hides (they need `_GNU_SOURCE`), found at run time.
    enum GlibcExtensions {
        typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>?, Int32) -> Int32
        typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, UnsafePointer<CChar>?) -> Int32
        typealias AddClosefrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32

        static let pipe2: Pipe2? = symbol("pipe2")
        /// glibc 2.29 and later.
        static let addchdir: AddChdir? = symbol("posix_spawn_file_actions_addchdir_np")
        /// glibc 2.34 and later.
        static let addclosefrom: AddClosefrom? = symbol("posix_spawn_file_actions_addclosefrom_np")

        private static func symbol<Function>(_ name: String) -> Function? {
            guard let handle = dlopen(nil, RTLD_NOW), let address = dlsym(handle, name) else { return nil }
            return unsafeBitCast(address, to: Function.self)
        }
    }
}
