import XCTest
@testable import Maildir

/// A move into a folder is an upload line with a seventh field naming the source.
final class MoveSourceTests: XCTestCase {
    func testMoveSource_roundTrips_andBadOnesAreCorrupt() throws {
        var map = UIDMap()
        map.uidValidity = 7
        map.folderID = 0xdeadbeef
        let source = MoveSource(folder: "INBOX/Entwürfe x", uidValidity: 1_700_000_000, uid: 42)
        map.uploads["u1"] = PendingUpload(unique: "u1", localBase: "base", flags: [.seen], wireSize: 9, internalDate: nil, moveSource: source)
        let text = String(decoding: map.encoded(), as: UTF8.self)
        XCTAssertTrue(text.contains("upload u1 S 9 - base from:1700000000:42:INBOX/Entw%C3%BCrfe%20x\nend\n"), text)
        XCTAssertEqual(try UIDMap(decoding: map.encoded(), path: "m"), map)
        XCTAssertEqual(try UIDMap(decoding: map.encoded(), path: "m").uploads["u1"]?.moveSource, source)
        for bad in ["from:x:42:INBOX", "from:1:0:INBOX", "from:1:2:", "to:1:2:INBOX", "from:1:2:%zz"] {
            let broken = Array(text.replacingOccurrences(of: "from:1700000000:42:INBOX/Entw%C3%BCrfe%20x", with: bad).utf8)
            XCTAssertThrowsError(try UIDMap(decoding: broken, path: "m"), bad) {
                XCTAssertEqual(($0 as? MaildirError)?.code, .corruptMap, bad)
            }
        }
    }
}
