import Foundation
import XCTest
@testable import Maildir

final class ResetTests: XCTestCase {
    func testReset_onAFreshFolderOnlyRecordsUIDValidity() throws {
        let directory = try TemporaryDirectory()
        let store = try MaildirStore(directory)
        try store.createFolder(.inbox)
        let folder = try store.openFolder(.inbox)
        XCTAssertNil(folder.uidValidity)
        let report = try folder.resetFolder(newUIDValidity: 5)
        XCTAssertEqual(report, ResetReport(movedMessages: 0, quarantine: nil))
        XCTAssertEqual(folder.uidValidity, 5)
        XCTAssertNotNil(folder.map.folderID)
        XCTAssertEqual(try folder.resetFolder(newUIDValidity: 5), ResetReport(movedMessages: 0, quarantine: nil))
    }

    func testReset_quarantinesOldMessagesSoTheRedownloadDoesNotDuplicate() throws {
        for layout in [MaildirLayout.maildirPlusPlus, .nested] {
            let directory = try TemporaryDirectory()
            let store = try MaildirStore(directory, layout)
            let folder = try store.prepare(uidValidity: 100)
            try folder.deliver(1...5, flags: { $0 == 1 ? [.seen] : [] }, highestModSeq: 50)
            try writeFile(folder.path + "/cur/1700000001.1_1.laptop:2,S", "local only\n")
            let report = try folder.resetFolder(newUIDValidity: 200)

            XCTAssertEqual(report.movedMessages, 5)
            let quarantine = try XCTUnwrap(report.quarantine)
            XCTAssertTrue(quarantine.hasPrefix(folder.path + "/.syncd-quarantine/uidvalidity-100-"), quarantine)
            let kept = try FileManager.default.contentsOfDirectory(atPath: quarantine + "/cur").sorted()
            XCTAssertEqual(kept.count, 5)
            XCTAssertTrue(kept.contains { $0.contains(",U=1:2,S") }, "names and flags are kept")
            XCTAssertEqual(folder.uidValidity, 200)
            XCTAssertEqual(folder.highestUID, 0)
            XCTAssertNil(folder.highestModSeq)
            XCTAssertEqual(try folder.fileNames("cur"), ["1700000001.1_1.laptop:2,S"], "the user's own file stays")

            // The server's messages come again under the new UIDVALIDITY.
            try folder.deliver(1...5)
            try assertConsistent(folder, expected: Set(1...5))
            XCTAssertEqual(try folder.fileNames("cur").count, 6)
            XCTAssertEqual(try store.listFolders(), [.inbox], "\(layout): the quarantine is not a folder")
            folder.close()
            let reopened = try store.openFolder(.inbox)
            XCTAssertTrue(reopened.lastRecovery.isEmpty, "\(reopened.lastRecovery)")
        }
    }

    func testReset_invalidatesBatchesBegunBefore() throws {
        let directory = try TemporaryDirectory()
        let store = try MaildirStore(directory)
        let folder = try store.prepare(uidValidity: 1)
        let batch = try folder.beginBatch()
        try batch.open(uid: 1).finish()
        try folder.resetFolder(newUIDValidity: 2)
        XCTAssertThrowsError(try batch.commit()) { XCTAssertEqual(($0 as? MaildirError)?.code, .batchClosed) }
        try assertConsistent(folder, expected: [])
    }
}
