#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest
@testable import Maildir

final class StoreTests: XCTestCase {
    func testLock_refusesSecondStoreUntilFirstIsGone() throws {
        let directory = try TemporaryDirectory()
        var first: MaildirStore? = try MaildirStore(directory)
        XCTAssertThrowsError(try MaildirStore(directory)) { XCTAssertEqual(($0 as? MaildirError)?.code, .locked) }
        _ = first
        first = nil
        XCTAssertNoThrow(try MaildirStore(directory))
    }

    func testPlusPlusLayout_createsDotDirectoriesAndListsThem() throws {
        let directory = try TemporaryDirectory()
        let store = try MaildirStore(directory, .maildirPlusPlus)
        let names = try [["INBOX"], ["Sent"], ["Archive", "2024"], ["INBOX", "Sub"]].map(FolderName.init)
        for name in names { try store.createFolder(name) }
        let root = store.root
        for path in ["cur", "new", "tmp", ".Sent/cur", ".Sent/maildirfolder", ".Archive.2024/tmp", ".INBOX.Sub/new"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/" + path), path)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/maildirfolder"), "INBOX is the root")
        XCTAssertEqual(try store.listFolders(), names.sorted())
        XCTAssertEqual(try store.listFolders().first, .inbox)
    }

    func testNestedLayout_createsDirectoryPerLevelAndListsOnlyMaildirs() throws {
        let directory = try TemporaryDirectory()
        let store = try MaildirStore(directory, .nested)
        let names = try [["INBOX"], ["Sent"], ["Archive", "2024"], ["Archive", "2024", "cur"]].map(FolderName.init)
        for name in names { try store.createFolder(name) }
        let root = store.root
        for path in ["INBOX/cur", "Sent/new", "Archive/2024/tmp", "Archive/2024/%63ur/cur"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/" + path), path)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/Archive/cur"), "a parent stays a plain directory")
        XCTAssertEqual(try store.listFolders(), names.sorted(), "Archive itself is not a folder")
    }

    func testOddNames_roundTripThroughTheFileSystem() throws {
        let odd: [[String]] = [
            ["a.b", "c"], [".."], ["."], ["%2E"], ["cur"], ["tmp", "new"], ["syncd-uidmap"], ["sp ace"],
            ["Entwürfe", "日本語 📬"], ["a/b"], ["caf\u{E9}"], ["cafe\u{301}"], ["line\nbreak"],
        ]
        for layout in [MaildirLayout.maildirPlusPlus, .nested] {
            let directory = try TemporaryDirectory()
            let store = try MaildirStore(directory, layout)
            let names = try odd.map(FolderName.init)
            for name in names { try store.createFolder(name) }
            for name in names {
                let path = try store.directory(for: name)
                XCTAssertTrue(path.hasPrefix(store.root + "/"), "\(name) escapes the root: \(path)")
                XCTAssertFalse(path.dropFirst(store.root.count).contains("/../"))
            }
            // Strays that are not canonical names are ignored, not misread.
            try FileManager.default.createDirectory(atPath: store.root + "/.Foo%41/cur", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: store.root + "/stray%zz/cur", withIntermediateDirectories: true)
            XCTAssertEqual(Set(try store.listFolders()), Set(names), "\(layout)")
            XCTAssertEqual(try store.listFolders().count, names.count, "\(layout): both Unicode forms are distinct folders")
        }
    }

    func testCreateFolder_isIdempotentAndCompletesHalfCreatedOnes() throws {
        let directory = try TemporaryDirectory()
        let store = try MaildirStore(directory)
        let sent = try FolderName(["Sent"])
        try FileManager.default.createDirectory(atPath: store.root + "/.Sent/cur", withIntermediateDirectories: true)
        XCTAssertEqual(try store.listFolders(), [], "a half-created folder is not listed")
        try store.createFolder(sent)
        try store.createFolder(sent)
        XCTAssertEqual(try store.listFolders(), [sent])
    }

    func testCreateFolder_fsyncsNewDirectories() throws {
        let directory = try TemporaryDirectory()
        let store = try MaildirStore(directory, .nested)
        let before = store.fsyncs
        try store.createFolder(try FolderName(["A", "B"]))
        // A's entry in the root, B's entry in A, and cur/new/tmp in B.
        XCTAssertEqual(store.fsyncs - before, 3)
        try store.createFolder(try FolderName(["A", "B"]))
        XCTAssertEqual(store.fsyncs - before, 3, "nothing new, nothing to sync")
    }

    func testOpenFolder_refusesMissingAndAlreadyOpenFolders() throws {
        let directory = try TemporaryDirectory()
        let store = try MaildirStore(directory)
        XCTAssertThrowsError(try store.openFolder(.inbox)) { XCTAssertEqual(($0 as? MaildirError)?.code, .folderMissing) }
        try store.createFolder(.inbox)
        var folder: MaildirFolder? = try store.openFolder(.inbox)
        XCTAssertThrowsError(try store.openFolder(.inbox)) { XCTAssertEqual(($0 as? MaildirError)?.code, .folderBusy) }
        folder?.close()
        XCTAssertThrowsError(try folder?.beginBatch()) { XCTAssertEqual(($0 as? MaildirError)?.code, .folderClosed) }
        folder = try store.openFolder(.inbox)
        folder = nil
        XCTAssertNoThrow(try store.openFolder(.inbox), "dropping a handle releases it")
    }

    func testDeleteFolder_removesMailSyncdDownloaded() throws {
        for layout in [MaildirLayout.maildirPlusPlus, .nested] {
            let directory = try TemporaryDirectory()
            let store = try MaildirStore(directory, layout)
            let sent = try FolderName(["Sent"])
            let folder = try store.prepare(sent)
            try folder.deliver(1...5, flags: { $0 % 2 == 0 ? [.seen] : [] })
            // An interrupted batch leaves a temporary file of ours.
            let batch = try folder.beginBatch()
            try batch.open(uid: 6).write(Array("partial".utf8))
            XCTAssertThrowsError(try store.deleteFolder(sent)) { XCTAssertEqual(($0 as? MaildirError)?.code, .folderBusy) }
            folder.close()
            try store.deleteFolder(sent)
            XCTAssertFalse(FileManager.default.fileExists(atPath: try store.directory(for: sent)), "\(layout)")
            XCTAssertEqual(try store.listFolders(), [])
            try store.deleteFolder(sent)  // already gone: fine
        }
    }

    func testDeleteFolder_refusesMailTheMapDoesNotKnow() throws {
        let directory = try TemporaryDirectory()
        let store = try MaildirStore(directory)
        let sent = try FolderName(["Sent"])
        let folder = try store.prepare(sent)
        try folder.deliver(1...3)
        try writeFile(folder.path + "/new/1700000000.1_1.otherhost", "From: me\n\nwritten locally\n")
        folder.close()
        XCTAssertThrowsError(try store.deleteFolder(sent)) { error in
            XCTAssertEqual((error as? MaildirError)?.code, .folderNotEmpty)
            XCTAssertTrue("\(error)".contains("1 message(s) syncd did not download"), "\(error)")
        }
        let reopened = try store.openFolder(sent)
        try assertConsistent(reopened, expected: [1, 2, 3])
        XCTAssertEqual(try reopened.scanLocalChanges().unknownFiles, ["new/1700000000.1_1.otherhost"])
    }

    func testDeleteFolder_refusesQuarantinedMail() throws {
        let directory = try TemporaryDirectory()
        let store = try MaildirStore(directory)
        let sent = try FolderName(["Sent"])
        let folder = try store.prepare(sent, uidValidity: 1)
        try folder.deliver(1...2)
        try folder.resetFolder(newUIDValidity: 2)
        folder.close()
        XCTAssertThrowsError(try store.deleteFolder(sent)) { error in
            XCTAssertEqual((error as? MaildirError)?.code, .folderNotEmpty)
            XCTAssertTrue("\(error)".contains("2 quarantined"), "\(error)")
        }
    }

    func testDeleteFolder_nestedKeepsChildFolders() throws {
        let directory = try TemporaryDirectory()
        let store = try MaildirStore(directory, .nested)
        let archive = try FolderName(["Archive"])
        let child = try FolderName(["Archive", "2024"])
        let archiveFolder = try store.prepare(archive)
        try archiveFolder.deliver([1])
        archiveFolder.close()
        let childFolder = try store.prepare(child)
        try childFolder.deliver([7])
        childFolder.close()
        try store.deleteFolder(archive)
        XCTAssertEqual(try store.listFolders(), [child])
        XCTAssertFalse(FileManager.default.fileExists(atPath: store.root + "/Archive/cur"))
        try assertConsistent(try store.openFolder(child), expected: [7])
    }

    func testDeleteFolder_refusesPlusPlusInbox() throws {
        let directory = try TemporaryDirectory()
        let store = try MaildirStore(directory)
        try store.createFolder(.inbox)
        XCTAssertThrowsError(try store.deleteFolder(.inbox)) { XCTAssertEqual(($0 as? MaildirError)?.code, .inboxNotAllowed) }
    }

    func testRenameFolder_plusPlusMovesChildrenAndKeepsMaps() throws {
        let directory = try TemporaryDirectory()
        let store = try MaildirStore(directory)
        let old = try FolderName(["Work"])
        let oldChild = try FolderName(["Work", "2024"])
        let other = try FolderName(["Workshop"])
        for (index, name) in [old, oldChild, other].enumerated() {
            let folder = try store.prepare(name)
            try folder.deliver([UInt32(index + 1)])
            folder.close()
        }
        let new = try FolderName(["Jobs", "Old"])
        try store.renameFolder(old, to: new)
        let child = try FolderName(["Jobs", "Old", "2024"])
        XCTAssertEqual(try store.listFolders(), [new, child, other].sorted())
        try assertConsistent(try store.openFolder(new), expected: [1])
        try assertConsistent(try store.openFolder(child), expected: [2])
        try assertConsistent(try store.openFolder(other), expected: [3])
    }

    func testRenameFolder_nestedMovesSubtreeAndCreatesParents() throws {
        let directory = try TemporaryDirectory()
        let store = try MaildirStore(directory, .nested)
        let old = try FolderName(["Work"])
        for (index, name) in try [old, FolderName(["Work", "2024"])].enumerated() {
            let folder = try store.prepare(name)
            try folder.deliver([UInt32(index + 1)])
            folder.close()
        }
        try store.renameFolder(old, to: try FolderName(["Jobs", "Old"]))
        XCTAssertEqual(try store.listFolders(), try [FolderName(["Jobs", "Old"]), FolderName(["Jobs", "Old", "2024"])])
        try assertConsistent(try store.openFolder(try FolderName(["Jobs", "Old", "2024"])), expected: [2])
    }

    func testRenameFolder_refusesExistingTargetInboxAndOpenFolders() throws {
        let directory = try TemporaryDirectory()
        let store = try MaildirStore(directory)
        let a = try FolderName(["A"])
        let b = try FolderName(["B"])
        try store.createFolder(a)
        try store.createFolder(b)
        XCTAssertThrowsError(try store.renameFolder(a, to: b)) { XCTAssertEqual(($0 as? MaildirError)?.code, .folderExists) }
        XCTAssertThrowsError(try store.renameFolder(.inbox, to: b)) { XCTAssertEqual(($0 as? MaildirError)?.code, .inboxNotAllowed) }
        XCTAssertThrowsError(try store.renameFolder(a, to: try FolderName(["A", "x"]))) {
            XCTAssertEqual(($0 as? MaildirError)?.code, .invalidFolderName)
        }
        XCTAssertThrowsError(try store.renameFolder(try FolderName(["Nope"]), to: try FolderName(["C"]))) {
            XCTAssertEqual(($0 as? MaildirError)?.code, .folderMissing)
        }
        let open = try store.openFolder(a)
        XCTAssertThrowsError(try store.renameFolder(a, to: try FolderName(["C"]))) {
            XCTAssertEqual(($0 as? MaildirError)?.code, .folderBusy)
        }
        open.close()
        XCTAssertNoThrow(try store.renameFolder(a, to: try FolderName(["C"])))
    }
}
