#if canImport(Glibc)
import Glibc
#endif
import Foundation
import IMAPProtocol
import MailServers
import SyncProtocol
import XCTest
@testable import IMAPProvider

/// Moves between local folders (a mail client renaming a file into another folder's `cur/`)
/// become server moves, exactly once, crash or not; a mass move does not trip the safety valve.
extension UploadTests {
    /// Moves `count` of `from`'s message files into `to` as a mail client does (rename, same name);
    /// the moved files' new paths, and their Message-IDs.
    @discardableResult
    func moveLocally(_ from: String, _ to: String, count: Int) throws -> [String] {
        var moved: [String] = []
        for file in try localFiles(from).prefix(count) {
            let target = directory(to) + "/" + file
            try FileManager.default.moveItem(atPath: directory(from) + "/" + file, toPath: target)
            moved.append(target)
        }
        return moved
    }

    func inode(_ path: String) -> UInt64? {
        var info = stat()
        return stat(path, &info) == 0 ? UInt64(info.st_ino) : nil
    }

    /// The inodes of a folder's files: a moved file adopted keeps its inode, a download would not.
    func inodes(_ folder: String) throws -> Set<UInt64> {
        Set(try localFiles(folder).compactMap { inode(directory(folder) + "/" + $0) })
    }

    func checkMove(capability: String?, count wanted: Int?, messages: Int = 40, file: StaticString = #filePath, line: UInt = #line) async throws {
        try? FileManager.default.removeItem(atPath: local)
        let dovecot = try Dovecot(messages: messages, folders: "INBOX,Archiv", capability: capability)
        let imap = try provider(dovecot)
        try await syncClean(imap, file: file, line: line)
        let before = try serverContents(dovecot)
        let inbox = try XCTUnwrap(before.folders["INBOX"]?.count)
        let archive = before.folders["Archiv"]?.count ?? 0
        let count = wanted ?? inbox - 2
        if wanted == nil { XCTAssertGreaterThan(count * 100, inbox * 50, "a mass move, were it deletions", file: file, line: line) }
        let moved = try moveLocally("INBOX", "Archiv", count: count)
        let movedInodes = Set(moved.compactMap(inode))

        try await syncClean(imap, file: file, line: line)
        let after = try serverContents(dovecot)
        let uidplus = capability == nil || capability!.contains("UIDPLUS")
        if wanted == nil { XCTAssertGreaterThanOrEqual(count, 20) }
        if uidplus {
            XCTAssertEqual(after.folders["INBOX"]?.count ?? 0, inbox - count, "moved away on the server", file: file, line: line)
        } else {
            XCTAssertEqual(try serverTrashed(dovecot, "INBOX"), count, "without UIDPLUS the source is flagged only", file: file, line: line)
        }
        XCTAssertEqual(after.folders["Archiv"]?.count ?? 0, archive + count, "moved there, once", file: file, line: line)
        XCTAssertEqual(try localFiles("Archiv").filter { !$0.contains(",U=") }, [], "adopted", file: file, line: line)
        XCTAssertTrue(movedInodes.isSubset(of: try inodes("Archiv")), "the moved files adopted, not downloaded again", file: file, line: line)
        XCTAssertEqual(try localFiles("Archiv").count, archive + count, file: file, line: line)
        XCTAssertEqual(try localFiles("INBOX").count, inbox - count, "nothing downloaded back", file: file, line: line)
        if uidplus { try assertInSync(dovecot, file: file, line: line) }
        try await syncClean(imap, file: file, line: line)
        XCTAssertEqual(try localFiles("INBOX").count, inbox - count, file: file, line: line)
        XCTAssertEqual(try localFiles("Archiv").count, archive + count, file: file, line: line)
        if uidplus { try assertInSync(dovecot, file: file, line: line) }
    }

    /// The inodes of the server's message files in `folder` (Dovecot's Maildir): Dovecot moves and
    /// copies by hard link, so a message moved on the server keeps its inode; an APPEND would not.
    func serverInodes(_ dovecot: Dovecot, _ folder: String) -> Set<UInt64> {
        let root = folder == "INBOX" ? dovecot.mailbox : dovecot.mailbox + "/." + folder
        var found = Set<UInt64>()
        for sub in ["cur", "new"] {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: root + "/" + sub)) ?? [] {
                if let number = inode(root + "/" + sub + "/" + name) { found.insert(number) }
            }
        }
        return found
    }

    /// Moves three messages from INBOX into `destination` under names of their own (as a client
    /// that names a moved file anew does, or into a folder made here), flagged on the way if
    /// `flag`; checks they were moved on the server — the same server files, not uploads — with
    /// the flag, and nothing came back.
    private func checkServerMove(
        into destination: String, folders: String, rename: Bool, makeFolder: Bool, flag: Bool = false,
        file: StaticString = #filePath, line: UInt = #line
    ) async throws {
        let dovecot = try Dovecot(messages: 20, folders: folders)
        let imap = try provider(dovecot)
        try await syncClean(imap)
        let inbox = try localFiles("INBOX").count
        let there = makeFolder ? 0 : try localFiles(destination).count
        let serverInbox = serverInodes(dovecot, "INBOX")
        if makeFolder { try makeLocalFolder(destination) }
        let flaggedThere = try localFiles(destination).filter { $0.components(separatedBy: ":2,").last?.contains("F") == true }.count
        for (index, moving) in try localFiles("INBOX").prefix(3).enumerated() {
            let had = moving.contains(":2,") ? moving.components(separatedBy: ":2,").last ?? "" : ""
            let flags = flag ? String(Set(had + "F").sorted()) : had
            let base = String(moving.dropFirst(4).prefix { $0 != ":" })
            let name = !rename && !flag ? moving : "cur/" + (rename ? "\(1_700_000_000 + index).M\(index)P1.client" : base) + ":2," + flags
            try FileManager.default.moveItem(atPath: directory("INBOX") + "/" + moving, toPath: directory(destination) + "/" + name)
        }

        try await syncClean(imap, file: file, line: line)
        let after = try serverContents(dovecot)
        XCTAssertEqual(after.folders["INBOX"]?.count, inbox - 3, file: file, line: line)
        XCTAssertEqual(after.folders[destination]?.count, there + 3, file: file, line: line)
        XCTAssertEqual(
            serverInodes(dovecot, destination).intersection(serverInbox).count, 3, "moved on the server, not appended anew",
            file: file, line: line)
        if flag {
            XCTAssertEqual(
                after.folders[destination]?.values.filter { $0.flags.contains("F") }.count, flaggedThere + 3,
                "the flag set on the way reached the server", file: file, line: line)
        }
        XCTAssertEqual(try localFiles("INBOX").count, inbox - 3, "nothing downloaded back", file: file, line: line)
        XCTAssertEqual(try localFiles(destination).count, there + 3, file: file, line: line)
        try assertInSync(dovecot, file: file, line: line)
        try await syncClean(imap, file: file, line: line)
        try assertInSync(dovecot, file: file, line: line)
    }

    func testMove_ofAFileNamedAnewAndFlagged_isFoundByMessageIDAndSize_andMovedWithTheFlag() async throws {
        try await checkServerMove(into: "Archiv", folders: "INBOX,Archiv", rename: true, makeFolder: false, flag: true)
    }

    func testMove_flaggedOnTheWay_intoAFolderMadeHere_isCREATEThenMOVE() async throws {
        try await checkServerMove(into: "Projekte", folders: "INBOX", rename: false, makeFolder: true, flag: true)
    }

    func testMove_namedAnewAndFlagged_intoAFolderMadeHere_isCREATEThenMOVE() async throws {
        try await checkServerMove(into: "Projekte", folders: "INBOX", rename: true, makeFolder: true, flag: true)
    }

    func testMove_ofAFileNamedAnew_isFoundByMessageIDAndSize_andMovedOnTheServer() async throws {
        try await checkServerMove(into: "Archiv", folders: "INBOX,Archiv", rename: true, makeFolder: false)
    }

    func testMove_withAFlagChangeOnTheWay_bothReachTheServer() async throws {
        let dovecot = try Dovecot(messages: 20, folders: "INBOX,Archiv")
        let imap = try provider(dovecot)
        try await syncClean(imap)
        let file = try XCTUnwrap(try localFiles("INBOX").first)
        let base = try XCTUnwrap(file.components(separatedBy: ":2,").first)
        try FileManager.default.moveItem(atPath: directory("INBOX") + "/" + file, toPath: directory("Archiv") + "/" + base + ":2,FS")
        try await syncClean(imap)
        try assertInSync(dovecot)
        XCTAssertEqual(try localFiles("Archiv").filter { $0.hasSuffix(":2,FS") }.count, 1)
    }

    func testMove_intoAFolderMadeHere_isAServerMoveIntoTheFolderCreatedForIt() async throws {
        try await checkServerMove(into: "Projekte", folders: "INBOX", rename: false, makeFolder: true)
    }

    func testMoveBetweenFolders_isUIDMOVE_notAnUploadAndADeletion() async throws {
        try await checkMove(capability: nil, count: 3)
    }

    func testMassMove_doesNotTripTheSafetyValve() async throws {
        try await checkMove(capability: nil, count: nil, messages: 60)
    }

    func testMove_withoutMOVE_isCOPYAndExpunge() async throws {
        try await checkMove(capability: "IMAP4rev1 LITERAL+ UIDPLUS ESEARCH", count: 3)
    }

    func testMove_withoutMOVEOrUIDPLUS_isCOPYAndDeletedFlag_foundAgainByMessageID() async throws {
        try await checkMove(capability: "IMAP4rev1 LITERAL+", count: 3)
    }

    func testCrashAtEachMoveStep_rerunLeavesEveryMessageOnceOnEachSide() async throws {
        for (capability, steps) in [(nil as String?, [UploadStep.moveIntentRecorded, .moved, .moveAdopted]),
                                    ("IMAP4rev1 LITERAL+ UIDPLUS ESEARCH", [.moveIntentRecorded, .copied, .moved, .moveAdopted])] {
            for step in steps {
                try? FileManager.default.removeItem(atPath: local)
                let dovecot = try Dovecot(messages: 30, folders: "INBOX,Archiv", capability: capability)
                var imap = try provider(dovecot)
                try await syncClean(imap)
                let before = try serverContents(dovecot)
                let inbox = try XCTUnwrap(before.folders["INBOX"]?.count)
                let archive = before.folders["Archiv"]?.count ?? 0
                try moveLocally("INBOX", "Archiv", count: 4)
                imap.uploadCrashHook = { if $0 == step { throw Crash() } }
                do {
                    _ = try await sync(imap)
                    XCTFail("\(step) was never reached")
                } catch is Crash {}
                imap.uploadCrashHook = nil
                try await syncClean(imap)
                let after = try serverContents(dovecot)
                XCTAssertEqual(after.folders["INBOX"]?.count, inbox - 4, "\(capability ?? "") \(step)")
                XCTAssertEqual(after.folders["Archiv"]?.count, archive + 4, "\(capability ?? "") \(step)")
                try assertInSync(dovecot)
                XCTAssertEqual(try localFiles("Archiv").filter { !$0.contains(",U=") }, [], "\(step)")
                try await syncClean(imap)
                try assertInSync(dovecot)
            }
        }
    }

    /// Does nothing in a normal test run; in a child started by
    /// ``testKill9AtEachMoveStep_rerunLeavesEveryMessageOnceOnEachSide``, syncs and SIGKILLs
    /// itself at the step its environment names.
    func testMoveChildEntry() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard let step = environment["MOVE_TEST_CHILD_STEP"].flatMap(UploadStep.init(rawValue:)),
            let port = environment["UPLOAD_TEST_CHILD_PORT"].flatMap(Int.init), let maildir = environment["UPLOAD_TEST_CHILD_MAILDIR"]
        else { return }
        local = maildir
        var imap = try provider(port: port)
        imap.uploadCrashHook = { if $0 == step { kill(getpid(), SIGKILL) } }
        _ = try await sync(imap)
        exit(3)  // the step was never reached
    }

    func testKill9AtEachMoveStep_rerunLeavesEveryMessageOnceOnEachSide() async throws {
        for step in [UploadStep.moveIntentRecorded, .moved, .moveAdopted] {
            try? FileManager.default.removeItem(atPath: local)
            let dovecot = try Dovecot(messages: 20, folders: "INBOX,Archiv")
            let imap = try provider(dovecot)
            try await syncClean(imap)
            let before = try serverContents(dovecot)
            let inbox = try XCTUnwrap(before.folders["INBOX"]?.count)
            let archive = before.folders["Archiv"]?.count ?? 0
            try moveLocally("INBOX", "Archiv", count: 3)

            let child = Process()
            child.executableURL = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            child.arguments = ["IMAPProviderTests.UploadTests/testMoveChildEntry"]
            var environment = ProcessInfo.processInfo.environment
            environment["MOVE_TEST_CHILD_STEP"] = step.rawValue
            environment["UPLOAD_TEST_CHILD_PORT"] = String(dovecot.plainPort)
            environment["UPLOAD_TEST_CHILD_MAILDIR"] = local
            child.environment = environment
            child.standardOutput = FileHandle.nullDevice
            child.standardError = FileHandle.nullDevice
            try child.run()
            let deadline = ContinuousClock.now + .seconds(120)
            while child.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            if child.isRunning { kill(child.processIdentifier, SIGKILL) }
            child.waitUntilExit()
            try? FileManager.default.removeItem(atPath: local + "-child.sock")
            XCTAssertEqual(child.terminationReason, .uncaughtSignal, "\(step)")
            XCTAssertEqual(child.terminationStatus, SIGKILL, "\(step): killed at the step, not exited")

            try await syncClean(imap)
            let after = try serverContents(dovecot)
            XCTAssertEqual(after.folders["INBOX"]?.count, inbox - 3, "\(step)")
            XCTAssertEqual(after.folders["Archiv"]?.count, archive + 3, "\(step)")
            try assertInSync(dovecot)
            try await syncClean(imap)
            try assertInSync(dovecot)
        }
    }
}
