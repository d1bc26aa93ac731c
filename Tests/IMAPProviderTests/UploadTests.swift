#if canImport(Glibc)
import Glibc
#endif
import Foundation
import IMAPProtocol
import Logging
import MailServers
import SyncIPC
import SyncProtocol
import XCTest
@testable import IMAPProvider
@testable import SyncDaemon

/// Uploads (SYNC_UPLOAD_CONTENTS) against a real Dovecot: new local messages appended exactly
/// once, crash or not; local deletions flagged and expunged; the mass-delete safety valve.
final class UploadTests: XCTestCase {
    var server: SyncServer!
    var local: String!
    var run: RunID = 0

    override func setUp() async throws {
        // A child of the kill -9 test names its socket after the parent's Maildir, so the parent
        // can remove what the killed child leaves.
        local = ProcessInfo.processInfo.environment["UPLOAD_TEST_CHILD_MAILDIR"].map { $0 + "-child" }
            ?? "/tmp/imap-upload-\(UInt32.random(in: 0...UInt32.max))"
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        server = SyncServer(configuration: .init(listener: .path(local + ".sock"), logger: logger))
        try await server.start()
    }

    override func tearDown() async throws {
        await server.stop()
        try? FileManager.default.removeItem(atPath: local)
        try? FileManager.default.removeItem(atPath: local + "-secrets")
        try? FileManager.default.removeItem(atPath: local + ".sock")
    }

    // MARK: Helpers

    func provider(_ dovecot: Dovecot, extra: String = "") throws -> IMAPProvider {
        try provider(port: dovecot.plainPort, extra: extra)
    }

    func provider(port: Int, extra: String = "") throws -> IMAPProvider {
        try FileManager.default.createDirectory(atPath: local + "-secrets", withIntermediateDirectories: true)
        try "secret".write(toFile: local + "-secrets/pw", atomically: true, encoding: .utf8)
        let config = try DaemonConfig.parse("""
            [store.mail]
            provider = "imap"
            host = "127.0.0.1"
            port = \(port)
            security = "none"
            user = "alice"
            password = { file = "\(local!)-secrets/pw" }
            maildir = "\(local!)"
            \(extra)
            """, file: "test.toml", factories: [IMAPFactory()])
        return config.stores["mail"]!.provider as! IMAPProvider
    }

    /// Runs one sync; its result and Error callbacks.
    func sync(_ provider: IMAPProvider, flags: SyncFlags = .full) async throws -> (SyncStatus, [DurableState.ErrorRecord]) {
        run += 1
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let callback = SyncCallback(reporter: server.reporter(store: "mail", run: run), logger: logger)
        let result = try await provider.synchronize(SyncRequest(store: "mail", run: run, flags: flags, trigger: .onDemand), callback: callback)
        return (result, callback.errorCounts.records)
    }

    /// A sync that must succeed without Error callbacks.
    func syncClean(_ provider: IMAPProvider, flags: SyncFlags = .full, file: StaticString = #filePath, line: UInt = #line) async throws {
        let (result, errors) = try await sync(provider, flags: flags)
        XCTAssertEqual(result, .ok, "\(errors)", file: file, line: line)
        XCTAssertEqual(errors.map(\.message), [], file: file, line: line)
    }

    func serverContents(_ dovecot: Dovecot) throws -> MailboxContents {
        try MailboxContents(maildirPlusPlus: dovecot.mailbox) { (try? MailboxName.decode($0)) ?? $0 }
    }

    func assertInSync(_ dovecot: Dovecot, file: StaticString = #filePath, line: UInt = #line) throws {
        let server = try serverContents(dovecot)
        let mine = try MailboxContents(maildirPlusPlus: local)
        XCTAssertEqual(mine.folders.keys.sorted(), server.folders.keys.sorted(), file: file, line: line)
        for (folder, messages) in server.folders {
            XCTAssertEqual(mine.folders[folder], messages, "folder \(folder)", file: file, line: line)
            XCTAssertEqual(mine.files[folder], messages.count, "\(folder): every message exactly once here", file: file, line: line)
            XCTAssertEqual(server.files[folder], messages.count, "\(folder): every message exactly once on the server", file: file, line: line)
        }
    }

    /// The local Maildir++ directory of `folder`.
    func directory(_ folder: String) -> String {
        // syncd's Maildir++ names are UTF-8 (the server's are modified UTF-7).
        folder == "INBOX" ? local : local + "/." + folder.replacingOccurrences(of: "/", with: ".")
    }

    /// Saves a message into the local folder as a mail client does (tmp/, then renamed into
    /// cur/ or new/), LF line ends; returns its path.
    @discardableResult
    func save(
        _ folder: String, id: String?, subject: String, flags: String = "S", inNew: Bool = false, mtime: Int? = 1_780_000_000
    ) throws -> String {
        let unique = "\(1_780_000_000 + Int.random(in: 0..<1_000_000)).M\(Int.random(in: 0..<999_999))P\(getpid()).mutt"
        let text = "From: Alice <alice@example.org>\nTo: Bob <bob@example.org>\nSubject: \(subject)\n"
            + (id.map { "Message-ID: \($0)\n" } ?? "") + "Date: Thu, 28 May 2026 10:00:00 +0200\n\nHello Bob,\n\n\(subject).\n"
        let temporary = directory(folder) + "/tmp/" + unique
        try text.write(toFile: temporary, atomically: false, encoding: .utf8)
        if let mtime {
            var times = [timespec](repeating: timespec(tv_sec: mtime, tv_nsec: 0), count: 2)
            _ = utimensat(AT_FDCWD, temporary, &times, 0)
        }
        let path = directory(folder) + (inNew ? "/new/" + unique : "/cur/" + unique + ":2," + flags)
        try FileManager.default.moveItem(atPath: temporary, toPath: path)
        return path
    }

    func localFiles(_ folder: String) throws -> [String] {
        try ["cur", "new"].flatMap { sub in
            try FileManager.default.contentsOfDirectory(atPath: directory(folder) + "/" + sub).map { sub + "/" + $0 }
        }.sorted()
    }

    // MARK: New local messages

    func testNewMessageInSent_appearsOnTheServerOnceWithItsFlags_andIsMapped() async throws {
        let dovecot = try Dovecot(messages: 30, folders: "INBOX,Sent")
        let imap = try provider(dovecot)
        try await syncClean(imap)
        let before = try serverContents(dovecot).folders["Sent"]?.count ?? 0
        try save("Sent", id: "<sent-1@example.org>", subject: "the report", flags: "FS")

        try await syncClean(imap)
        let sent = try XCTUnwrap(serverContents(dovecot).folders["Sent"])
        XCTAssertEqual(sent.count, before + 1)
        XCTAssertEqual(sent["<sent-1@example.org>"]?.flags, "FS")
        let mine = try localFiles("Sent").filter { !$0.contains(",U=") }
        XCTAssertEqual(mine, [], "the uploaded file carries its UID now")
        try assertInSync(dovecot)

        // The next run downloads nothing back and uploads nothing again.
        try await syncClean(imap)
        try assertInSync(dovecot)
        XCTAssertEqual(try serverContents(dovecot).folders["Sent"]?.count, before + 1)
    }

    func testThreeNewMessages_withUIDPLUS() async throws {
        try await threeNewMessages(capability: nil)
    }

    func testThreeNewMessages_withoutUIDPLUS_foundAgainByMessageIDOrSizeAndDate() async throws {
        try await threeNewMessages(capability: "IMAP4rev1 LITERAL+ ENABLE CONDSTORE")
    }

    func testThreeNewMessages_synchronizingLiterals_noUIDPLUS_noESEARCH() async throws {
        try await threeNewMessages(capability: "IMAP4rev1")
    }

    /// One with a Message-ID in cur/, one unread in new/, one without a Message-ID; plus mail
    /// arriving on the server meanwhile, which must still be downloaded.
    func threeNewMessages(capability: String?, file: StaticString = #filePath, line: UInt = #line) async throws {
        let dovecot = try Dovecot(messages: 20, folders: "INBOX,Sent", capability: capability)
        let imap = try provider(dovecot)
        try await syncClean(imap, file: file, line: line)
        try dovecot.generate(messages: 6, folders: "INBOX,Sent", seed: 5)
        try save("Sent", id: "<one@example.org>", subject: "one")
        try save("Sent", id: "<two@example.org>", subject: "two", inNew: true)
        try save("Sent", id: nil, subject: "three has no Message-ID", flags: "RS")
        try await syncClean(imap, file: file, line: line)
        try assertInSync(dovecot, file: file, line: line)
        let sent = try XCTUnwrap(serverContents(dovecot).folders["Sent"])
        XCTAssertEqual(sent["<one@example.org>"]?.flags, "S", file: file, line: line)
        XCTAssertEqual(sent["<two@example.org>"]?.flags, "", file: file, line: line)
        XCTAssertEqual(sent.values.filter { $0.flags == "RS" }.count, 1, file: file, line: line)
        XCTAssertEqual(try localFiles("Sent").filter { !$0.contains(",U=") }, [], file: file, line: line)
        try await syncClean(imap, file: file, line: line)
        try assertInSync(dovecot, file: file, line: line)
    }

    /// 150 new messages go up as MULTIAPPENDs of 64 (RFC 3502), as Dovecot's rawlog of the
    /// session shows: 3 APPEND commands, every message on the server once and mapped.
    func testManyNewMessages_goUpInMULTIAPPENDGroups() async throws {
        let dovecot = try Dovecot(messages: 20, folders: "INBOX,Sent", rawlog: true)
        let imap = try provider(dovecot)
        try await syncClean(imap)
        let before = try XCTUnwrap(serverContents(dovecot).folders["Sent"]?.count)
        for index in 0..<150 { try save("Sent", id: "<many-\(index)@example.org>", subject: "many \(index)") }
        try await syncClean(imap)
        XCTAssertEqual(try serverContents(dovecot).folders["Sent"]?.count, before + 150)
        XCTAssertEqual(try localFiles("Sent").filter { !$0.contains(",U=") }, [], "every one mapped")
        var appends: [Int] = []  // per session: its APPEND commands
        for file in try FileManager.default.contentsOfDirectory(atPath: dovecot.rawlogDirectory) where file.hasSuffix(".in") {
            let input = String(decoding: try Data(contentsOf: URL(fileURLWithPath: dovecot.rawlogDirectory + "/" + file)), as: UTF8.self)
            // Each line as Dovecot logs it: a timestamp, then the bytes ("A0008 APPEND "Sent" ...").
            let count = input.split(whereSeparator: \.isNewline).filter { $0.split(separator: " ").dropFirst(2).first?.uppercased() == "APPEND" }.count
            if count > 0 { appends.append(count) }
        }
        XCTAssertEqual(appends, [3], "one session, 150 messages in groups of 64: 64 + 64 + 22")
        try assertInSync(dovecot)
    }

    func testFiftyMegabyteMessage_streamsFromItsFile() async throws {
        let dovecot = try Dovecot(messages: 5, folders: "INBOX,Sent")
        let imap = try provider(dovecot)
        try await syncClean(imap)
        let path = directory("Sent") + "/cur/1780000000.M1P1.big:2,S"
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw DovecotError("cannot create \(path)")
        }
        handle.write(Data("From: alice@example.org\nSubject: the attachment\nMessage-ID: <big@example.org>\n\n".utf8))
        let line = Data((String(repeating: "0123456789abcdef", count: 4) + "\n").utf8)
        let chunk = Data((0..<(1 << 20) / line.count).flatMap { _ in line })
        for _ in 0..<50 { handle.write(chunk) }
        try handle.close()

        _ = try "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)  // resets VmHWM
        let baseline = try residentKilobytes("VmRSS")
        try await syncClean(imap)
        let growth = (try residentKilobytes("VmHWM") - baseline) / 1024
        print("a 50 MB upload: peak RSS grew by \(growth) MB")
        XCTAssertLessThan(growth, 20, "a 50 MB upload must stream from its file (peak grew by \(growth) MB)")
        let sent = try XCTUnwrap(serverContents(dovecot).folders["Sent"])
        XCTAssertNotNil(sent["<big@example.org>"])
        try assertInSync(dovecot)
    }

    func residentKilobytes(_ field: String) throws -> Int {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try XCTUnwrap(status.split(separator: "\n").first { $0.hasPrefix(field + ":") })
        return try XCTUnwrap(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
    }

    /// A copy of a server message saved here before syncd downloaded it (a Maildir that had mail
    /// before its first sync): adopted under the server's UID, neither appended nor downloaded.
    func testMessageTheServerHasAlready_isAdopted_notAppendedNorDownloaded() async throws {
        let dovecot = try Dovecot(messages: 10, folders: "INBOX,Sent")
        let imap = try provider(dovecot)
        try await syncClean(imap)
        func serverFiles() throws -> Set<String> {
            try Set(["cur", "new"].flatMap { sub in
                try FileManager.default.contentsOfDirectory(atPath: dovecot.mailbox + "/.Sent/" + sub).map { sub + "/" + $0 }
            })
        }
        let old = try serverFiles()
        try dovecot.generate(messages: 8, folders: "Sent", seed: 3)
        let fresh = try XCTUnwrap(try serverFiles().subtracting(old).sorted().first)
        let text = try String(contentsOfFile: dovecot.mailbox + "/.Sent/" + fresh, encoding: .utf8)
        try text.replacingOccurrences(of: "\r\n", with: "\n").write(
            toFile: directory("Sent") + "/cur/1780000000.M7P7.mutt:2,F", atomically: false, encoding: .utf8)
        let count = try XCTUnwrap(serverContents(dovecot).folders["Sent"]?.count)
        try await syncClean(imap)
        XCTAssertEqual(try serverContents(dovecot).folders["Sent"]?.count, count, "not appended")
        XCTAssertEqual(try localFiles("Sent").filter { !$0.contains(",U=") }, [], "adopted")
        // The flag the user gave it here (F) is uploaded as a local change by the next run.
        try await syncClean(imap)
        try assertInSync(dovecot)
        let id = try XCTUnwrap(text.split(separator: "\r\n").first { $0.lowercased().hasPrefix("message-id:") }?.dropFirst(11))
        XCTAssertEqual(try serverContents(dovecot).folders["Sent"]?[id.trimmingCharacters(in: .whitespaces)]?.flags.contains("F"), true)
    }

    // MARK: Crashes

    struct Crash: Error {}

    /// A run stopped at `step` — exactly what a `kill -9` there leaves, server and Maildir — then
    /// a rerun: every message once on each side, mapped here, and a third run finds nothing to do.
    func crashThenRerun(at step: UploadStep, capability: String?, file: StaticString = #filePath, line: UInt = #line) async throws {
        try? FileManager.default.removeItem(atPath: local)
        let dovecot = try Dovecot(messages: 10, folders: "INBOX,Sent", capability: capability)
        var imap = try provider(dovecot)
        try await syncClean(imap, file: file, line: line)
        try dovecot.generate(messages: 3, folders: "Sent", seed: 9)
        try save("Sent", id: "<crash-1@example.org>", subject: "crash one")
        try save("Sent", id: nil, subject: "crash two, no Message-ID", flags: "S")
        imap.uploadCrashHook = { if $0 == step { throw Crash() } }
        do {
            _ = try await sync(imap)
            XCTFail("\(step) was never reached", file: file, line: line)
        } catch is Crash {}
        imap.uploadCrashHook = nil
        try await syncClean(imap, file: file, line: line)
        try assertInSync(dovecot, file: file, line: line)
        XCTAssertNotNil(try serverContents(dovecot).folders["Sent"]?["<crash-1@example.org>"], "\(step)", file: file, line: line)
        XCTAssertEqual(try localFiles("Sent").filter { !$0.contains(",U=") }, [], "\(step)", file: file, line: line)
        try await syncClean(imap, file: file, line: line)
        try assertInSync(dovecot, file: file, line: line)
    }

    func testCrashAtEachUploadStep_withUIDPLUS_rerunLeavesEveryMessageOnce() async throws {
        for step in [UploadStep.intentRecorded, .appended, .adopted] {
            try await crashThenRerun(at: step, capability: nil)
        }
    }

    func testCrashAtEachUploadStep_withoutUIDPLUS_rerunLeavesEveryMessageOnce() async throws {
        for step in [UploadStep.intentRecorded, .appended, .adopted] {
            try await crashThenRerun(at: step, capability: "IMAP4rev1 LITERAL+")
        }
    }
    // MARK: Local deletions

    /// Deletes `count` of the folder's message files here (as a mail client would); their UIDs.
    @discardableResult
    func deleteLocally(_ folder: String, count: Int? = nil) throws -> [UInt32] {
        var uids: [UInt32] = []
        let files = try localFiles(folder)
        for file in files.prefix(count ?? files.count) {
            try FileManager.default.removeItem(atPath: directory(folder) + "/" + file)
            if let uid = Self.uid(inFileName: file) { uids.append(uid) }
        }
        return uids
    }

    /// The UID a message file's name carries (`,U=`), if it is one of syncd's.
    static func uid(inFileName file: String) -> UInt32? {
        file.range(of: ",U=").flatMap { UInt32(file[$0.upperBound...].prefix { $0.isNumber }) }
    }

    /// The first `count` messages syncd mapped into `folder`'s cur/: each file's name and UID.
    func mappedMessages(_ folder: String, count: Int) throws -> [(file: String, uid: UInt32)] {
        try localFiles(folder).filter { $0.hasPrefix("cur/") }.compactMap { file in Self.uid(inFileName: file).map { (file, $0) } }
            .prefix(count).map { $0 }
    }

    /// The flag letters of a message file in cur/ (after `:2,`).
    static func flagLetters(_ file: String) -> String {
        String(file.split(separator: ":").last!.dropFirst(2))
    }

    /// Changes a message's flags as a mail client does: renames its file in cur/ to carry `letters`.
    func setLocalFlags(_ folder: String, _ file: String, to letters: String) throws {
        try FileManager.default.moveItem(atPath: directory(folder) + "/" + file,
                                         toPath: directory(folder) + "/" + String(file.dropLast(Self.flagLetters(file).count)) + String(letters.sorted()))
    }

    /// Deletes messages in the server's INBOX as another client does: `\Deleted`, then EXPUNGE.
    func expungeOnServer(_ dovecot: Dovecot, _ uids: [UInt32]) async throws {
        try await IMAPScript.run(port: dovecot.plainPort, [
            "a LOGIN alice secret", "b SELECT INBOX",
            "c UID STORE \(uids.map(String.init).joined(separator: ",")) +FLAGS (\\Deleted)", "d EXPUNGE", "e LOGOUT",
        ])
    }

    /// Server message files of `folder` carrying `\Deleted` (Maildir letter T).
    func serverTrashed(_ dovecot: Dovecot, _ folder: String) throws -> Int {
        let root = dovecot.mailbox + (folder == "INBOX" ? "" : "/." + folder)
        return try ["cur", "new"].reduce(0) { total, sub in
            total + (try FileManager.default.contentsOfDirectory(atPath: root + "/" + sub)
                .filter { $0.split(separator: ":").last.map { $0.hasPrefix("2,") && $0.contains("T") } ?? false }.count)
        }
    }

    func testLocalDeletions_areExpungedOnTheServer() async throws {
        let dovecot = try Dovecot(messages: 30, folders: "INBOX,Sent")
        let imap = try provider(dovecot)
        try await syncClean(imap)
        let before = try XCTUnwrap(serverContents(dovecot).folders["INBOX"]?.count)
        try deleteLocally("INBOX", count: 3)
        try await syncClean(imap)
        XCTAssertEqual(try serverContents(dovecot).folders["INBOX"]?.count, before - 3)
        try assertInSync(dovecot)
        try await syncClean(imap)
        try assertInSync(dovecot)
    }

    func testLocalDeletions_withExpungeFalse_areOnlyFlaggedDeleted() async throws {
        let dovecot = try Dovecot(messages: 30, folders: "INBOX,Sent")
        let imap = try provider(dovecot, extra: "expunge = false")
        try await syncClean(imap)
        let before = try XCTUnwrap(serverContents(dovecot).folders["INBOX"]?.count)
        try deleteLocally("INBOX", count: 3)
        try await syncClean(imap)
        XCTAssertEqual(try serverContents(dovecot).folders["INBOX"]?.count, before, "kept on the server")
        XCTAssertEqual(try serverTrashed(dovecot, "INBOX"), 3, "flagged \\Deleted")
        try await syncClean(imap)
        XCTAssertEqual(try localFiles("INBOX").count, before - 3, "not downloaded again")
        XCTAssertEqual(try serverTrashed(dovecot, "INBOX"), 3)
    }

    func testLocalDeletions_withoutUIDPLUS_areOnlyFlagged_sinceEXPUNGEWouldTakeOthersToo() async throws {
        let dovecot = try Dovecot(messages: 30, folders: "INBOX", capability: "IMAP4rev1 LITERAL+")
        let imap = try provider(dovecot)
        try await syncClean(imap)
        let before = try XCTUnwrap(serverContents(dovecot).folders["INBOX"]?.count)
        try deleteLocally("INBOX", count: 2)
        try await syncClean(imap)
        XCTAssertEqual(try serverContents(dovecot).folders["INBOX"]?.count, before)
        XCTAssertEqual(try serverTrashed(dovecot, "INBOX"), 2)
        try await syncClean(imap)
        XCTAssertEqual(try localFiles("INBOX").count, before - 2)
    }

    func testDeletedHereButFlaggedOnTheServer_isKeptAndDownloadedAgain() async throws {
        let dovecot = try Dovecot(messages: 20, folders: "INBOX")
        let imap = try provider(dovecot)
        try await syncClean(imap)
        let uids = try deleteLocally("INBOX", count: 2)
        try await IMAPScript.run(port: dovecot.plainPort, [
            "a LOGIN alice secret", "b SELECT INBOX", "c UID STORE \(uids[0]) +FLAGS (\\Flagged)", "d LOGOUT",
        ])
        let (result, errors) = try await sync(imap)
        XCTAssertEqual(result, .ok, "\(errors)")
        XCTAssertEqual(errors.count, 1, "\(errors)")
        XCTAssertTrue(errors.first?.message.contains("changed on the server since the last sync; kept") == true, "\(errors)")
        XCTAssertEqual(errors.first?.code, SyncStatus.warning.rawValue)
        let back = try localFiles("INBOX").filter { $0.contains(",U=\(uids[0]):2,") }
        XCTAssertEqual(back.count, 1, "downloaded again")
        XCTAssertTrue(back.first?.split(separator: ":").last?.contains("F") == true, "with the server's change: \(back)")
        XCTAssertFalse(try localFiles("INBOX").contains { $0.contains(",U=\(uids[1]):2,") })
        try assertInSync(dovecot)
        try await syncClean(imap)
        try assertInSync(dovecot)
    }

    func testDeletedOnTheServerButFlaggedHere_isKeptAndUploadedAgain() async throws {
        let dovecot = try Dovecot(messages: 20, folders: "INBOX")
        let imap = try provider(dovecot)
        try await syncClean(imap)
        let messages = try mappedMessages("INBOX", count: 2)
        let uids = messages.map(\.uid)
        // The first is flagged here; both are deleted on the server by another client.
        let flagged = messages[0].file
        let flags = Self.flagLetters(flagged)
        XCTAssertFalse(flags.contains("F"))
        let text = try String(contentsOfFile: directory("INBOX") + "/" + flagged, encoding: .utf8)
        let flaggedID = try XCTUnwrap(text.split(separator: "\n").first { $0.lowercased().hasPrefix("message-id:") }?
            .dropFirst("message-id:".count).trimmingCharacters(in: .whitespaces))
        try setLocalFlags("INBOX", flagged, to: flags + "F")
        try await expungeOnServer(dovecot, uids)
        let (result, errors) = try await sync(imap)
        XCTAssertEqual(result, .ok, "\(errors)")
        XCTAssertEqual(errors.map(\.message), ["INBOX: 1 message was deleted on the server but changed here since the last sync; kept, and uploaded again"])
        XCTAssertEqual(errors.first?.code, SyncStatus.warning.rawValue)
        let server = try serverContents(dovecot)
        XCTAssertEqual(server.folders["INBOX"]?.count, 19, "the changed one is back on the server, the other gone")
        XCTAssertEqual(server.folders["INBOX"]?[flaggedID]?.flags.contains("F"), true, "with the change made here")
        XCTAssertFalse(try localFiles("INBOX").contains { $0.contains(",U=\(uids[1]):") }, "the unchanged one is deleted here")
        try assertInSync(dovecot)
        try await syncClean(imap)
        try assertInSync(dovecot)
    }

    /// Not every change here wins over a delete there: `\Deleted` set here agrees with it (a server
    /// that expunges at once answers our own STORE so), and a message only read here may have been
    /// moved elsewhere by another client: a second copy would be a duplicate.
    func testDeletedOnTheServer_butOnlyReadOrTrashedHere_isDeletedHereToo() async throws {
        let dovecot = try Dovecot(messages: 20, folders: "INBOX")
        let imap = try provider(dovecot)
        try await syncClean(imap)
        let messages = try mappedMessages("INBOX", count: 2)
        for ((file, _), change) in zip(messages, ["S", "T"]) {
            let flags = Self.flagLetters(file)
            // S toggled (read or unread), T added.
            let new = change == "S" ? (flags.contains("S") ? flags.replacingOccurrences(of: "S", with: "") : flags + "S") : flags + "T"
            try setLocalFlags("INBOX", file, to: new)
        }
        try await expungeOnServer(dovecot, messages.map(\.uid))
        try await syncClean(imap)
        XCTAssertEqual(try serverContents(dovecot).folders["INBOX"]?.count, 18, "neither came back")
        XCTAssertEqual(try MailboxContents(maildirPlusPlus: local).folders["INBOX"]?.count, 18)
        try assertInSync(dovecot)
    }

    // MARK: The safety valve

    func testMassDelete_isRefusedWithAnError_untilAllowed() async throws {
        let dovecot = try Dovecot(messages: 40, folders: "INBOX")
        let imap = try provider(dovecot)
        try await syncClean(imap)
        try deleteLocally("INBOX", count: 25)
        var (result, errors) = try await sync(imap)
        XCTAssertEqual(result, .partial)
        XCTAssertEqual(errors.count, 1, "\(errors)")
        XCTAssertTrue(errors.first?.message.hasPrefix("INBOX: 25 of its 40 messages were deleted here") == true, "\(errors)")
        XCTAssertTrue(errors.first?.message.contains("--allow-mass-delete") == true, "\(errors)")
        XCTAssertEqual(try serverContents(dovecot).folders["INBOX"]?.count, 40, "nothing deleted on the server")
        XCTAssertEqual(try serverTrashed(dovecot, "INBOX"), 0, "nor flagged")
        // Again, the same: the refusal holds until the user confirms.
        (result, errors) = try await sync(imap)
        XCTAssertEqual(result, .partial)
        XCTAssertEqual(try serverContents(dovecot).folders["INBOX"]?.count, 40)

        try await syncClean(imap, flags: SyncFlags.full.union(.allowMassDelete))
        XCTAssertEqual(try serverContents(dovecot).folders["INBOX"]?.count, 15)
        try assertInSync(dovecot)
    }

    func testFewDeletions_belowTheMinimum_goThrough_andTheThresholdsAreConfigurable() async throws {
        let dovecot = try Dovecot(messages: 30, folders: "INBOX")
        let imap = try provider(dovecot, extra: "max_delete_share = 10\nmax_delete_min = 5")
        try await syncClean(imap)
        try deleteLocally("INBOX", count: 4)  // 13 %, but fewer than 5
        try await syncClean(imap)
        XCTAssertEqual(try serverContents(dovecot).folders["INBOX"]?.count, 26)
        try deleteLocally("INBOX", count: 5)  // 19 % and 5
        let (result, errors) = try await sync(imap)
        XCTAssertEqual(result, .partial, "\(errors)")
        XCTAssertEqual(try serverContents(dovecot).folders["INBOX"]?.count, 26)
    }

    /// The Maildir emptied three ways — every file of a folder gone, a folder's directory gone, the
    /// whole Maildir gone — never wipes the mailbox.
    func testEmptiedMaildir_neverWipesTheMailbox() async throws {
        let dovecot = try Dovecot(messages: 60, folders: "INBOX,Sent")
        let imap = try provider(dovecot)
        try await syncClean(imap)
        let server = try serverContents(dovecot)

        // Every message file of every folder gone (the map stays): refused per folder.
        for folder in ["INBOX", "Sent"] { try deleteLocally(folder) }
        let (result, errors) = try await sync(imap)
        XCTAssertEqual(result, .partial)
        XCTAssertEqual(errors.count, 2, "\(errors)")
        XCTAssertEqual(try serverContents(dovecot), server, "the server untouched")
        XCTAssertEqual(try serverTrashed(dovecot, "INBOX") + serverTrashed(dovecot, "Sent"), 0)

        // A folder's directory gone, map and all: it is new again here, and downloaded.
        try FileManager.default.removeItem(atPath: directory("Sent"))
        _ = try await sync(imap)
        XCTAssertEqual(try serverContents(dovecot), server)
        XCTAssertEqual(try MailboxContents(maildirPlusPlus: local).folders["Sent"], server.folders["Sent"])

        // The whole Maildir gone (an unmounted disk).
        try FileManager.default.removeItem(atPath: local)
        try await syncClean(imap)
        XCTAssertEqual(try serverContents(dovecot), server)
        try assertInSync(dovecot)
    }

    func testCrashAtEachDeletionStep_rerunLeavesEachSideConsistent() async throws {
        for step in [UploadStep.deletionFlagged, .deletionExpunged] {
            try? FileManager.default.removeItem(atPath: local)
            let dovecot = try Dovecot(messages: 20, folders: "INBOX")
            var imap = try provider(dovecot)
            try await syncClean(imap)
            try deleteLocally("INBOX", count: 3)
            imap.uploadCrashHook = { if $0 == step { throw Crash() } }
            do {
                _ = try await sync(imap)
                XCTFail("\(step) was never reached")
            } catch is Crash {}
            imap.uploadCrashHook = nil
            try await syncClean(imap)
            XCTAssertEqual(try serverContents(dovecot).folders["INBOX"]?.count, 17, "\(step)")
            try assertInSync(dovecot)
            try await syncClean(imap)
            try assertInSync(dovecot)
        }
    }
    // MARK: Real kill -9

    /// Does nothing in a normal test run; in a child started by
    /// ``testKill9AtEachUploadStep_rerunLeavesEveryMessageOnceOnEachSide``, syncs and SIGKILLs
    /// itself at the step its environment names.
    func testUploadChildEntry() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard let step = environment["UPLOAD_TEST_CHILD_STEP"].flatMap(UploadStep.init(rawValue:)),
            let port = environment["UPLOAD_TEST_CHILD_PORT"].flatMap(Int.init), let maildir = environment["UPLOAD_TEST_CHILD_MAILDIR"]
        else { return }
        local = maildir
        var imap = try provider(port: port)
        imap.uploadCrashHook = { if $0 == step { kill(getpid(), SIGKILL) } }
        _ = try await sync(imap)
        exit(3)  // the step was never reached
    }

    func testKill9AtEachUploadStep_rerunLeavesEveryMessageOnceOnEachSide() async throws {
        for step in UploadStep.appendAndDeletionSteps {
            try? FileManager.default.removeItem(atPath: local)
            let dovecot = try Dovecot(messages: 20, folders: "INBOX,Sent")
            let imap = try provider(dovecot)
            try await syncClean(imap)
            let inbox = try XCTUnwrap(serverContents(dovecot).folders["INBOX"]?.count)
            let sent = try XCTUnwrap(serverContents(dovecot).folders["Sent"]?.count)
            try deleteLocally("INBOX", count: 2)
            try save("Sent", id: "<kill-1@example.org>", subject: "kill one")
            try save("Sent", id: nil, subject: "kill two, no Message-ID")

            let child = Process()
            child.executableURL = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            child.arguments = ["IMAPProviderTests.UploadTests/testUploadChildEntry"]
            var environment = ProcessInfo.processInfo.environment
            environment["UPLOAD_TEST_CHILD_STEP"] = step.rawValue
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
            let server = try serverContents(dovecot)
            XCTAssertEqual(server.folders["INBOX"]?.count, inbox - 2, "\(step)")
            XCTAssertEqual(server.folders["Sent"]?.count, sent + 2, "\(step)")
            try assertInSync(dovecot)
            XCTAssertEqual(try localFiles("Sent").filter { !$0.contains(",U=") }, [], "\(step)")
            try await syncClean(imap)
            try assertInSync(dovecot)
        }
    }
    /// mutt saves a draft again under the same Message-ID after deleting the old file: the new
    /// one is uploaded (the old one expunged, or without UIDPLUS left flagged \\Deleted there).
    func testDraftSavedAgain_replacesTheOldOne_withAndWithoutUIDPLUS() async throws {
        for capability in [nil, "IMAP4rev1 LITERAL+"] {
            let context = capability ?? "UIDPLUS"
            try? FileManager.default.removeItem(atPath: local)
            let dovecot = try Dovecot(messages: 6, folders: "INBOX,Drafts", capability: capability)
            let imap = try provider(dovecot)
            try await syncClean(imap)
            try save("Drafts", id: "<draft@example.org>", subject: "first words", flags: "DS")
            try await syncClean(imap)
            let uploaded = try XCTUnwrap(try localFiles("Drafts").first {
                (try? String(contentsOfFile: directory("Drafts") + "/" + $0, encoding: .utf8))?.contains("first words") == true
            })
            XCTAssertTrue(uploaded.contains(",U="), context)
            try FileManager.default.removeItem(atPath: directory("Drafts") + "/" + uploaded)
            try save("Drafts", id: "<draft@example.org>", subject: "second thoughts", flags: "DS")
            try await syncClean(imap)
            XCTAssertEqual(try localFiles("Drafts").filter { !$0.contains(",U=") }, [], context)
            XCTAssertEqual(try serverFiles(dovecot, "Drafts", containing: "second thoughts").count, 1, context)
            let old = try serverFiles(dovecot, "Drafts", containing: "first words")
            XCTAssertEqual(old.count, capability == nil ? 0 : 1, "\(context): \(old)")
            XCTAssertTrue(old.allSatisfy { $0.split(separator: ":").last!.contains("T") }, "\(context): \(old)")
        }
    }

    /// The server's message files of `folder` whose text contains `text`.
    func serverFiles(_ dovecot: Dovecot, _ folder: String, containing text: String) throws -> [String] {
        let root = dovecot.mailbox + "/." + folder
        return try ["cur", "new"].flatMap { sub in
            try FileManager.default.contentsOfDirectory(atPath: root + "/" + sub).filter {
                (try? String(contentsOfFile: root + "/" + sub + "/" + $0, encoding: .utf8))?.contains(text) == true
            }
        }
    }
}

/// The file side of an upload: size on the wire, Message-ID, CRLF streaming in chunks.
final class UploadFileTests: XCTestCase {
    func file(_ bytes: [UInt8]) throws -> String {
        let path = "/tmp/upload-file-\(UInt32.random(in: 0...UInt32.max))"
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { throw DovecotError("cannot create \(path)") }
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func streamed(_ upload: UploadFile) async throws -> (bytes: [UInt8], chunks: Int) {
        var out: [UInt8] = []
        var chunks = 0
        try await upload.stream(from: try upload.openForReading()) { buffer in
            out += buffer.readableBytesView
            chunks += 1
        }
        return (out, chunks)
    }

    func testLineEnds_becomeCRLF_acrossChunkBoundaries_andTheSizeIsKnownFirst() async throws {
        // LF right after a chunk boundary, CRLF split by one, a lone CR kept, no final newline.
        var bytes = Array("Message-ID:\n <folded@example.org>\nSubject: x\r\n\r\n".utf8)
        bytes += [UInt8](repeating: UInt8(ascii: "a"), count: UploadFile.chunkSize - bytes.count) + [10]
        bytes += [UInt8](repeating: UInt8(ascii: "b"), count: UploadFile.chunkSize - 2) + [13] + [10, 13, 0x41, 10, 0x42]
        let upload = try UploadFile(path: try file(bytes))
        var expected: [UInt8] = []
        for (index, byte) in bytes.enumerated() {
            if byte == 10, index == 0 || bytes[index - 1] != 13 { expected.append(13) }
            expected.append(byte)
        }
        XCTAssertEqual(upload.wireSize, expected.count)
        XCTAssertEqual(upload.messageID, "<folded@example.org>", "a folded header line is joined")
        let (out, chunks) = try await streamed(upload)
        XCTAssertEqual(out, expected)
        XCTAssertEqual(chunks, 3, "64 KiB at a time")
    }

    func testMessageID_onlyInTheHeader_andAFileThatChangesIsRefused() async throws {
        let none = try UploadFile(path: try file(Array("Subject: x\n\nMessage-ID: <in-body@x>\n".utf8)))
        XCTAssertNil(none.messageID)
        XCTAssertEqual(try UploadFile(path: try file(Array("message-id:   <a@b>  \nX: y\n\n".utf8))).messageID, "<a@b>")
        let path = try file(Array("Subject: x\n\nbody\n".utf8))
        let upload = try UploadFile(path: path)
        try Data("Subject: x\n\nbody grew\n".utf8).write(to: URL(fileURLWithPath: path))
        do {
            _ = try await streamed(upload)
            XCTFail("a changed file cannot complete its literal")
        } catch let error as UploadFileError {
            XCTAssertTrue(error.reason.contains("changed while it was being uploaded"), "\(error)")
        }
        XCTAssertThrowsError(try UploadFile(path: path + "-missing")) { XCTAssertTrue(($0 as? UploadFileError)?.isMissing == true) }
    }
}
