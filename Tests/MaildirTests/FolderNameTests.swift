import XCTest
@testable import Maildir

final class FolderNameTests: XCTestCase {
    func testIMAPName_splitsOnDelimiterAndJoinsBack() throws {
        let name = try FolderName(imapName: "Archive/2024/Q1", delimiter: "/")
        XCTAssertEqual(name.components, ["Archive", "2024", "Q1"])
        XCTAssertEqual(name.imapName(delimiter: "/"), "Archive/2024/Q1")
        XCTAssertEqual(name.parent, try FolderName(["Archive", "2024"]))
        let dotted = try FolderName(imapName: "INBOX.Sent.a/b", delimiter: ".")
        XCTAssertEqual(dotted.components, ["INBOX", "Sent", "a/b"])
        XCTAssertEqual(try FolderName(imapName: "a.b", delimiter: nil).components, ["a.b"])
    }

    func testInbox_isCaseInsensitiveOnlyAsFirstComponent() throws {
        XCTAssertEqual(try FolderName(imapName: "inbox", delimiter: "/"), .inbox)
        XCTAssertTrue(try FolderName(["InBoX"]).isInbox)
        XCTAssertEqual(try FolderName(imapName: "Inbox/Sub", delimiter: "/").components, ["INBOX", "Sub"])
        XCTAssertEqual(try FolderName(["Sub", "inbox"]).components, ["Sub", "inbox"])
        // Non-ASCII look-alikes whose uppercase is "INBOX" are not INBOX.
        XCTAssertFalse(try FolderName(["ınbox"]).isInbox)
    }

    func testInit_rejectsEmptyComponentsAndNUL() {
        for bad in [[], [""], ["a", ""], ["a\u{0}b"]] as [[String]] {
            XCTAssertThrowsError(try FolderName(bad)) {
                XCTAssertEqual(($0 as? MaildirError)?.code, .invalidFolderName, "\(bad)")
            }
        }
        XCTAssertThrowsError(try FolderName(imapName: "a//b", delimiter: "/"))
        XCTAssertThrowsError(try FolderName(imapName: "a/", delimiter: "/"))
    }

    func testEquality_comparesBytesNotCanonicalEquivalence() throws {
        let composed = try FolderName(["caf\u{E9}"])
        let decomposed = try FolderName(["cafe\u{301}"])
        XCTAssertNotEqual(composed, decomposed)
        XCTAssertEqual(Set([composed, decomposed]).count, 2)
        XCTAssertNotEqual(
            try FolderPathCodec.relativePath(for: composed, layout: .nested).map { Array($0.utf8) },
            try FolderPathCodec.relativePath(for: decomposed, layout: .nested).map { Array($0.utf8) })
    }

    func testPlusPlusEscaping_dotsSlashesPercentAndControls() throws {
        func dir(_ components: [String]) throws -> String? {
            try FolderPathCodec.relativePath(for: FolderName(components), layout: .maildirPlusPlus)
        }
        XCTAssertNil(try dir(["INBOX"]))
        XCTAssertEqual(try dir(["Sent"]), ".Sent")
        XCTAssertEqual(try dir(["Archive", "2024"]), ".Archive.2024")
        XCTAssertEqual(try dir(["INBOX", "Sub"]), ".INBOX.Sub")
        XCTAssertEqual(try dir(["a.b", "c"]), ".a%2Eb.c")
        XCTAssertEqual(try dir(["..", "x"]), ".%2E%2E.x")
        XCTAssertEqual(try dir(["a/b"]), ".a%2Fb")
        XCTAssertEqual(try dir(["100%"]), ".100%25")
        XCTAssertEqual(try dir(["tab\there\n"]), ".tab%09here%0A")
        XCTAssertEqual(try dir(["Entwürfe 📬"]), ".Entwürfe 📬")
        XCTAssertEqual(try dir(["syncd-uidmap"]), ".%73yncd-uidmap", "must not collide with our files")
        XCTAssertEqual(try dir(["x", "syncd-uidmap"]), ".x.syncd-uidmap")
    }

    func testNestedEscaping_dotDotAndReservedNames() throws {
        func dir(_ components: [String]) throws -> String? {
            try FolderPathCodec.relativePath(for: FolderName(components), layout: .nested)
        }
        XCTAssertEqual(try dir(["INBOX"]), "INBOX")
        XCTAssertEqual(try dir(["Archive", "2024"]), "Archive/2024")
        XCTAssertEqual(try dir(["a.b"]), "a.b")
        XCTAssertEqual(try dir([".."]), "%2E.")
        XCTAssertEqual(try dir(["."]), "%2E")
        XCTAssertEqual(try dir([".hidden"]), "%2Ehidden")
        XCTAssertEqual(try dir(["Archive", "cur"]), "Archive/%63ur")
        XCTAssertEqual(try dir(["new", "tmp"]), "%6Eew/%74mp")
        XCTAssertEqual(try dir(["a/b", "../../etc"]), "a%2Fb/%2E.%2F..%2Fetc")
    }

    func testDecoding_roundTripsOddNames() throws {
        let odd: [[String]] = [
            ["INBOX"], ["INBOX", "Sub"], ["Sent"], ["a.b", "c.d"], [".."], ["."], ["%41"], ["cur"], ["new", "tmp"],
            ["syncd-uidmap"], ["sp ace", "tab\t"], ["Entwürfe", "日本語", "📬"], ["a/b"], ["\u{7F}del"], ["-"], ["%"],
            ["caf\u{E9}"], ["cafe\u{301}"],
        ]
        for components in odd {
            let name = try FolderName(components)
            let plus = try FolderPathCodec.relativePath(for: name, layout: .maildirPlusPlus)
            if let plus {
                XCTAssertEqual(FolderPathCodec.folderName(plusPlusDirectory: plus), name, "\(components) ++")
                XCTAssertFalse(plus.dropFirst().hasPrefix("syncd-"), "\(components)")
                XCTAssertFalse(plus.contains("/"))
            }
            let nested = try FolderPathCodec.relativePath(for: name, layout: .nested)!
            let parts = nested.split(separator: "/").map(String.init)
            XCTAssertEqual(parts.count, components.count)
            XCTAssertEqual(FolderPathCodec.folderName(nestedDirectories: parts), name, "\(components) nested")
            for part in parts {
                XCTAssertFalse(part.hasPrefix("."), "\(components)")
                XCTAssertFalse(["cur", "new", "tmp"].contains(part))
                XCTAssertFalse(part.utf8.contains(0))
            }
        }
    }

    func testDecoding_rejectsNonCanonicalNames() {
        XCTAssertNil(FolderPathCodec.folderName(plusPlusDirectory: ".Foo%41"), "over-escaped")
        XCTAssertNil(FolderPathCodec.folderName(plusPlusDirectory: ".a%2eb"), "lower-case hex")
        XCTAssertNil(FolderPathCodec.folderName(plusPlusDirectory: ".a%4"), "short escape")
        XCTAssertNil(FolderPathCodec.folderName(plusPlusDirectory: ".a..b"), "empty component")
        XCTAssertNil(FolderPathCodec.folderName(plusPlusDirectory: ".INBOX"), "INBOX is the root")
        XCTAssertNil(FolderPathCodec.folderName(plusPlusDirectory: ".syncd-lock"), "our own file")
        XCTAssertNil(FolderPathCodec.folderName(plusPlusDirectory: ".%FF"), "not UTF-8")
        XCTAssertNil(FolderPathCodec.folderName(plusPlusDirectory: "."))
        XCTAssertNil(FolderPathCodec.folderName(nestedDirectories: ["inbox"]), "INBOX is spelled INBOX")
        XCTAssertNil(FolderPathCodec.folderName(nestedDirectories: ["x", "%00"]), "NUL")
        XCTAssertNil(FolderPathCodec.folderName(nestedDirectories: ["%63ur%"]))
        XCTAssertEqual(FolderPathCodec.folderName(nestedDirectories: ["%63ur"])?.components, ["cur"])
    }

    func testTooLongName_isRefused() throws {
        let long = try FolderName([String(repeating: "é", count: 128)])  // 256 bytes
        XCTAssertThrowsError(try FolderPathCodec.relativePath(for: long, layout: .nested)) {
            XCTAssertEqual(($0 as? MaildirError)?.code, .invalidFolderName)
        }
        let deep = try FolderName(Array(repeating: String(repeating: "x", count: 60), count: 5))
        XCTAssertNoThrow(try FolderPathCodec.relativePath(for: deep, layout: .nested))
        XCTAssertThrowsError(try FolderPathCodec.relativePath(for: deep, layout: .maildirPlusPlus))
    }
}
