#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SyncIPC
import SyncProtocol

/// What the daemon remembers across restarts, per store and overall.
public struct DurableState: Codable, Sendable, Equatable {
    public struct ErrorRecord: Codable, Sendable, Equatable {
        public var time: UInt64
        public var run: RunID
        public var code: UInt32
        public var message: String
    }

    /// One finished run, for `syncctl show`.
    public struct RunRecord: Codable, Sendable, Equatable {
        public var run: RunID
        public var flags: UInt32
        public var trigger: UInt8
        public var started: UInt64
        public var ended: UInt64
        public var result: UInt32
        public var warnings: UInt32
        public var errors: UInt32
    }

    public struct Store: Codable, Sendable, Equatable {
        public var lastResult: UInt32?
        public var lastRunEnded: UInt64?
        public var lastSuccess: UInt64?
        public var runs: Int = 0
        public var failedRuns: Int = 0
        public var paused: Bool = false
        /// Waiting for a person to log in (`syncctl login`): not scheduled until then.
        public var authRequired: Bool = false
        /// The most recent errors and warnings, oldest first.
        public var errors: [ErrorRecord] = []
        /// The most recent finished runs, oldest first (at most ``recentRunsKept``).
        public var recentRuns: [RunRecord] = []

        public init(
            lastResult: UInt32? = nil, lastRunEnded: UInt64? = nil, lastSuccess: UInt64? = nil, runs: Int = 0,
            failedRuns: Int = 0, paused: Bool = false, errors: [ErrorRecord] = [], recentRuns: [RunRecord] = []
        ) {
            self.lastResult = lastResult
            self.lastRunEnded = lastRunEnded
            self.lastSuccess = lastSuccess
            self.runs = runs
            self.failedRuns = failedRuns
            self.paused = paused
            self.errors = errors
            self.recentRuns = recentRuns
        }

        // Files written before a field existed lack it.
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            lastResult = try c.decodeIfPresent(UInt32.self, forKey: .lastResult)
            lastRunEnded = try c.decodeIfPresent(UInt64.self, forKey: .lastRunEnded)
            lastSuccess = try c.decodeIfPresent(UInt64.self, forKey: .lastSuccess)
            runs = try c.decodeIfPresent(Int.self, forKey: .runs) ?? 0
            failedRuns = try c.decodeIfPresent(Int.self, forKey: .failedRuns) ?? 0
            paused = try c.decodeIfPresent(Bool.self, forKey: .paused) ?? false
            authRequired = try c.decodeIfPresent(Bool.self, forKey: .authRequired) ?? false
            errors = try c.decodeIfPresent([ErrorRecord].self, forKey: .errors) ?? []
            recentRuns = try c.decodeIfPresent([RunRecord].self, forKey: .recentRuns) ?? []
        }
    }

    /// Finished runs remembered per store.
    public static let recentRunsKept = 20

    public var version = 1
    /// Counters above this are refused as damage: no daemon gets there (2^62 runs or events).
    public static let counterLimit: UInt64 = 1 << 62
    /// The next run id to hand out; run ids never repeat for the life of the state directory.
    public var nextRun: RunID = 1
    /// The next event sequence number; a restarted daemon continues beyond it.
    public var nextSeq: UInt64 = 1
    public var stores: [String: Store] = [:]

    public init() {}
}

/// Keeps ``DurableState`` in `state.json` under the state directory, written atomically: a temp
/// file, fsync, rename over the old one, fsync of the directory. A `kill -9` at any moment leaves
/// either the old file or the new one, never a torn one, so a run reported done stays done.
public struct StateStore: Sendable {
    public let directory: String
    public var path: String { directory + "/state.json" }

    public init(directory: String) {
        self.directory = directory
    }

    /// Reads the state; a missing file is a fresh start.
    /// - Throws: ``StateError`` when the file exists but cannot be read or parsed.
    public func load() throws -> DurableState {
        guard FileManager.default.fileExists(atPath: path) else { return DurableState() }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StateError("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        let state: DurableState
        do {
            state = try JSONDecoder().decode(DurableState.self, from: data)
        } catch {
            throw StateError("\(path) is not valid state (\(error)); move it aside to start fresh")
        }
        // Counters near the top of their range would trap when they overflow; 0 means "no run"
        // on the wire. Neither comes from a daemon that wrote this file, so the file is damaged.
        for (key, value) in [("nextRun", state.nextRun), ("nextSeq", state.nextSeq)] {
            guard value >= 1, value <= DurableState.counterLimit else {
                throw StateError("\(path): \(key) is \(value), outside 1...\(DurableState.counterLimit); the file is damaged: move it aside to start fresh")
            }
        }
        return state
    }

    /// Takes the state directory for this process (an flock on `syncd.lock`, held until exit),
    /// so that two daemons never write one state.
    /// - Throws: ``StateError`` naming the daemon that holds it.
    public func lock() throws -> StateLock {
        let lockPath = directory + "/syncd.lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw StateError("cannot open \(lockPath): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var bytes = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &bytes, bytes.count, 0)
            close(fd)
            let holder = String(decoding: bytes.prefix(max(0, n)), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw StateError("another syncd (pid \(holder.isEmpty ? "unknown" : holder)) uses the state directory \(directory); stop it first or pass another --state-dir")
        }
        let pid = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
        return StateLock(fd: fd)
    }

    /// The durable high-water mark of sequence numbers (see ``SeqFile``).
    public func seqFile() throws -> SeqFile {
        try SeqFile(path: directory + "/seq")
    }

    /// Creates the directory (0750) if needed.
    public func prepare() throws {
        var info = stat()
        if stat(directory, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else { throw StateError("\(directory) is not a directory") }
            guard access(directory, W_OK) == 0 else {
                throw StateError("the state directory \(directory) is not writable (run as its owner, or pass --state-dir)")
            }
            return
        }
        guard mkdir(directory, 0o750) == 0 else {
            throw StateError("cannot create the state directory \(directory): \(String(cString: strerror(errno)))")
        }
    }

    /// Writes the state durably (see the type's documentation).
    public func save(_ state: DurableState) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let data = try encoder.encode(state)
        let temporary = "\(path).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw StateError("cannot write \(temporary): \(String(cString: strerror(errno)))") }
        var failure: String?
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = "write \(temporary): \(String(cString: strerror(errno)))"
                    return
                }
                offset += n
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = "fsync \(temporary): \(String(cString: strerror(errno)))" }
        close(fd)
        if let failure {
            unlink(temporary)
            throw StateError(failure)
        }
        guard rename(temporary, path) == 0 else {
            throw StateError("rename \(temporary) to \(path): \(String(cString: strerror(errno)))")
        }
        let dir = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 {
            fsync(dir)
            close(dir)
        }
    }
}

/// The state directory's lock, held while this exists (the process, in practice).
public final class StateLock: Sendable {
    let fd: CInt
    init(fd: CInt) { self.fd = fd }
    deinit { close(fd) }
}

/// Sequence numbers reserved durably in blocks: before a number of a new block is handed out,
/// the block's end is written here, so after any crash the next start begins beyond every number
/// that may have been used. The file has a fixed size and is overwritten in place (pwrite,
/// fdatasync), so a full disk cannot stop a reservation.
public final class SeqFile: SeqReserver {
    private let fd: CInt
    public let path: String
    /// The limit recorded when the file was opened: every number below it may have been used.
    public let reserved: UInt64
    static let width = 20

    init(path: String) throws {
        self.path = path
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw StateError("cannot open \(path): \(String(cString: strerror(errno)))") }
        var bytes = [UInt8](repeating: 0, count: Self.width + 1)
        let n = pread(fd, &bytes, bytes.count, 0)
        let text = String(decoding: bytes.prefix(max(0, n)), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if text.isEmpty {
            reserved = 0
            try Self.write(0, to: fd, path: path)  // allocate the file's block now, while there is room
        } else if let value = UInt64(text), value <= DurableState.counterLimit {
            reserved = value
        } else {
            close(fd)
            throw StateError("\(path) holds '\(text.prefix(40))', not a sequence number up to \(DurableState.counterLimit); the file is damaged: move it aside to start fresh")
        }
    }

    deinit { close(fd) }

    public func reserve(below limit: UInt64) throws {
        try Self.write(limit, to: fd, path: path)
    }

    private static func write(_ value: UInt64, to fd: CInt, path: String) throws {
        let digits = String(value)
        let line = String(repeating: "0", count: max(0, width - digits.count)) + digits + "\n"
        let written = line.withCString { pwrite(fd, $0, width + 1, 0) }
        guard written == width + 1, fdatasync(fd) == 0 else {
            throw StateError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}

public struct StateError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
