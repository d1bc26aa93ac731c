#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest
@testable import Maildir

/// Local messages on their way to the server: the intent recorded before the APPEND, the file
/// adopted under the server's UID after, and a crash at every step in between.
final class UploadAdoptionTests: XCTestCase {
    private let sent = try! FolderName(["Sent"])

    /// A folder with UIDs 1...3 downloaded and one message the user saved (`cur/<base>:2,S`).
    private func folderWithUserMessage(_ directory: TemporaryDirectory) throws -> (MaildirStore, MaildirFolder, String) {
        let store = try MaildirStore(directory)
        let folder = try store.prepare(sent)
        try folder.deliver(1...3)
        let base = "1700000000.M1P2Q3.mutt host"  // a space: escaped in the map
        try writeFile(folder.path + "/cur/" + base + ":2,S", "Message-ID: <x@y>\nSubject: sent\n\nbody\n")
        return (store, folder, base)
    }

    private func intent(_ folder: MaildirFolder, _ base: String) -> PendingUpload {
        PendingUpload(unique: folder.makeUniqueName(), localBase: base, flags: [.seen], wireSize: 47, internalDate: 1_700_000_000)
    }

    func testNewLocalMessages_areTheUsersUnmappedFiles_andIntentsSurviveReopening() throws {
        let directory = try TemporaryDirectory()
        var (store, folder, base) = try folderWithUserMessage(directory)
        let found = folder.newLocalMessages(try folder.scanLocalChanges())
        XCTAssertEqual(found.map(\.base), [base])
        XCTAssertEqual(found.first?.flags, [.seen])
        let upload = intent(folder, base)
        try folder.recordUploads([upload])
        XCTAssertEqual(folder.newLocalMessages(try folder.scanLocalChanges()), [], "covered by the intent")
        folder.close()
        folder = try store.openFolder(sent)
        XCTAssertEqual(folder.pendingUploads, [upload], "the map keeps it, name escaped and all")
        XCTAssertTrue(folder.lastRecovery.isEmpty, "\(folder.lastRecovery)")
        XCTAssertEqual(try folder.currentPath(of: upload), folder.path + "/cur/" + base + ":2,S")
        _ = store
    }

    func testAdoption_renamesTheFileToCarryTheMarkers_andMapsItWithoutRaisingTheHighestUID() throws {
        let directory = try TemporaryDirectory()
        var (store, folder, base) = try folderWithUserMessage(directory)
        let upload = intent(folder, base)
        try folder.recordUploads([upload])
        // The user reads it again in the meantime: flags and directory follow the file.
        try FileManager.default.moveItem(atPath: folder.path + "/cur/" + base + ":2,S", toPath: folder.path + "/cur/" + base + ":2,FS")
        try folder.adoptUploads([(upload, 9)])
        XCTAssertEqual(folder.pendingUploads, [])
        XCTAssertEqual(folder.map[9]?.flags, [.seen], "agreed: what the server got")
        XCTAssertEqual(folder.highestUID, 3, "UIDs 4...8 may still be waiting on the server")
        let name = try XCTUnwrap(folder.filePath(for: 9))
        XCTAssertTrue(name.hasSuffix(",U=9:2,FS"), name)
        XCTAssertTrue(name.contains("/cur/" + upload.unique + ",S=38,"), name)
        XCTAssertEqual(try folder.scanLocalChanges().flagChanges, [.init(uid: 9, synced: [.seen], local: [.flagged, .seen])])
        folder.close()
        folder = try store.openFolder(sent)
        XCTAssertTrue(folder.lastRecovery.isEmpty, "\(folder.lastRecovery)")
        XCTAssertThrowsError(try folder.adoptUploads([(upload, 2)])) { XCTAssertEqual(($0 as? MaildirError)?.code, .duplicateUID) }
        _ = store
    }

    func testAdoptionCrash_atEveryStep_isFinishedByRecoveryOrByTheNextRun() throws {
        let cases: [(CrashPoint, Int, Bool)] = [
            // point, occurrence, adopted by recovery (else the intent is still open)
            (.uploadFirstRenamed, 1, true), (.uploadDirectoriesSynced, 1, true),
            (.mapTemporaryWritten, 1, true), (.mapRenamed, 1, false),
        ]
        for (point, occurrence, byRecovery) in cases {
            let directory = try TemporaryDirectory()
            let (store, first, base) = try folderWithUserMessage(directory)
            var folder = first
            let upload = intent(folder, base)
            try folder.recordUploads([upload])
            folder.runUntilCrash(CrashTrigger(point, occurrence: occurrence)) { try folder.adoptUploads([(upload, 7)]) }
            folder.close()
            folder = try store.openFolder(sent)  // recovers, as the next process's open would
            let context = "\(point)"
            XCTAssertEqual(folder.lastRecovery.adopted, byRecovery ? [7] : [], context)
            XCTAssertEqual(folder.lastRecovery.quarantined, [], context)
            XCTAssertEqual(folder.pendingUploads, [], context)
            XCTAssertEqual(folder.map[7]?.flags, [.seen], context)
            XCTAssertEqual(folder.highestUID, 3, context)
            let changes = try folder.scanLocalChanges()
            XCTAssertTrue(changes.isEmpty, "\(context): \(changes)")
            let files = try folder.fileNames("cur")
            XCTAssertEqual(files.count, 4, "\(context): \(files)")
            XCTAssertFalse(files.contains { $0.hasPrefix(base) }, context)
        }
    }

    func testIntentWithoutAdoption_staysOpen_andCanBeDropped() throws {
        let directory = try TemporaryDirectory()
        let (store, first, base) = try folderWithUserMessage(directory)
        var folder = first
        let upload = intent(folder, base)
        try folder.recordUploads([upload])
        folder.close()
        folder = try store.openFolder(sent)
        XCTAssertEqual(folder.pendingUploads, [upload], "a crash before or after the APPEND: the next run asks the server")
        try FileManager.default.removeItem(atPath: folder.path + "/cur/" + base + ":2,S")
        XCTAssertNil(try folder.currentPath(of: upload))
        try folder.dropUploads([upload.unique])
        XCTAssertEqual(folder.pendingUploads, [])
        try assertConsistent(folder, expected: [1, 2, 3])
    }
    /// A message deleted here that the server changed meanwhile comes back under its UID, the map
    /// keeping it throughout; a crash after the new file's rename is finished by recovery.
    func testRestore_ofAMessageWhoseFileIsGone_takesTheEntryBack_evenAcrossACrash() throws {
        for crashing in [false, true] {
            let directory = try TemporaryDirectory()
            let store = try MaildirStore(directory)
            var folder = try store.prepare(sent)
            try folder.deliver(1...3, flags: { _ in [.seen] })
            try FileManager.default.removeItem(atPath: try XCTUnwrap(folder.filePath(for: 2)))
            XCTAssertEqual(try folder.scanLocalChanges().vanished, [2])
            let restore = {
                let batch = try folder.beginBatch()
                XCTAssertThrowsError(try batch.openRestore(uid: 9)) { XCTAssertEqual(($0 as? MaildirError)?.code, .duplicateUID) }
                let writer = try batch.openRestore(uid: 2)
                try writer.write(messageBody(uid: 2))
                try writer.finish()
                let committed = try batch.commit()
                XCTAssertEqual(committed, [2])
            }
            if crashing {
                folder.runUntilCrash(CrashTrigger(.deliveryRenamed)) { try restore() }
                folder.close()
                folder = try store.openFolder(sent)
                XCTAssertEqual(folder.lastRecovery.adopted, [2])
                XCTAssertEqual(folder.lastRecovery.vanished, [])
                XCTAssertEqual(folder.lastRecovery.quarantined, [])
            } else {
                try restore()
            }
            try assertConsistent(folder, expected: [1, 2, 3])
            XCTAssertEqual(folder.map[2]?.flags, [.seen], "the agreed flags stay until the server's are applied")
            XCTAssertTrue(try folder.scanLocalChanges().isEmpty)
        }
    }
}
