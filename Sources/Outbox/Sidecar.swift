#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Maildir

/// `sending/NAME.envelope`: what the message file itself does not say — its envelope and where it
/// is in its life. Replaced whole by one durable rename at every change, so it is always either
/// the old state or the new one.
struct Sidecar: Codable, Equatable {
    var version = 1
    /// The queued original's base name (before any `:2,`), found in `new/` or `cur/` by recovery.
    var source: String
    var from: String
    var recipients: [String]
    var messageID: String
    var subject: String
    var size: Int
    /// Seconds since 1970: when the message was queued (its file's modification time).
    var queuedAt: Double
    var attempts = 0
    var lastError: String?
    var lastAttemptAt: Double?
    /// Set by ``Outbox/beginAttempt(_:)`` before MAIL FROM, cleared when the attempt's outcome
    /// is recorded: set on a message found later means a crash mid-send.
    var attemptBegunAt: Double?
    /// The copy for the Sent folder has been filed (some recipients were deferred; the rest got it).
    var sentCopyFiled = false
    /// The path of the Sent copy being filed (cleared once it is).
    var filing: String?
    /// Every recipient accepted it: what is left is filing and removing it.
    var sent = false
    /// Refused for good with this reason: what is left is filing it into Failed and removing it.
    var failure: String?

    static func path(_ sending: String, _ name: String) -> String { sending + "/" + name + ".envelope" }

    static func read(_ path: String) throws -> Sidecar? {
        guard let data = FileManager.default.contents(atPath: path) else {
            if access(path, F_OK) != 0 { return nil }
            throw OutboxError("cannot read \(path)")
        }
        do {
            return try JSONDecoder().decode(Sidecar.self, from: data)
        } catch {
            throw OutboxError("\(path) is not a valid envelope file: \(error)")
        }
    }

    /// Temporary file, fsync, rename over the old one, fsync of the directory.
    func write(_ sending: String, _ name: String, hook: OutboxCrashHook?) throws {
        let target = Self.path(sending, name)
        let temporary = target + ".tmp"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(self)
        _ = try? DurableFiles.unlinkIfPresent(temporary)
        let fd = try DurableFiles.create(temporary)
        do {
            try data.withUnsafeBytes { try DurableFiles.write(fd, $0, path: temporary) }
        } catch {
            close(fd)
            throw error
        }
        try DurableFiles.syncAndClose(fd, path: temporary)
        try hook?(.sidecarTemporaryWritten)
        guard rename(temporary, target) == 0 else { throw OutboxError.io("rename to \(target) from", temporary) }
        try DurableFiles.syncDirectory(sending)
    }
}
