#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest
@testable import Maildir

final class UIDMapTests: XCTestCase {
    private func sample(count: Int) -> UIDMap {
        var map = UIDMap()
        map.folderID = 0xdeadbeef
        map.uidValidity = 1_700_000_000
        map.highestUID = UInt32(count + 5)
        map.highestModSeq = 123_456_789_012
        for uid in 1...UInt32(count) {
            let base = "1700000000.M\(uid)P4242Q\(uid)R0badf00d.mail.example.org,S=\(uid * 13),F=deadbeef,V=1700000000,U=\(uid)"
            map.entries[uid] = UIDMap.Entry(baseName: base, flags: MessageFlags(rawValue: UInt8(uid % 64)))
        }
        return map
    }

    func testEncoding_roundTripsEveryField() throws {
        var map = sample(count: 5)
        map.entries[2]!.pending = .expunge
        map.entries[3]!.pending = .flags([.seen, .flagged])
        map.entries[4]!.pending = .flags([])
        let bytes = map.encoded()
        XCTAssertEqual(try UIDMap(decoding: bytes, path: "m"), map)
        let text = String(decoding: bytes, as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("syncd-uidmap 1\nfolder deadbeef\nuidvalidity 1700000000\nhighestuid 10\nhighestmodseq 123456789012\nmessages 5\n1 D 1700000000"), text)
        XCTAssertTrue(text.contains(",U=2 x\n"), text)
        XCTAssertTrue(text.contains(",U=3 =FS\n"), text)
        XCTAssertTrue(text.contains(",U=4 =\n"), text)
        XCTAssertTrue(text.hasSuffix("\nend\n"))
    }

    func testEncoding_uploadsInFlight_roundTrip_andBadOnesAreCorrupt() throws {
        var map = sample(count: 2)
        map.uploads["1780000000.M1P2Q3R00c0ffee.host"] = PendingUpload(
            unique: "1780000000.M1P2Q3R00c0ffee.host", localBase: "mutt 100%.ä", flags: [.seen, .replied], wireSize: 512,
            internalDate: 1_780_000_000)
        map.uploads["1780000000.M2P2Q4R00c0ffee.host"] = PendingUpload(
            unique: "1780000000.M2P2Q4R00c0ffee.host", localBase: "plain", flags: [], wireSize: 1, internalDate: nil)
        let text = String(decoding: map.encoded(), as: UTF8.self)
        XCTAssertTrue(text.hasSuffix(
            "U=2\nupload 1780000000.M1P2Q3R00c0ffee.host RS 512 1780000000 mutt%20100%25.%C3%A4\n"
                + "upload 1780000000.M2P2Q4R00c0ffee.host - 1 - plain\nend\n"), text)
        XCTAssertEqual(try UIDMap(decoding: map.encoded(), path: "m"), map)
        for bad in ["upload x - 0 - plain", "upload x - 5 - %zz", "upload x,y - 5 - plain", "upload x - 5 -", "uploads"] {
            let broken = Array(text.replacingOccurrences(of: "upload 1780000000.M2P2Q4R00c0ffee.host - 1 - plain", with: bad).utf8)
            XCTAssertThrowsError(try UIDMap(decoding: broken, path: "m"), bad) {
                XCTAssertEqual(($0 as? MaildirError)?.code, .corruptMap, bad)
            }
        }
    }

    func testEncoding_emptyMapOmitsUnknownFields() throws {
        let map = UIDMap()
        XCTAssertEqual(String(decoding: map.encoded(), as: UTF8.self), "syncd-uidmap 1\nhighestuid 0\nmessages 0\nend\n")
        XCTAssertEqual(try UIDMap(decoding: map.encoded(), path: "m"), map)
    }

    func testDecoding_rejectsEveryTruncation() {
        let bytes = sample(count: 3).encoded()
        for length in 0..<bytes.count {
            XCTAssertThrowsError(try UIDMap(decoding: Array(bytes[..<length]), path: "m"), "prefix \(length)") {
                XCTAssertEqual(($0 as? MaildirError)?.code, .corruptMap)
            }
        }
    }

    /// From a file, read a piece at a time: a map larger than a piece (64 KiB) reads back whole,
    /// and one cut anywhere, also at and around a piece's end, is corrupt, never a shorter map.
    func testReadingAFile_inPieces_roundTrips_andATruncatedFileIsCorrupt() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/map"
        let map = sample(count: 3_000)
        let bytes = map.encoded()
        XCTAssertGreaterThan(bytes.count, 3 << 16)
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        XCTAssertEqual(try UIDMap(file: path), map)
        XCTAssertNil(try UIDMap(file: directory.path + "/none"))
        for length in [1 << 16 - 1, 1 << 16, 1 << 16 + 1, 2 << 16, bytes.count - 1, bytes.count - 4] {
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes[..<length])))
            XCTAssertThrowsError(try UIDMap(file: path), "prefix \(length)") {
                XCTAssertEqual(($0 as? MaildirError)?.code, .corruptMap, "prefix \(length)")
            }
        }
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes + Array("1 - x\n".utf8))))
        XCTAssertThrowsError(try UIDMap(file: path)) { XCTAssertEqual(($0 as? MaildirError)?.code, .corruptMap) }
    }

    func testDecoding_rejectsGarbage() {
        let good = String(decoding: sample(count: 2).encoded(), as: UTF8.self)
        let bad = [
            good.replacingOccurrences(of: "syncd-uidmap 1", with: "syncd-uidmap 2"),
            good.replacingOccurrences(of: "messages 2", with: "messages 3"),
            good.replacingOccurrences(of: "messages 2", with: "messages 1"),
            good.replacingOccurrences(of: "\n2 ", with: "\n1 "),  // duplicate UID
            good.replacingOccurrences(of: "\n1 D ", with: "\n1 Z "),  // bad flag
            good.replacingOccurrences(of: "\n1 D ", with: "\n0 D "),  // UID 0
            good.replacingOccurrences(of: "\n1 D ", with: "\n99999999999 D "),  // overflow
            good.replacingOccurrences(of: "uidvalidity", with: "uidvalidty"),
            good.replacingOccurrences(of: "folder deadbeef", with: "folder xyz"),
            good + "extra\n",
            good.replacingOccurrences(of: ",U=1\n", with: ",U=1 ?\n"),
        ]
        for (index, text) in bad.enumerated() {
            XCTAssertThrowsError(try UIDMap(decoding: Array(text.utf8), path: "m"), "case \(index)")
        }
    }

    /// Not a benchmark assertion: prints what committing big maps costs (fsyncs included).
    func testLargeMaps_encodeParseAndCommitTimes() throws {
        let directory = try TemporaryDirectory()
        let store = try MaildirStore(directory)
        try store.createFolder(.inbox)
        for count in [10_000, 100_000] {
            let map = sample(count: count)
            let clock = ContinuousClock()
            var bytes: [UInt8] = []
            let encode = clock.measure { bytes = map.encoded() }
            var parsed = UIDMap()
            let parse = try clock.measure { parsed = try UIDMap(decoding: bytes, path: "m") }
            XCTAssertEqual(parsed, map)
            let commit = try clock.measure { try store.writeMap(map, directory: store.root, hook: nil) }
            print("UIDMap \(count) entries, \(bytes.count) bytes: encode \(encode), parse \(parse), commit (encode+write+2 fsync+rename) \(commit)")
        }
    }
}
