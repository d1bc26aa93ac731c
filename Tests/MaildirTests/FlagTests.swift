#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest
@testable import Maildir

final class FlagTests: XCTestCase {
    private var directory: TemporaryDirectory!
    private var store: MaildirStore!
    private var folder: MaildirFolder!

    override func setUpWithError() throws {
        directory = try TemporaryDirectory()
        store = try MaildirStore(directory)
        folder = try store.prepare()
        try folder.deliver(1...4, flags: { $0 == 1 ? [.seen] : [] })
    }

    override func tearDown() {
        folder = nil
        store = nil
        directory = nil
    }

    /// Renames a message's file as a mail client would.
    private func clientRename(_ uid: UInt32, to info: String?, intoNew: Bool = false) throws {
        let from = try XCTUnwrap(folder.filePath(for: uid))
        let base = MessageFileName(String(from.split(separator: "/").last!)).base
        let to = folder.path + (intoNew ? "/new/" : "/cur/") + base + (info.map { ":2," + $0 } ?? "")
        XCTAssertEqual(rename(from, to), 0)
    }

    func testSetFlags_renamesSuffixAndRecordsAgreedFlags() throws {
        let before = store.fsyncs
        try folder.setFlags([2: [.seen, .flagged], 3: [.trashed], 99: [.seen]], highestModSeq: 10)
        // Intent map (2) + cur/ (1) + final map (2).
        XCTAssertEqual(store.fsyncs - before, 5)
        XCTAssertTrue(folder.filePath(for: 2)!.hasSuffix(",U=2:2,FS"))
        XCTAssertTrue(folder.filePath(for: 3)!.hasSuffix(",U=3:2,T"))
        XCTAssertEqual(folder.map[2]?.flags, [.seen, .flagged])
        XCTAssertEqual(folder.highestModSeq, 10)
        XCTAssertNil(folder.map[99], "unknown UIDs are ignored")
        XCTAssertTrue(try folder.scanLocalChanges().isEmpty)
        try assertConsistent(folder)
    }

    func testSetFlags_whenFileAlreadyCarriesThem_onlyCommitsTheMap() throws {
        try clientRename(2, to: "S")
        XCTAssertEqual(try folder.scanLocalChanges().flagChanges.map(\.uid), [2])
        let before = store.fsyncs
        try folder.setFlags([2: [.seen]])
        XCTAssertEqual(store.fsyncs - before, 2)
        XCTAssertTrue(try folder.scanLocalChanges().isEmpty)
    }

    func testSetFlags_keepsLettersItDoesNotKnow() throws {
        try clientRename(2, to: "Sa")
        _ = try folder.scanLocalChanges()
        try folder.setFlags([2: [.flagged]])
        XCTAssertTrue(folder.filePath(for: 2)!.hasSuffix(":2,Fa"), folder.filePath(for: 2)!)
    }

    func testSetFlags_findsFileAClientRenamedSinceTheLastScan() throws {
        try clientRename(3, to: "R")  // not scanned: the handle's idea of the name is stale
        try folder.setFlags([3: [.seen]])
        XCTAssertTrue(folder.filePath(for: 3)!.hasSuffix(",U=3:2,S"))
        XCTAssertEqual(try folder.fileNames("cur").filter { $0.contains(",U=3") }.count, 1)
        try assertConsistent(folder)
    }

    func testScan_reportsLocalFlagChanges() throws {
        try clientRename(1, to: "")  // marked unread
        try clientRename(2, to: "RS")  // read and replied
        let changes = try folder.scanLocalChanges()
        XCTAssertEqual(changes.flagChanges, [
            .init(uid: 1, synced: [.seen], local: []),
            .init(uid: 2, synced: [], local: [.seen, .replied]),
        ])
        XCTAssertEqual(changes.vanished, [])
        XCTAssertEqual(changes.unknownFiles, [])
    }

    func testScan_treatsAMoveFromNewToCurAsTheSameMessage() throws {
        // Delivered to new/ (as an MDA or the unseen-to-new option would), then opened in the client.
        try clientRename(4, to: nil, intoNew: true)
        var changes = try folder.scanLocalChanges()
        XCTAssertTrue(changes.isEmpty, "in new/ with no flags: unchanged")
        XCTAssertTrue(folder.filePath(for: 4)!.contains("/new/"))
        try clientRename(4, to: "S")
        changes = try folder.scanLocalChanges()
        XCTAssertEqual(changes.flagChanges, [.init(uid: 4, synced: [], local: [.seen])])
        XCTAssertTrue(folder.filePath(for: 4)!.contains("/cur/"))
        try folder.recordSyncedFlags([4: [.seen]])
        XCTAssertTrue(try folder.scanLocalChanges().isEmpty)
    }

    func testSetFlags_movesAMessageOutOfNew() throws {
        try clientRename(4, to: nil, intoNew: true)
        _ = try folder.scanLocalChanges()
        try folder.setFlags([4: [.flagged]])
        XCTAssertEqual(try folder.fileNames("new"), [])
        XCTAssertTrue(folder.filePath(for: 4)!.hasSuffix(":2,F"))
    }

    func testRecordSyncedFlags_keepsAChangeMadeAfterTheUpload() throws {
        try clientRename(2, to: "S")
        let change = try XCTUnwrap(try folder.scanLocalChanges().flagChanges.first)
        try clientRename(2, to: "FS")  // changed again while we uploaded
        try folder.recordSyncedFlags([change.uid: change.local])
        XCTAssertEqual(folder.map[2]?.flags, [.seen])
        XCTAssertEqual(try folder.scanLocalChanges().flagChanges, [.init(uid: 2, synced: [.seen], local: [.seen, .flagged])])
    }

    func testScan_reportsVanishedAndUnknownFiles() throws {
        XCTAssertEqual(unlink(try XCTUnwrap(folder.filePath(for: 3))), 0)
        try writeFile(folder.path + "/cur/1700000001.55_1.laptop:2,S", "From: me\n\nlocal draft\n")
        try writeFile(folder.path + "/new/1700000002.56_1.laptop", "From: you\n\nfrom procmail\n")
        let changes = try folder.scanLocalChanges()
        XCTAssertEqual(changes.vanished, [3])
        XCTAssertEqual(changes.unknownFiles, ["cur/1700000001.55_1.laptop:2,S", "new/1700000002.56_1.laptop"])
        XCTAssertNil(folder.filePath(for: 3))
        // Dropping a vanished UID (after propagating the delete) is an expunge with nothing to unlink.
        try folder.expunge([3])
        XCTAssertEqual(try folder.scanLocalChanges().vanished, [])
    }

    func testMessageMovedInFromAnotherFolder_isUnknownNotAdopted() throws {
        let sent = try store.prepare(try FolderName(["Sent"]), uidValidity: 1000)  // same UIDVALIDITY as INBOX
        try sent.deliver([1])
        let moved = try XCTUnwrap(folder.filePath(for: 2))
        let target = sent.path + "/cur/" + moved.split(separator: "/").last!
        XCTAssertEqual(rename(moved, target), 0)  // the user moves INBOX's UID 2 into Sent
        sent.close()
        let reopened = try store.openFolder(try FolderName(["Sent"]))
        XCTAssertEqual(reopened.lastRecovery.adopted, [], "another folder's UID 2 is not Sent's UID 2")
        XCTAssertEqual(reopened.lastRecovery.quarantined, [])
        XCTAssertEqual(try reopened.scanLocalChanges().unknownFiles, ["cur/" + target.split(separator: "/").last!])
        XCTAssertEqual(try folder.scanLocalChanges().vanished, [2])
    }
}
