#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MailServers
import XCTest
@testable import IMAPProvider

/// The flag scan of a server without CONDSTORE/QRESYNC (Outlook/Microsoft 365, Yahoo): windowed
/// `UID FETCH a:b (UID FLAGS)`, each window's flag changes and expunges applied as it completes.
final class FlagScanTests: IMAPProviderTestCase {
    /// What Outlook and Yahoo offer: neither CONDSTORE nor QRESYNC.
    static let plain = "IMAP4rev1 LITERAL+ UIDPLUS"

    func testWindows_coverEveryUIDOnce_byMessagesNotUIDNumbers() {
        let known: [UInt32] = [3, 4, 9, 100, 101, 5000, 5001]
        let windows = IMAPSyncRun.flagScanWindows(known: known, upTo: 6000, size: 3)
        XCTAssertEqual(windows.map(\.range), [1...9, 10...5000, 5001...6000])
        XCTAssertEqual(windows.map(\.known), [0..<3, 3..<6, 6..<7])
        XCTAssertEqual(IMAPSyncRun.flagScanWindows(known: [1, 2, 3], upTo: 3, size: 3).map(\.range), [1...3])
        XCTAssertEqual(IMAPSyncRun.flagScanWindows(known: [], upTo: 7, size: 3).map(\.range), [1...7])
        XCTAssertEqual(IMAPSyncRun.flagScanWindows(known: [2, 4], upTo: 9, size: 1).map(\.range), [1...2, 3...9])
    }

    /// 20 000 messages, windows of 1 000: the incremental run asks for flags in 20 fetches of at
    /// most 1 000 messages (counted in Dovecot's rawlog, never one `1:*`), and flag changes and
    /// expunges in the first, a middle and the last window all arrive.
    func testPlainPath_fetchesFlagsInWindows_andAppliesChangesAndExpungesInEach() async throws {
        let count = 20_000
        let dovecot = try Dovecot(messages: count, folders: "INBOX", capability: Self.plain, rawlog: true, maxMessageSize: 400)
        let imap = try provider(dovecot, extra: "flag_scan_window = 1000\nfetch_batch = 1000")
        var (result, errors) = try await sync(imap)
        XCTAssertEqual(result, .ok, "\(errors)")
        try assertInSync(dovecot)

        try await IMAPScript.run(port: dovecot.plainPort, [
            "a LOGIN alice secret", "b SELECT INBOX",
            "c UID STORE 1,9999,20000 +FLAGS (\\Flagged)", "d UID STORE 2,10500,19999 -FLAGS (\\Seen)",
            "e UID STORE 3,12000,19998 +FLAGS (\\Deleted)", "f EXPUNGE", "g LOGOUT",
        ])
        try clearRawlog(dovecot)
        (result, errors) = try await sync(imap)
        XCTAssertEqual(result, .ok, "\(errors)")
        try assertInSync(dovecot)
        XCTAssertEqual(try localContents().count, count - 3)

        let fetches = try flagFetches(dovecot)
        XCTAssertEqual(fetches.count, count / 1000, "\(fetches.prefix(3))…")
        // Contiguous, from 1 to the highest UID, none larger than a window.
        XCTAssertEqual(fetches.first?.lowerBound, 1)
        XCTAssertEqual(fetches.last?.upperBound, UInt32(count))
        for (a, b) in zip(fetches, fetches.dropFirst()) { XCTAssertEqual(a.upperBound + 1, b.lowerBound) }
        XCTAssertTrue(fetches.allSatisfy { $0.count <= 1000 }, "\(fetches)")
    }

    /// Opt-in (SYNCD_FLAG_SCAN_100K=1, or Benchmarks/imap-flag-scan.sh): the peak RSS of this
    /// process during incremental syncs of a 100 000-message folder on the plain path, against the
    /// same for a 1 000-message folder: with nothing changed on the server (the cost of opening
    /// the folder: its UID map and listing, and the scan), with three flags changed (the map
    /// rewritten too), and with the scan in one window (the unbounded fetch, for comparison).
    /// Prints them; the second (changes applied) stays within 30 MB of the small folder's.
    func testPlainPath_100000Messages_memoryStaysFlat() async throws {
        guard ProcessInfo.processInfo.environment["SYNCD_FLAG_SCAN_100K"] != nil else {
            throw XCTSkip("set SYNCD_FLAG_SCAN_100K=1 (or run Benchmarks/imap-flag-scan.sh)")
        }
        let large = Int(ProcessInfo.processInfo.environment["SYNCD_FLAG_SCAN_MESSAGES"] ?? "") ?? 100_000
        let small = try await scanPeaks(messages: 1_000)
        let big = try await scanPeaks(messages: large)
        func mb(_ bytes: Int) -> String { String(format: "+%.1f MB", Double(bytes) / 1_048_576) }
        for (label, index) in [("nothing changed", 0), ("3 flags changed", 1), ("3 flags changed, one window", 2)] {
            print(String(format: "flag-scan: %@: %d messages %@ (%.1f s), %d messages %@ (%.1f s)", label,
                         1_000, mb(small[index].peak), small[index].seconds, large, mb(big[index].peak), big[index].seconds))
        }
        // The first incremental run also warms the allocator (later runs reuse its pages), so the
        // bound is on the second: a windowed scan that applies changes.
        let growth = Double(big[1].peak - small[1].peak) / 1_048_576
        print(String(format: "flag-scan: %d messages over %d, 3 flags changed: %.1f MB", large, 1_000, growth))
        XCTAssertLessThan(growth, 30, "the flag scan's memory grows with the folder")
    }

    /// One folder of `messages` small messages: a first sync, then three measured incremental
    /// syncs (see above); each one's peak RSS over the RSS before it, and its wall time.
    private func scanPeaks(messages: Int) async throws -> [(peak: Int, seconds: Double)] {
        let previous = local!
        local = "/tmp/imap-local-\(UInt32.random(in: 0...UInt32.max))"
        defer {
            try? FileManager.default.removeItem(atPath: local)
            try? FileManager.default.removeItem(atPath: local + "-secrets")
            local = previous
        }
        let dovecot = try Dovecot(messages: messages, folders: "INBOX", capability: Self.plain, maxMessageSize: 400)
        let (result, errors) = try await sync(try provider(dovecot, extra: "fetch_batch = 1000"))
        XCTAssertEqual(result, .ok, "\(errors)")
        var peaks: [(peak: Int, seconds: Double)] = []
        for (index, window) in [5_000, 5_000, 1_000_000].enumerated() {
            if index > 0 {
                let flag = index == 1 ? "+FLAGS" : "-FLAGS"
                try await IMAPScript.run(port: dovecot.plainPort, [
                    "a LOGIN alice secret", "b SELECT INBOX", "c UID STORE 1,\(messages / 2),\(messages) \(flag) (\\Flagged)", "d LOGOUT",
                ])
            }
            let imap = try provider(dovecot, extra: "fetch_batch = 1000\nflag_scan_window = \(window)")
            let before = Self.residentBytes()
            Self.resetPeak()
            let started = ContinuousClock.now
            let (result, errors) = try await sync(imap, flags: .downloadContents)
            let seconds = (ContinuousClock.now - started) / .seconds(1)
            peaks.append((max(0, Self.peakBytes() - before), seconds))
            XCTAssertEqual(result, .ok, "\(errors)")
            XCTAssertEqual(try localContents(), try serverContents(dovecot))
        }
        return peaks
    }

    // MARK: Memory (Linux /proc)

    static func status(_ field: String) -> Int {
        let text = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
        }
        return 0
    }

    static func residentBytes() -> Int { status("VmRSS") }
    static func peakBytes() -> Int { status("VmHWM") }

    /// Resets VmHWM to the current RSS (`echo 5 > /proc/self/clear_refs`, Linux 4.0).
    static func resetPeak() {
        let fd = open("/proc/self/clear_refs", O_WRONLY)
        guard fd >= 0 else { return }
        _ = write(fd, "5", 1)
        close(fd)
    }

    // MARK: Dovecot's rawlog

    private func clearRawlog(_ dovecot: Dovecot) throws {
        for file in try FileManager.default.contentsOfDirectory(atPath: dovecot.rawlogDirectory) {
            try FileManager.default.removeItem(atPath: dovecot.rawlogDirectory + "/" + file)
        }
    }

    /// The UID ranges of every `UID FETCH a:b (UID FLAGS)` the client sent, in order.
    private func flagFetches(_ dovecot: Dovecot) throws -> [ClosedRange<UInt32>] {
        var ranges: [ClosedRange<UInt32>] = []
        let pattern = try NSRegularExpression(pattern: #"UID FETCH (\d+)(?::(\d+))? \(UID FLAGS\)"#)
        for file in try FileManager.default.contentsOfDirectory(atPath: dovecot.rawlogDirectory).sorted() where file.hasSuffix(".in") {
            let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: dovecot.rawlogDirectory + "/" + file)), as: UTF8.self)
            for match in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                let low = UInt32(text[Range(match.range(at: 1), in: text)!])!
                let high = Range(match.range(at: 2), in: text).map { UInt32(text[$0])! } ?? low
                ranges.append(low...high)
            }
            XCTAssertFalse(text.contains("1:* (UID FLAGS)"), "an unbounded flag fetch")
        }
        return ranges
    }
}
