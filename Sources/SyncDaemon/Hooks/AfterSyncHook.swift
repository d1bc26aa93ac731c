#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import Synchronization
import SyncProtocol

/// The store's `after_sync` command (`["notmuch", "new"]`): run after each run that changed
/// something, with the run's counts in its environment. What every mbsync + notmuch user scripts
/// by hand.
///
/// It runs as an exec store's command does: in a process group of its own, stdin from
/// `/dev/null`, no descriptor of the daemon's but its output pipes, no signal blocked or ignored;
/// its output goes to the journal line by line. After `after_sync_timeout` (5 min) its group gets
/// SIGTERM, and SIGKILL 5 s later. One runs per store at a time: a run that ends while the last
/// one's hook still runs has the hook run once more afterwards.
public enum AfterSyncHook {
    /// `after_sync` and `after_sync_timeout` of one store.
    public struct Command: Sendable, Equatable {
        public var arguments: [String]
        public var timeout: Duration

        /// Reads the keys; nil when `after_sync` is absent.
        init?(_ section: ConfigSection) throws {
            guard let arguments = try section.stringArray("after_sync") else {
                if try section.duration("after_sync_timeout") != nil {
                    throw section.error("after_sync_timeout", "is for after_sync, which is not set")
                }
                return nil
            }
            guard let program = arguments.first, !program.isEmpty else {
                throw section.error("after_sync", "expected a command such as [\"notmuch\", \"new\"]")
            }
            do {
                _ = try ExecProvider.Spawner.locate(program, searchPath: ProcessInfo.processInfo.environment["PATH"])
            } catch {
                throw section.error("after_sync", "\(program): \(error.rawValue == EACCES ? "not executable" : "not found")")
            }
            self.arguments = arguments
            timeout = try section.duration("after_sync_timeout", default: .seconds(300))
            guard timeout >= .seconds(1) else { throw section.error("after_sync_timeout", "must be at least 1s") }
        }
    }

    /// What a hook is told of the run, as `SYNCD_*` variables.
    static func environment(store: String, run: RunID, trigger: RunTrigger, result: SyncStatus, changes: RunChanges) -> [String: String] {
        var variables = ProcessInfo.processInfo.environment
        for name in ["NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            variables[name] = nil
        }
        variables["SYNCD_STORE"] = store
        variables["SYNCD_RUN"] = String(run)
        variables["SYNCD_TRIGGER"] = trigger.description
        variables["SYNCD_RESULT"] = result.name
        variables["SYNCD_NEW"] = String(changes.new)
        variables["SYNCD_UPLOADED"] = String(changes.uploaded)
        variables["SYNCD_FLAGS_CHANGED"] = String(changes.flagsChanged)
        variables["SYNCD_DELETED"] = String(changes.deleted)
        variables["SYNCD_MOVED"] = String(changes.moved)
        variables["SYNCD_SENT"] = String(changes.sent)
        variables["SYNCD_NEW_FOLDERS"] = changes.news.map(\.folder).joined(separator: "\n")
        return variables
    }

    private struct Queue {
        var running: Set<String> = []
        /// Hooks asked for while the store's last one ran: run once more, with the latest counts.
        var again: [String: @Sendable () -> Void] = [:]
    }

    private static let queue = Mutex(Queue())

    /// Starts the hook on a thread of its own (it waits on the child, which must not hold one of
    /// the cooperative pool's few threads) and returns at once.
    static func start(
        _ command: Command, store: String, run: RunID, trigger: RunTrigger, result: SyncStatus, changes: RunChanges,
        logger: Logger
    ) {
        let environment = Self.environment(store: store, run: run, trigger: trigger, result: result, changes: changes)
        let job: @Sendable () -> Void = { execute(command, environment: environment, store: store, logger: logger) }
        let now = queue.withLock { queue in
            if queue.running.contains(store) {
                queue.again[store] = job
                return false
            }
            queue.running.insert(store)
            return true
        }
        guard now else { return }
        let thread = Thread {
            var next: (@Sendable () -> Void)? = job
            while let job = next {
                job()
                next = queue.withLock { queue in
                    guard let again = queue.again.removeValue(forKey: store) else {
                        queue.running.remove(store)
                        return nil
                    }
                    return again
                }
            }
        }
        thread.name = "after_sync \(store)"
        thread.start()
    }

    /// Runs the command to its end (or its timeout), logging its output and how it ended.
    static func execute(_ command: Command, environment: [String: String], store: String, logger: Logger) {
        let started = ContinuousClock.now
        let child: ExecProvider.SpawnedChild
        do {
            let path = try ExecProvider.Spawner.locate(command.arguments[0], searchPath: environment["PATH"])
            child = try ExecProvider.Spawner.spawn(
                path: path, arguments: command.arguments, environment: environment.map { "\($0.key)=\($0.value)" },
                workingDirectory: nil)
        } catch {
            logger.error("after_sync: cannot start \(command.arguments[0]): \(error)")
            return
        }
        var open = [child.stdout, child.stderr]
        var pending: [Int32: [UInt8]] = [:]
        var buffer = [UInt8](repeating: 0, count: 4096)
        var signalled: Int32 = 0
        let deadline = started + command.timeout
        while !open.isEmpty {
            let now = ContinuousClock.now
            if signalled == 0, now >= deadline {
                logger.warning("after_sync: \(command.arguments[0]) still runs after \(command.timeout.configText); stopping it")
                kill(-child.pid, SIGTERM)
                signalled = SIGTERM
            } else if signalled == SIGTERM, now >= deadline + .seconds(5) {
                kill(-child.pid, SIGKILL)
                signalled = SIGKILL
            }
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), 250)
            guard ready > 0 else { continue }
            for entry in fds where entry.revents != 0 {
                let n = read(entry.fd, &buffer, buffer.count)
                if n <= 0 {
                    close(entry.fd)
                    open.removeAll { $0 == entry.fd }
                    continue
                }
                pending[entry.fd, default: []] += buffer[0..<n]
                while let newline = pending[entry.fd]?.firstIndex(of: 10) {
                    let line = pending[entry.fd]![..<newline]
                    pending[entry.fd]!.removeSubrange(...newline)
                    logger.info("after_sync: \(String(decoding: line, as: UTF8.self))")
                }
                if (pending[entry.fd]?.count ?? 0) > 4096 { pending[entry.fd] = [] }  // a line too long to keep
            }
        }
        for (_, rest) in pending where !rest.isEmpty { logger.info("after_sync: \(String(decoding: rest, as: UTF8.self))") }
        // Whatever it left running in its group goes with it, as with an exec store's command
        // (before the reap: until then the group id cannot be anyone else's).
        kill(-child.pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(child.pid, &status, 0) < 0, errno == EINTR {}
        let took = (ContinuousClock.now - started).configText
        if status & 0x7f == 0 {
            let code = (status >> 8) & 0xff
            if code == 0 {
                logger.info("after_sync: \(command.arguments[0]) done in \(took)")
            } else {
                logger.warning("after_sync: \(command.arguments[0]) exited with status \(code) after \(took)")
            }
        } else {
            logger.warning("after_sync: \(command.arguments[0]) killed by signal \(status & 0x7f) after \(took)")
        }
    }
}
