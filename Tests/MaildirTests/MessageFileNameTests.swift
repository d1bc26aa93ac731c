import XCTest
@testable import Maildir

final class MessageFileNameTests: XCTestCase {
    func testOurName_carriesMarkersThroughFlagSuffix() {
        let base = MessageFileName.ourBase(unique: "1700000000.M12P34Q5R0000abcd.host", size: 4096, folderID: 0x1a2b, uidValidity: 77, uid: 42)
        XCTAssertEqual(base, "1700000000.M12P34Q5R0000abcd.host,S=4096,F=00001a2b,V=77,U=42")
        let name = MessageFileName(MessageFileName.curName(base: base, flags: [.seen, .flagged, .draft]))
        XCTAssertEqual(name.base, base)
        XCTAssertEqual(name.flags, [.seen, .flagged, .draft])
        XCTAssertEqual(name.size, 4096)
        XCTAssertEqual(name.folderID, 0x1a2b)
        XCTAssertEqual(name.uidValidity, 77)
        XCTAssertEqual(name.uid, 42)
        XCTAssertTrue(name.isOurs)
        XCTAssertEqual(MessageFileName.curName(base: "b", flags: [.trashed, .seen, .replied, .passed, .flagged, .draft]), "b:2,DFPRST")
    }

    func testFlags_unknownLettersKeptAndSorted() {
        let name = MessageFileName("x,S=1:2,aSc")
        XCTAssertEqual(name.flags, [.seen])
        XCTAssertEqual(name.otherLetters, Array("ac".utf8))
        XCTAssertEqual(MessageFileName.curName(base: name.base, flags: [.flagged, .seen], others: name.otherLetters), "x,S=1:2,FSac")
        XCTAssertEqual(MessageFlags(maildirLetters: "TSD"), [.trashed, .seen, .draft])
        XCTAssertNil(MessageFlags(maildirLetters: "Sx"))
        XCTAssertEqual(MessageFlags([.seen, .replied]).maildirLetters, "RS")
    }

    func testForeignNames_areNotOurs() {
        for foreign in [
            "1700000000.123_4.host:2,S",  // plain Maildir
            "1700000000.123_4.host,U=12:2,S",  // mbsync: U= without F= and V=
            "1700000000.x,S=10,W=12:2,",  // Dovecot
            "new-without-info",
            "x,F=zzzzzzzz,V=1,U=1",  // bad folder id
            "x,F=00000001,V=1,U=0",  // UID 0
            "x,F=00000001,V=-1,U=5",
        ] {
            XCTAssertFalse(MessageFileName(foreign).isOurs, foreign)
        }
        XCTAssertEqual(MessageFileName("new-without-info").base, "new-without-info")
        XCTAssertEqual(MessageFileName("new-without-info").flags, [])
    }

    func testHostname_isEscapedPerMaildirSpec() {
        XCTAssertEqual(MessageFileName.escapeHostname("mail.example.org"), "mail.example.org")
        XCTAssertEqual(MessageFileName.escapeHostname("a/b:c,d e\\"), "a\\057b\\072c\\054d\\040e\\134")
        XCTAssertEqual(MessageFileName.escapeHostname(""), "localhost")
        let unique = UniqueNames(hostname: "h:1").make(counter: 9)
        XCTAssertTrue(unique.contains("P\(getpid())Q9R"), unique)
        XCTAssertTrue(unique.hasSuffix(".h\\0721"), unique)
        XCTAssertFalse(unique.contains(":") || unique.contains(",") || unique.contains(" ") || unique.contains("/"))
    }
}
