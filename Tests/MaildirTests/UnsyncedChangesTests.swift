#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest
@testable import Maildir

/// What the push watcher reads after a run, beside the locked store: a folder's change is seen
/// until the map records it, and what a run recorded is no change.
final class UnsyncedChangesTests: XCTestCase {
    private let inbox = FolderName.inbox
    /// Kept for the test's length: dropping it deletes the directory.
    private var directory: TemporaryDirectory!

    func testAFolderAsItsMapRecordsIt_holdsNoChange_andEachKindOfChangeIsSeen() throws {
        directory = try TemporaryDirectory()
        let store = try MaildirStore(directory, .maildirPlusPlus)
        let tree = store.tree
        let folder = try store.prepare(inbox)
        try folder.deliver(1...20, flags: { $0 % 2 == 0 ? [.seen] : [] })
        XCTAssertFalse(try tree.hasUnsyncedChanges(inbox), "just delivered: all recorded")

        // A flag set by the mail client: seen until the map records it as synced.
        let name = try XCTUnwrap(try folder.fileNames("cur").first { MessageFileName($0).uid == 3 })
        let flagged = name.hasSuffix(":2,") ? name + "F" : name.replacingOccurrences(of: ":2,", with: ":2,F")
        XCTAssertEqual(rename(folder.curPath + "/" + name, folder.curPath + "/" + flagged), 0)
        XCTAssertTrue(try tree.hasUnsyncedChanges(inbox))
        let changes = try folder.scanLocalChanges()
        XCTAssertEqual(changes.flagChanges.map(\.uid), [3])
        try folder.recordSyncedFlags([3: changes.flagChanges[0].local])
        XCTAssertFalse(try tree.hasUnsyncedChanges(inbox), "uploaded and recorded")

        // Flags the server changed, applied by a run: recorded, so no change.
        try folder.setFlags([5: [.seen, .replied]])
        XCTAssertFalse(try tree.hasUnsyncedChanges(inbox))

        // A message deleted locally.
        let victim = try XCTUnwrap(try folder.fileNames("cur").first { MessageFileName($0).uid == 7 })
        XCTAssertEqual(unlink(folder.curPath + "/" + victim), 0)
        XCTAssertTrue(try tree.hasUnsyncedChanges(inbox))
        try folder.expunge([7])
        XCTAssertFalse(try tree.hasUnsyncedChanges(inbox))

        // A message the mail client saved (not ours).
        try writeFile(folder.curPath + "/1700000000.M1P1.client:2,S", "Subject: draft\n\nhello\n")
        XCTAssertTrue(try tree.hasUnsyncedChanges(inbox))
        folder.close()
    }

    func testACleanStampedFolder_holdsNoChange_andAFolderNeverSynced_holdsWhatItHolds() throws {
        directory = try TemporaryDirectory()
        let store = try MaildirStore(directory, .maildirPlusPlus)
        let folder = try store.prepare(inbox)
        try folder.deliver(1...5)
        folder.close()
        usleep(UInt32(ListingStamp.quietPeriod * 2e6))
        let reopened = try store.openFolder(inbox)
        XCTAssertTrue(try reopened.scanLocalChanges().isEmpty)
        reopened.close()
        let path = try store.directory(for: inbox)
        XCTAssertNotNil(ListingStamp.saved(folder: path), "stamped")
        XCTAssertFalse(try store.tree.hasUnsyncedChanges(inbox))

        let drafts = try FolderName(["Drafts"])
        XCTAssertFalse(try store.tree.hasUnsyncedChanges(drafts), "missing")
        try store.createFolder(drafts)
        XCTAssertFalse(try store.tree.hasUnsyncedChanges(drafts), "empty, never synced")
        try writeFile(try store.directory(for: drafts) + "/cur/1700000000.M2P1.client:2,D", "Subject: draft\n\nhello\n")
        XCTAssertTrue(try store.tree.hasUnsyncedChanges(drafts), "a message in a folder never synced")
    }
}
