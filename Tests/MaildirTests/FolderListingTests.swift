#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest
@testable import Maildir

/// The listing that recovery and the local-change scan take: files named as syncd names them are
/// matched as the directories are read, keeping no name; every other file is matched by base name
/// as before, with a file in cur/ winning over one in new/.
final class FolderListingTests: XCTestCase {
    private var directory: TemporaryDirectory!
    private var store: MaildirStore!
    private var folder: MaildirFolder!

    override func setUpWithError() throws {
        directory = try TemporaryDirectory()
        store = try MaildirStore(directory, options: MaildirStore.Options(hostname: "test.host", deliverUnseenToNew: true))
        folder = try store.prepare()
        try folder.deliver(1...6, flags: { $0 <= 3 ? [.seen, .flagged] : [] })
    }

    override func tearDown() {
        folder = nil
        store = nil
        directory = nil
    }

    private func base(_ uid: UInt32) -> String { folder.map[uid]!.baseName }

    private func move(_ uid: UInt32, to relativePath: String) throws {
        XCTAssertEqual(rename(try XCTUnwrap(folder.filePath(for: uid)), folder.path + "/" + relativePath), 0)
    }

    func testOurFiles_areMatchedWithoutKeepingTheirNames() throws {
        let listing = try folder.list()
        XCTAssertTrue(listing.files.isEmpty, "\(listing.files.map(\.name))")
        XCTAssertTrue(listing.unclaimed.isEmpty)
        XCTAssertEqual(listing.found.count, 6)
        XCTAssertEqual(listing.found[1], .canonical(inNew: false, flags: [.seen, .flagged]))
        XCTAssertEqual(listing.found[4], .canonical(inNew: true, flags: []))
        XCTAssertEqual(listing.found[1]?.name(base: base(1)), base(1) + ":2,FS")
        XCTAssertEqual(folder.filePath(for: 4), folder.path + "/new/" + base(4))
    }

    /// Letters out of order, letters syncd does not know, a file moved to cur/ without info: the
    /// name is kept, the flags read from it, and the file is still that UID's.
    func testNamesAMailClientGave_areMatchedByBaseName_andKeepTheirName() throws {
        try move(1, to: "cur/" + base(1) + ":2,SF")
        try move(2, to: "cur/" + base(2) + ":2,Sa")
        try move(4, to: "cur/" + base(4))
        let listing = try folder.list()
        XCTAssertEqual(Set(listing.files.map(\.name)), [base(1) + ":2,SF", base(2) + ":2,Sa", base(4)])
        XCTAssertTrue(listing.unclaimed.isEmpty)
        XCTAssertEqual(listing.found[1]?.name(base: base(1)), base(1) + ":2,SF")
        XCTAssertEqual(listing.found[1]?.flags, [.seen, .flagged])
        XCTAssertEqual(listing.found[2]?.flags, [.seen])
        XCTAssertEqual(listing.found[4]?.name(base: base(4)), base(4))
        XCTAssertEqual(listing.found[4]?.inNew, false)
        XCTAssertEqual(try folder.scanLocalChanges().flagChanges.map(\.uid), [2], "only 2 lost a flag")
    }

    /// Two files with one base name: the one in cur/ is the message's, whichever way it is named,
    /// and the other is left unclaimed (recovery quarantines it).
    func testADuplicateInNew_losesToTheFileInCur_evenWhenOnlyTheOneInNewIsNamedAsOurs() throws {
        let inNew = try XCTUnwrap(folder.filePath(for: 5))
        let copy = folder.path + "/cur/" + base(5) + ":2,Sa"
        XCTAssertEqual(link(inNew, copy), 0)
        let listing = try folder.list()
        XCTAssertEqual(listing.found[5]?.inNew, false)
        XCTAssertEqual(listing.found[5]?.name(base: base(5)), base(5) + ":2,Sa")
        XCTAssertEqual(listing.unclaimed.map { listing.files[$0].relativePath }, ["new/" + base(5)])

        // And the other way round: a canonical one in cur/, a copy in new/.
        let again = folder.path + "/new/" + base(1)
        XCTAssertEqual(link(try XCTUnwrap(folder.filePath(for: 1)), again), 0)
        let second = try folder.list()
        XCTAssertEqual(second.found[1], .canonical(inNew: false, flags: [.seen, .flagged]))
        XCTAssertEqual(Set(second.unclaimed.map { second.files[$0].relativePath }), ["new/" + base(1), "new/" + base(5)])
    }

    /// A name of ours for a UID whose entry has another base name, or another folder's, or a file
    /// not ours at all: listed with its name, and unclaimed.
    func testFilesNotNamedForTheirEntry_areListedWithTheirName() throws {
        let foreign = "1700000000.M1P2Q3R00000000.other,S=10,F=0badf00d,V=1000,U=2:2,S"
        let stranger = "1700000000.mutt.host:2,S"
        let wrongBase = base(3).replacingOccurrences(of: ".test.host", with: ".elsewhere") + ":2,S"
        for name in [foreign, stranger, wrongBase] {
            XCTAssertTrue(FileManager.default.createFile(atPath: folder.path + "/cur/" + name, contents: Data("x".utf8)))
        }
        let listing = try folder.list()
        XCTAssertEqual(Set(listing.unclaimed.map { listing.files[$0].name }), [foreign, stranger, wrongBase])
        XCTAssertEqual(listing.found.count, 6)
        XCTAssertEqual(try folder.scanLocalChanges().unknownFiles.sorted(), ["cur/" + foreign, "cur/" + stranger].sorted())
    }

    /// The reason for all this: a folder of 20 000 messages as syncd wrote them lists into no names.
    func testTwentyThousandOfOurFiles_listIntoNoNames() throws {
        let big = try store.prepare(try FolderName(["Big"]), uidValidity: 7)
        for start in stride(from: 1, through: 20_000, by: 2_000) {
            let batch = try big.beginBatch()
            for uid in UInt32(start)..<UInt32(start + 2_000) {
                let writer = try batch.open(uid: uid, flags: uid % 3 == 0 ? [.seen] : [.seen, .replied])
                try writer.write([UInt8]("Subject: \(uid)\r\n\r\nx\r\n".utf8))
                try writer.finish()
            }
            _ = try batch.commit()
        }
        let listing = try big.list()
        XCTAssertEqual(listing.found.count, 20_000)
        XCTAssertTrue(listing.files.isEmpty)
        XCTAssertTrue(try big.scanLocalChanges().isEmpty)
    }
}
