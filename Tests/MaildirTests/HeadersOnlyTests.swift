#if canImport(Glibc)
import Glibc
#endif
import XCTest
@testable import Maildir

/// Messages downloaded headers only, and their bodies arriving later.
final class HeadersOnlyTests: XCTestCase {
    private let archive = try! FolderName(["Archive"])

    func testBodyReplacesTheHeaderFile_keepingTheUsersLocalFlags() throws {
        let directory = try TemporaryDirectory()
        let store = try MaildirStore(directory, .maildirPlusPlus)
        let folder = try store.prepare(archive)
        try folder.deliverHeaders([1, 2], flags: [.seen])
        try folder.deliver([3])
        try assertConsistent(folder, expected: [1, 2, 3], headersOnly: [1, 2])
        XCTAssertTrue(folder.filePath(for: 1)!.contains(",H=1:2,S"), folder.filePath(for: 1)!)

        // The user flags message 1 in their mail client before its body arrives.
        let header = folder.filePath(for: 1)!
        XCTAssertEqual(rename(header, header + "F"), 0)
        XCTAssertEqual(try folder.deliverBodies([1, 2]), [1, 2])
        try assertConsistent(folder, expected: [1, 2, 3])
        XCTAssertTrue(folder.filePath(for: 1)!.hasSuffix(":2,FS"), "local flags kept: \(folder.filePath(for: 1)!)")
        XCTAssertEqual(folder.map[1]?.flags, [.seen], "the map keeps the flags agreed with the server")
        XCTAssertEqual(try folder.scanLocalChanges().flagChanges.map(\.uid), [1], "the user's change is still to upload")

        let batch = try folder.beginBatch()
        XCTAssertThrowsError(try batch.openBody(uid: 3)) { XCTAssertEqual(($0 as? MaildirError)?.code, .duplicateUID) }
        XCTAssertThrowsError(try batch.openBody(uid: 9)) { XCTAssertEqual(($0 as? MaildirError)?.code, .duplicateUID) }
        batch.abort()
    }

    func testBodyCrash_atEveryStep_leavesOneFilePerMessage_andARerunCompletes() throws {
        let cases: [(CrashPoint, headersOnly: Set<UInt32>, adopted: [UInt32])] = [
            // point, still headers only after recovery, what recovery takes over
            (.deliveryFilesSynced, [1, 2, 3], []),
            (.deliveryFirstRenamed, [2, 3], [1]),
            (.deliveryRenamed, [], [1, 2, 3]),
            (.deliveryDirectoriesSynced, [], [1, 2, 3]),
            (.mapTemporaryWritten, [], [1, 2, 3]),
            (.mapRenamed, [], []),  // committed; only the header files were left to delete
        ]
        for (point, headersOnly, adopted) in cases {
            let directory = try TemporaryDirectory()
            var store: MaildirStore? = try MaildirStore(directory, .maildirPlusPlus)
            var folder: MaildirFolder? = try store!.prepare(archive)
            try folder!.deliverHeaders([1, 2, 3])
            folder!.runUntilCrash(CrashTrigger(point)) { try folder!.deliverBodies([1, 2, 3]) }
            folder = nil
            store = nil

            store = try MaildirStore(directory, .maildirPlusPlus)
            folder = try store!.openFolder(archive)
            XCTAssertEqual(folder!.lastRecovery.adopted, adopted, "\(point)")
            XCTAssertEqual(folder!.lastRecovery.quarantined, [], "\(point)")
            try assertConsistent(folder!, expected: [1, 2, 3], headersOnly: headersOnly)
            XCTAssertEqual(try folder!.deliverBodies(headersOnly.sorted()), headersOnly.sorted())
            try assertConsistent(folder!, expected: [1, 2, 3])
            folder = nil
            folder = try store!.openFolder(archive)
            XCTAssertTrue(folder!.lastRecovery.isEmpty, "\(point): \(folder!.lastRecovery)")
        }
    }
}

extension MaildirFolder {
    /// Downloads the headers of `uids` (as ``messageHeader(_:)`` of their test bodies) in one batch.
    @discardableResult
    func deliverHeaders(_ uids: [UInt32], flags: MessageFlags = []) throws -> [UInt32] {
        let batch = try beginBatch()
        for uid in uids {
            let writer = try batch.open(uid: uid, flags: flags, headersOnly: true)
            try writer.write(messageHeader(messageBody(uid: uid)))
            try writer.finish()
        }
        return try batch.commit()
    }

    /// Downloads the whole messages of headers-only `uids` in one batch.
    @discardableResult
    func deliverBodies(_ uids: [UInt32]) throws -> [UInt32] {
        let batch = try beginBatch()
        for uid in uids {
            let writer = try batch.openBody(uid: uid)
            try writer.write(messageBody(uid: uid))
            try writer.finish()
        }
        return try batch.commit()
    }
}
