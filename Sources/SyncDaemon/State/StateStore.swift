#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SyncProtocol

/// What the daemon remembers across restarts, per store and overall.
public struct DurableState: Codable, Sendable, Equatable {
    public struct ErrorRecord: Codable, Sendable, Equatable {
        public var time: UInt64
        public var run: RunID
        public var code: UInt32
        public var message: String
    }

    public struct Store: Codable, Sendable, Equatable {
        public var lastResult: UInt32?
        public var lastRunEnded: UInt64?
        public var lastSuccess: UInt64?
        public var runs: Int = 0
        public var failedRuns: Int = 0
        public var paused: Bool = false
        /// The most recent errors and warnings, oldest first.
        public var errors: [ErrorRecord] = []
    }

    public var version = 1
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
        do {
            return try JSONDecoder().decode(DurableState.self, from: data)
        } catch {
            throw StateError("\(path) is not valid state (\(error)); move it aside to start fresh")
        }
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

public struct StateError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
