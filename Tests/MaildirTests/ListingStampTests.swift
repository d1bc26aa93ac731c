#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest
@testable import Maildir

/// Opening a folder unchanged since a clean listing reads no directory; any change is still seen.
final class ListingStampTests: XCTestCase {
    private let inbox = FolderName.inbox
    /// Kept for the test's length: dropping it deletes the directory.
    private var directory: TemporaryDirectory!

    /// A folder with 20 messages, left quiet long enough to be stamped by its next listing.
    private func quietFolder() throws -> MaildirStore {
        directory = try TemporaryDirectory()
        let store = try MaildirStore(directory, .maildirPlusPlus)
        let folder = try store.prepare(inbox)
        try folder.deliver(1...20, flags: { $0 % 2 == 0 ? [.seen] : [] })
        folder.close()
        waitQuiet()
        return store
    }

    private func waitQuiet() {
        usleep(UInt32(ListingStamp.quietPeriod * 2e6))
    }

    /// Lists the folder once (which stamps it, being quiet and clean), then waits quiet again.
    private func stamp(_ store: MaildirStore) throws {
        let folder = try store.openFolder(inbox)
        _ = try folder.scanLocalChanges()
        folder.close()
        waitQuiet()
    }

    private func listings(_ store: MaildirStore, during body: () throws -> Void) rethrows -> Int {
        let before = store.listingCount.load(ordering: .relaxed)
        try body()
        return store.listingCount.load(ordering: .relaxed) - before
    }

    func testACleanFolder_isListedOnce_thenOpenedWithoutReadingItsDirectories() throws {
        let store = try quietFolder()
        XCTAssertEqual(try listings(store) {
            let folder = try store.openFolder(inbox)
            XCTAssertTrue(try folder.scanLocalChanges().isEmpty)
            folder.close()
        }, 1)
        var folder: MaildirFolder!
        XCTAssertEqual(try listings(store) {
            folder = try store.openFolder(inbox)
            XCTAssertTrue(try folder.scanLocalChanges().isEmpty)
        }, 0, "unchanged since the clean listing")
        XCTAssertEqual(folder.map.count, 20)
        XCTAssertNotNil(folder.filePath(for: 3), "where the files are is found when asked")
        try assertConsistent(folder, expected: Set(1...20))
    }

    func testEveryKindOfChange_afterTheStamp_isSeen() throws {
        let store = try quietFolder()
        let cur = directory.path + "/mail/cur"
        try stamp(store)

        // A flag change in a mail client: a rename in cur/.
        let name = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: cur).first { $0.contains(",U=3:2,") })
        XCTAssertEqual(rename(cur + "/" + name, cur + "/" + name + "F"), 0)
        var folder = try store.openFolder(inbox)
        XCTAssertEqual(try folder.scanLocalChanges().flagChanges.map(\.uid), [3])
        folder.close()

        // The same, with the directory's modification time put back: its change time still moves.
        try stamp(store)
        var info = stat()
        XCTAssertEqual(stat(cur, &info), 0)
        let renamed = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: cur).first { $0.contains(",U=5:2,") })
        XCTAssertEqual(rename(cur + "/" + renamed, cur + "/" + renamed + "T"), 0)
        var times = [info.st_atim, info.st_mtim]
        XCTAssertEqual(utimensat(AT_FDCWD, cur, &times, 0), 0)
        folder = try store.openFolder(inbox)
        XCTAssertEqual(try folder.scanLocalChanges().flagChanges.map(\.uid), [3, 5])
        folder.close()

        // A message file deleted.
        try stamp(store)
        let doomed = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: cur).first { $0.contains(",U=7:2,") })
        XCTAssertEqual(unlink(cur + "/" + doomed), 0)
        folder = try store.openFolder(inbox)
        XCTAssertEqual(try folder.scanLocalChanges().vanished, [7])
        folder.close()
    }

    func testAListingRightAfterAChange_isNotTrusted() throws {
        directory = try TemporaryDirectory()
        let store = try MaildirStore(directory, .maildirPlusPlus)
        var folder = try store.prepare(inbox)
        try folder.deliver(1...5)
        folder.close()
        // "Right after": the last change is dated ahead of the listing, so that however slowly a
        // loaded machine gets from the delivery to the listing, it falls inside the quiet period.
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(60)], ofItemAtPath: directory.path + "/mail/cur")
        folder = try store.openFolder(inbox)
        _ = try folder.scanLocalChanges()
        folder.close()
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: directory.path + "/mail/" + ListingStamp.fileName),
            "a rename in the same clock tick as the last change would not move the directory's times")
        XCTAssertEqual(try listings(store) { _ = try store.openFolder(inbox) }, 1)
    }

    func testWorkOnAFolderOpenedOnItsStamp_keepsEveryInvariant() throws {
        let store = try quietFolder()
        try stamp(store)
        var folder = try store.openFolder(inbox)
        XCTAssertEqual(try listings(store) { XCTAssertEqual(try folder.deliver(21...25), Array(21...25)) }, 0,
                       "new mail needs no listing")
        try folder.setFlags([3: [.flagged]])
        try folder.expunge([4])
        try assertConsistent(folder, expected: Set(1...25).subtracting([4]))
        XCTAssertTrue(folder.filePath(for: 3)!.hasSuffix(":2,F"))
        folder.close()
        folder = try store.openFolder(inbox)
        XCTAssertTrue(folder.lastRecovery.isEmpty, "\(folder.lastRecovery)")
        XCTAssertTrue(try folder.scanLocalChanges().isEmpty)
    }

    func testAFewFlagChangesAndExpunges_onAFolderOpenedOnItsStamp_listNothing() throws {
        let store = try quietFolder()
        try stamp(store)
        let folder = try store.openFolder(inbox)
        XCTAssertEqual(try listings(store) {
            try folder.setFlags([1: [.seen, .flagged], 2: [.replied], 7: []])
            try folder.expunge([5, 6])
        }, 0, "the files are found by the names the map gives them")
        try assertConsistent(folder, expected: Set(1...20).subtracting([5, 6]))
        XCTAssertTrue(folder.filePath(for: 1)!.hasSuffix("/cur/" + folder.map[1]!.baseName + ":2,FS"))
        XCTAssertTrue(folder.filePath(for: 2)!.hasSuffix(":2,R"))
        folder.close()
    }

    func testAFileWithAClientsOwnLetter_onAFolderOpenedOnItsStamp_isFoundByAListing_andKeepsIt() throws {
        let store = try quietFolder()
        var folder = try store.openFolder(inbox)
        let path = try XCTUnwrap(folder.filePath(for: 2))  // seen: in cur/, ":2,S"
        XCTAssertEqual(rename(path, path + "a"), 0)       // a keyword letter a mail client set
        XCTAssertTrue(try folder.scanLocalChanges().flagChanges.isEmpty)
        folder.close()
        waitQuiet()
        try stamp(store)
        folder = try store.openFolder(inbox)
        XCTAssertEqual(try listings(store) { try folder.setFlags([2: [.seen, .flagged]]) }, 1)
        XCTAssertTrue(try XCTUnwrap(folder.filePath(for: 2)).hasSuffix(":2,FSa"), folder.filePath(for: 2) ?? "")
        try assertConsistent(folder, expected: Set(1...20))
        folder.close()
    }

    func testACrashOnAFolderOpenedOnItsStamp_isRecoveredAtTheNextOpen() throws {
        let store = try quietFolder()
        try stamp(store)
        var folder = try store.openFolder(inbox)
        XCTAssertTrue(folder.lastRecovery.isEmpty)
        folder.runUntilCrash(CrashTrigger(.deliveryFirstRenamed)) { try folder.deliver(21...25) }
        folder.close()
        folder = try store.openFolder(inbox)
        XCTAssertEqual(folder.lastRecovery.adopted, [21], "the stamp no longer matches: recovery ran")
        try assertConsistent(folder, expected: Set(1...21))
    }
}
