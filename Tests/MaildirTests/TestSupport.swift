#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest
@testable import Maildir

/// A fresh directory under /tmp, removed with everything in it on deinit.
final class TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/maildir-test-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw TestFailure("mkdtemp: \(String(cString: strerror(errno)))")
        }
        path = String(cString: made)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Thrown by a crash hook: the operation stops there, with no cleanup, like a `kill -9`.
struct SimulatedCrash: Error {}

/// A deterministic body for `uid`, CRLF line endings as IMAP sends them, of a size that varies by UID.
/// A message's header: its bytes up to and including the blank line.
func messageHeader(_ message: [UInt8]) -> [UInt8] {
    let end = (0..<message.count - 3).first { message[$0..<$0 + 4].elementsEqual([13, 10, 13, 10]) }
    return Array(message[..<(end.map { $0 + 4 } ?? message.count)])
}

func messageBody(uid: UInt32, size: Int? = nil) -> [UInt8] {
    let size = size ?? Int((uid &* 7919) % 6000) + 200
    var text = "X-UID: \(uid)\r\nSubject: message \(uid)\r\n\r\n"
    var line = 0
    while text.utf8.count < size {
        text += "line \(line) of message \(uid) ......................................\r\n"
        line += 1
    }
    return Array(text.utf8)
}

/// What a body looks like on disk after `.unix` line endings.
func storedBody(_ body: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(body.count)
    var index = 0
    while index < body.count {
        if body[index] == 13, index + 1 < body.count, body[index + 1] == 10 {
            index += 1
            continue
        }
        out.append(body[index])
        index += 1
    }
    return out
}

extension MaildirStore {
    convenience init(_ directory: TemporaryDirectory, _ layout: MaildirLayout = .maildirPlusPlus, options: Options = Options(hostname: "test.host")) throws {
        try self.init(root: directory.path + "/mail", layout: layout, options: options)
    }

    var fsyncs: Int { fsyncCount.load(ordering: .relaxed) }

    /// Creates and opens a folder, giving it `uidValidity` if it has none.
    func prepare(_ name: FolderName = .inbox, uidValidity: UInt32 = 1000) throws -> MaildirFolder {
        try createFolder(name)
        let folder = try openFolder(name)
        if folder.uidValidity == nil { try folder.resetFolder(newUIDValidity: uidValidity) }
        return folder
    }
}

extension MaildirFolder {
    /// Downloads `uids` in one batch, each body written in `chunk`-byte pieces; returns the commit's UIDs.
    @discardableResult
    func deliver(
        _ uids: some Sequence<UInt32>, flags: (UInt32) -> MessageFlags = { _ in [] }, chunk: Int = 1000,
        highestModSeq: UInt64? = nil
    ) throws -> [UInt32] {
        let batch = try beginBatch()
        for uid in uids {
            let writer = try batch.open(uid: uid, flags: flags(uid))
            let body = messageBody(uid: uid)
            var offset = 0
            while offset < body.count {
                try writer.write(body[offset..<min(offset + chunk, body.count)])
                offset += chunk
            }
            try writer.finish()
        }
        return try batch.commit(highestModSeq: highestModSeq)
    }

    func fileNames(_ sub: String) throws -> [String] {
        try (Posix.list(path + "/" + sub)?.entries.map(\.name) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }
}

/// Checks the folder's invariants on disk: every mapped UID has exactly one file, with the right
/// content; every message file of ours in cur/new is mapped (none is left over; files that are not
/// ours are allowed); no temporary file of ours remains; the map on disk equals the one in memory.
/// Returns the mapped UIDs.
@discardableResult
func assertConsistent(
    _ folder: MaildirFolder, expected: Set<UInt32>? = nil, headersOnly: Set<UInt32> = [],
    file: StaticString = #filePath, line: UInt = #line
) throws -> Set<UInt32> {
    let onDisk = try folder.store.readMap(directory: folder.path) ?? UIDMap()
    XCTAssertEqual(onDisk, folder.map, "map on disk differs from memory", file: file, line: line)
    var byBase: [String: Int] = [:]
    let mappedBases = Set(folder.map.entries.values.map(\.baseName))
    for sub in ["cur", "new"] {
        for name in try folder.fileNames(sub) {
            let parsed = MessageFileName(name)
            let ours = parsed.isOurs && parsed.folderID == folder.map.folderID
            guard ours || mappedBases.contains(parsed.base) else { continue }
            byBase[parsed.base, default: 0] += 1
        }
    }
    var mapped = Set<UInt32>()
    for (uid, entry) in folder.map.entries {
        XCTAssertNil(entry.pending, "UID \(uid) still has a pending operation", file: file, line: line)
        XCTAssertEqual(byBase[entry.baseName], 1, "UID \(uid) should have exactly one file", file: file, line: line)
        byBase[entry.baseName] = nil
        let parsed = MessageFileName(entry.baseName)
        XCTAssertEqual(parsed.uid, uid, file: file, line: line)
        XCTAssertEqual(parsed.uidValidity, folder.uidValidity, file: file, line: line)
        if let path = folder.filePath(for: uid) {
            let content = try Posix.readFile(path) ?? []
            let whole = messageBody(uid: uid)
            XCTAssertEqual(
                content, storedBody(headersOnly.contains(uid) ? messageHeader(whole) : whole), "UID \(uid) content",
                file: file, line: line)
            XCTAssertEqual(entry.isHeadersOnly, headersOnly.contains(uid), "UID \(uid) headers only", file: file, line: line)
            XCTAssertEqual(parsed.size, content.count, "UID \(uid) S= size", file: file, line: line)
        } else {
            XCTFail("UID \(uid) has no known location", file: file, line: line)
        }
        mapped.insert(uid)
    }
    XCTAssertEqual(byBase, [:], "files not in the map", file: file, line: line)
    let temporary = try folder.fileNames("tmp").filter { MessageFileName($0).isOurs }
    XCTAssertEqual(temporary, [], "temporary files left", file: file, line: line)
    if let expected { XCTAssertEqual(mapped, expected, file: file, line: line) }
    XCTAssertGreaterThanOrEqual(folder.highestUID, mapped.max() ?? 0, file: file, line: line)
    return mapped
}

/// Sets a file's modification time `seconds` into the past.
func age(_ path: String, by seconds: Int) {
    var times = [timespec](repeating: timespec(tv_sec: time(nil) - seconds, tv_nsec: 0), count: 2)
    _ = utimensat(AT_FDCWD, path, &times, 0)
}

func writeFile(_ path: String, _ text: String) throws {
    guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
        throw TestFailure("cannot create \(path)")
    }
}

/// Counts how often each crash point is reached, and throws ``SimulatedCrash`` at one occurrence.
final class CrashTrigger {
    let point: CrashPoint
    let occurrence: Int
    private(set) var seen = 0
    var fired: Bool { seen >= occurrence }

    init(_ point: CrashPoint, occurrence: Int = 1) {
        self.point = point
        self.occurrence = occurrence
    }

    func hook(_ reached: CrashPoint) throws {
        guard reached == point else { return }
        seen += 1
        if seen == occurrence { throw SimulatedCrash() }
    }
}

extension MaildirFolder {
    /// Runs `operation` until `trigger` stops it; fails the test if it was not reached.
    func runUntilCrash(_ trigger: CrashTrigger, file: StaticString = #filePath, line: UInt = #line, _ operation: () throws -> Void) {
        crashHook = { try trigger.hook($0) }
        do {
            try operation()
            XCTFail("\(trigger.point) #\(trigger.occurrence) was never reached", file: file, line: line)
        } catch is SimulatedCrash {
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
        }
        crashHook = nil
    }
}

/// Every file under a directory tree (0 if missing).
func filesUnder(_ path: String) -> [String] {
    guard let enumerator = FileManager.default.enumerator(atPath: path) else { return [] }
    var files: [String] = []
    while let next = enumerator.nextObject() as? String {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path + "/" + next, isDirectory: &isDirectory), !isDirectory.boolValue {
            files.append(next)
        }
    }
    return files.sorted()
}
