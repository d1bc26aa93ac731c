#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest
@testable import Maildir

/// Operations stopped at each step by an in-process crash hook (no cleanup runs: the file system is
/// left exactly as a `kill -9` at that step would leave it), then the store is dropped, reopened and
/// recovered like a fresh process would.
final class CrashRecoveryTests: XCTestCase {
    private let archive = try! FolderName(["Archive", "2024"])

    private func reopen(_ directory: TemporaryDirectory, _ layout: MaildirLayout) throws -> (MaildirStore, MaildirFolder) {
        let store = try MaildirStore(directory, layout)
        return (store, try store.openFolder(archive))
    }

    func testDeliveryCrash_atEveryStep_endsWithEveryMessageExactlyOnce() throws {
        let cases: [(CrashPoint, Set<UInt32>, [UInt32])] = [
            // point, what survives the crash, what recovery adopts
            (.deliveryFilesSynced, [1, 2, 3], []),
            (.deliveryFirstRenamed, [1, 2, 3, 4], [4]),
            (.deliveryRenamed, Set(1...8), [4, 5, 6, 7, 8]),
            (.deliveryDirectoriesSynced, Set(1...8), [4, 5, 6, 7, 8]),
            (.mapTemporaryWritten, Set(1...8), [4, 5, 6, 7, 8]),
            (.mapRenamed, Set(1...8), []),
        ]
        for layout in [MaildirLayout.maildirPlusPlus, .nested] {
            for (point, survivors, adopted) in cases {
                let directory = try TemporaryDirectory()
                var store: MaildirStore? = try MaildirStore(directory, layout)
                var folder: MaildirFolder? = try store!.prepare(archive)
                try folder!.deliver(1...3)
                folder!.runUntilCrash(CrashTrigger(point)) {
                    try folder!.deliver(4...8, flags: { $0 % 2 == 0 ? [.seen] : [.flagged] })
                }
                XCTAssertThrowsError(try folder!.beginBatch()) { XCTAssertEqual(($0 as? MaildirError)?.code, .needsReopen) }
                folder = nil
                store = nil

                (store, folder) = try reopen(directory, layout)
                let context = "\(layout) \(point)"
                XCTAssertEqual(folder!.lastRecovery.adopted, adopted, context)
                XCTAssertEqual(folder!.lastRecovery.quarantined, [], context)
                try assertConsistent(folder!, expected: survivors)
                XCTAssertTrue(try folder!.scanLocalChanges().isEmpty, "adopted flags match the files: \(context)")
                // The rerun downloads what is missing, and only that.
                let missing = Set(UInt32(1)...8).subtracting(survivors).sorted()
                XCTAssertEqual(try folder!.deliver(missing, flags: { $0 % 2 == 0 ? [.seen] : [.flagged] }), missing)
                try assertConsistent(folder!, expected: Set(1...8))
                folder = nil
                store = nil
                (store, folder) = try reopen(directory, layout)
                XCTAssertTrue(folder!.lastRecovery.isEmpty, "\(context): \(folder!.lastRecovery)")
                _ = store
            }
        }
    }

    func testExpungeCrash_atEveryStep_isCompletedByRecovery() throws {
        let cases: [(CrashPoint, Int, Set<UInt32>, [UInt32])] = [
            // point, occurrence, survivors, expunges recovery completes
            (.mapTemporaryWritten, 1, Set(1...6), []),
            (.mapRenamed, 1, [1, 3, 5], [2, 4, 6]),
            (.expungeIntentCommitted, 1, [1, 3, 5], [2, 4, 6]),
            (.expungeFirstUnlinked, 1, [1, 3, 5], [2, 4, 6]),
            (.expungeDirectoriesSynced, 1, [1, 3, 5], [2, 4, 6]),
            (.mapTemporaryWritten, 2, [1, 3, 5], [2, 4, 6]),
            (.mapRenamed, 2, [1, 3, 5], []),
        ]
        for (point, occurrence, survivors, completed) in cases {
            let directory = try TemporaryDirectory()
            var store: MaildirStore? = try MaildirStore(directory, .nested)
            var folder: MaildirFolder? = try store!.prepare(archive)
            try folder!.deliver(1...6)
            folder!.runUntilCrash(CrashTrigger(point, occurrence: occurrence)) { try folder!.expunge([2, 4, 6]) }
            folder = nil
            store = nil
            (store, folder) = try reopen(directory, .nested)
            let context = "\(point) #\(occurrence)"
            XCTAssertEqual(folder!.lastRecovery.completedExpunges, completed, context)
            XCTAssertEqual(folder!.lastRecovery.adopted, [], "an expunged message never comes back: \(context)")
            XCTAssertEqual(folder!.lastRecovery.vanished, [], context)
            try assertConsistent(folder!, expected: survivors)
            try folder!.expunge([2, 4, 6])  // the engine repeats what it did not see finish
            try assertConsistent(folder!, expected: [1, 3, 5])
            _ = store
        }
    }

    func testSetFlagsCrash_atEveryStep_appliesServerFlagsWithoutSpuriousLocalChanges() throws {
        let target: [UInt32: MessageFlags] = [2: [.seen], 3: [.seen, .flagged], 4: [.seen]]
        let points: [(CrashPoint, Int, Bool)] = [
            // point, occurrence, whether the change is in effect after recovery
            (.mapTemporaryWritten, 1, false),
            (.mapRenamed, 1, true),
            (.flagsIntentCommitted, 1, true),
            (.flagsFirstRenamed, 1, true),
            (.flagsDirectoriesSynced, 1, true),
            (.mapTemporaryWritten, 2, true),
            (.mapRenamed, 2, true),
        ]
        for (point, occurrence, applied) in points {
            let directory = try TemporaryDirectory()
            var store: MaildirStore? = try MaildirStore(directory)
            var folder: MaildirFolder? = try store!.prepare(archive)
            try folder!.deliver(1...4)
            folder!.runUntilCrash(CrashTrigger(point, occurrence: occurrence)) { try folder!.setFlags(target, highestModSeq: 9) }
            folder = nil
            store = nil
            (store, folder) = try reopen(directory, .maildirPlusPlus)
            let context = "\(point) #\(occurrence)"
            XCTAssertTrue(try folder!.scanLocalChanges().isEmpty, "no change reported as local: \(context)")
            for (uid, flags) in target {
                XCTAssertEqual(folder!.map[uid]?.flags, applied ? flags : [], context)
            }
            XCTAssertEqual(folder!.highestModSeq, occurrence == 2 && point == .mapRenamed ? 9 : nil, "modseq only with the final commit: \(context)")
            try assertConsistent(folder!, expected: Set(1...4))
            try folder!.setFlags(target, highestModSeq: 9)  // the engine re-applies (its modseq did not advance)
            XCTAssertTrue(try folder!.scanLocalChanges().isEmpty)
            XCTAssertTrue(folder!.filePath(for: 3)!.hasSuffix(":2,FS"))
            _ = store
        }
    }

    func testResetCrash_atEveryStep_thenRetry_quarantinesEachOldMessageOnce() throws {
        let cases: [(CrashPoint, Int)] = [
            (.resetFirstMoved, 1), (.resetDirectoriesSynced, 1), (.mapTemporaryWritten, 1), (.mapRenamed, 1),
        ]
        for (point, occurrence) in cases {
            let directory = try TemporaryDirectory()
            var store: MaildirStore? = try MaildirStore(directory)
            var folder: MaildirFolder? = try store!.prepare(archive, uidValidity: 100)
            try folder!.deliver(1...5)
            folder!.runUntilCrash(CrashTrigger(point, occurrence: occurrence)) { try folder!.resetFolder(newUIDValidity: 200) }
            folder = nil
            store = nil
            (store, folder) = try reopen(directory, .maildirPlusPlus)
            XCTAssertEqual(folder!.lastRecovery.quarantined, [], "\(point)")
            if folder!.uidValidity != 200 { try folder!.resetFolder(newUIDValidity: 200) }  // the engine sees the mismatch again
            try folder!.deliver(1...5)
            try assertConsistent(folder!, expected: Set(1...5))
            let quarantined = filesUnder(folder!.path + "/.syncd-quarantine")
            XCTAssertEqual(quarantined.count, 5, "\(point): \(quarantined)")
            XCTAssertEqual(Set(quarantined.map { MessageFileName(String($0.split(separator: "/").last!)).uid! }), Set(1...5))
            _ = store
        }
    }

    func testRecovery_deletesOurTemporaryFilesAndOldForeignOnes() throws {
        let directory = try TemporaryDirectory()
        var store: MaildirStore? = try MaildirStore(directory)
        var folder: MaildirFolder? = try store!.prepare()
        do {
            // Left uncommitted; the batch (which holds the folder) goes away with the "process".
            let batch = try folder!.beginBatch()
            try batch.open(uid: 1).write(Array("cut off".utf8))
            try batch.open(uid: 2).finish()
        }
        let tmp = folder!.path + "/tmp/"
        try writeFile(tmp + "1700000000.99_1.procmail", "being delivered right now")
        try writeFile(tmp + "1600000000.98_1.procmail", "abandoned long ago")
        age(tmp + "1600000000.98_1.procmail", by: 37 * 3600)
        try writeFile(folder!.path + "/.syncd-uidmap.tmp", "half a map")
        folder = nil
        store = nil
        store = try MaildirStore(directory)
        folder = try store!.openFolder(.inbox)
        XCTAssertEqual(folder!.lastRecovery.removedTemporaryFiles, 3)
        XCTAssertEqual(try folder!.fileNames("tmp"), ["1700000000.99_1.procmail"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder!.path + "/.syncd-uidmap.tmp"))
        try assertConsistent(folder!, expected: [])
    }

    func testRecovery_quarantinesOurFilesItCannotAdopt() throws {
        let directory = try TemporaryDirectory()
        var store: MaildirStore? = try MaildirStore(directory)
        var folder: MaildirFolder? = try store!.prepare(uidValidity: 100)
        try folder!.deliver(1...2)
        let id = folder!.map.folderID!
        let cur = folder!.path + "/cur/"
        func ours(_ unique: String, v: UInt32, uid: UInt32, size: Int) -> String {
            MessageFileName.curName(base: MessageFileName.ourBase(unique: unique, size: size, folderID: id, uidValidity: v, uid: uid), flags: [.seen])
        }
        let strays = [
            ours("1.a.h", v: 99, uid: 3, size: 5),  // an older UIDVALIDITY
            ours("2.b.h", v: 100, uid: 1, size: 5),  // UID 1 belongs to another file
            ours("3.c.h", v: 100, uid: 4, size: 999),  // truncated: size does not match S=
        ]
        for name in strays { try writeFile(cur + name, "12345") }
        // A second link to a mapped message (same base name) in new/.
        let mapped = folder!.filePath(for: 2)!
        XCTAssertEqual(link(mapped, folder!.path + "/new/" + MessageFileName(String(mapped.split(separator: "/").last!)).base), 0)
        let good = ours("4.d.h", v: 100, uid: 5, size: 5)
        try writeFile(cur + good, "12345")
        folder = nil
        store = nil
        store = try MaildirStore(directory)
        folder = try store!.openFolder(.inbox)
        let report = folder!.lastRecovery
        XCTAssertEqual(report.adopted, [5])
        XCTAssertEqual(report.quarantined.count, 4, "\(report.quarantined)")
        XCTAssertTrue(report.quarantined.allSatisfy { $0.hasPrefix(".syncd-quarantine/recovered-") })
        XCTAssertEqual(filesUnder(folder!.path + "/.syncd-quarantine").count, 4, "moved, never deleted")
        XCTAssertEqual(folder!.map.count, 3)
        XCTAssertEqual(try Posix.readFile(folder!.filePath(for: 5)!), Array("12345".utf8))
    }

    func testRecovery_rebuildsAMissingMapFromFileNames() throws {
        for layout in [MaildirLayout.maildirPlusPlus, .nested] {
            let directory = try TemporaryDirectory()
            var store: MaildirStore? = try MaildirStore(directory, layout)
            var folder: MaildirFolder? = try store!.prepare(archive, uidValidity: 555)
            try folder!.deliver(1...5, flags: { $0 == 3 ? [.seen, .replied] : [] })
            let original = folder!.map
            XCTAssertEqual(unlink(folder!.path + "/.syncd-uidmap"), 0)
            folder = nil
            store = nil
            (store, folder) = try reopen(directory, layout)
            XCTAssertEqual(folder!.lastRecovery.adopted, [1, 2, 3, 4, 5])
            XCTAssertEqual(folder!.uidValidity, 555)
            XCTAssertEqual(folder!.map.folderID, original.folderID)
            XCTAssertEqual(folder!.map.entries, original.entries)
            try assertConsistent(folder!, expected: Set(1...5))
            _ = store
        }
    }

    func testRecovery_ofANewFolder_doesNotAdoptMessagesMovedInFromAnother() throws {
        let directory = try TemporaryDirectory()
        let store = try MaildirStore(directory)
        let inbox = try store.prepare()
        try inbox.deliver(1...3)
        let projects = try FolderName(["Projects"])
        try store.createFolder(projects)  // created by the user's client, never synced
        let moved = inbox.filePath(for: 2)!
        XCTAssertEqual(rename(moved, try store.directory(for: projects) + "/cur/" + moved.split(separator: "/").last!), 0)
        let folder = try store.openFolder(projects)
        XCTAssertTrue(folder.lastRecovery.isEmpty)
        XCTAssertNil(folder.uidValidity)
        XCTAssertEqual(try folder.scanLocalChanges().unknownFiles.count, 1, "to be uploaded as a new message")
    }

    func testCorruptMap_isReportedAndLeftAlone() throws {
        let directory = try TemporaryDirectory()
        var store: MaildirStore? = try MaildirStore(directory)
        var folder: MaildirFolder? = try store!.prepare()
        try folder!.deliver(1...2)
        let path = folder!.path + "/.syncd-uidmap"
        folder = nil
        try writeFile(path, "syncd-uidmap 1\ngarbage\n")
        XCTAssertThrowsError(try store!.openFolder(.inbox)) { error in
            XCTAssertEqual((error as? MaildirError)?.code, .corruptMap)
            XCTAssertTrue("\(error)".contains("move the file aside"), "\(error)")
        }
        XCTAssertEqual(try Posix.readFile(path), Array("syncd-uidmap 1\ngarbage\n".utf8))
        // Following the advice rebuilds it.
        XCTAssertEqual(rename(path, path + ".broken"), 0)
        folder = try store!.openFolder(.inbox)
        try assertConsistent(folder!, expected: [1, 2])
        store = nil
    }
}
