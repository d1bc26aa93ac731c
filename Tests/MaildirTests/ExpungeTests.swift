import Foundation
import XCTest
@testable import Maildir

final class ExpungeTests: XCTestCase {
    func testExpunge_unlinksFilesAndDropsThemFromTheMap() throws {
        let directory = try TemporaryDirectory()
        let store = try MaildirStore(directory)
        let folder = try store.prepare()
        try folder.deliver(1...6)
        let before = store.fsyncs
        try folder.expunge([2, 4, 6, 2, 100])
        // Intent map (2) + cur/ (1) + final map (2), for any number of UIDs.
        XCTAssertEqual(store.fsyncs - before, 5)
        try assertConsistent(folder, expected: [1, 3, 5])
        XCTAssertEqual(try folder.fileNames("cur").count, 3)
        XCTAssertEqual(folder.highestUID, 6, "expunge does not lower the highest UID seen")
        folder.close()
        try assertConsistent(try store.openFolder(.inbox), expected: [1, 3, 5])
    }

    func testExpunge_ofNothingKnownWritesNothing() throws {
        let directory = try TemporaryDirectory()
        let store = try MaildirStore(directory)
        let folder = try store.prepare()
        let before = store.fsyncs
        try folder.expunge([1, 2])
        try folder.expunge([])
        XCTAssertEqual(store.fsyncs, before)
    }

    func testExpunge_findsFileAClientRenamed() throws {
        let directory = try TemporaryDirectory()
        let store = try MaildirStore(directory)
        let folder = try store.prepare()
        try folder.deliver([1])
        let path = try XCTUnwrap(folder.filePath(for: 1))
        XCTAssertEqual(rename(path, String(path.dropLast(3)) + ":2,S"), 0)
        try folder.expunge([1])
        XCTAssertEqual(try folder.fileNames("cur"), [])
        folder.close()
        let reopened = try store.openFolder(.inbox)
        XCTAssertTrue(reopened.lastRecovery.isEmpty, "nothing resurrected")
        XCTAssertEqual(reopened.map.count, 0)
    }
}
