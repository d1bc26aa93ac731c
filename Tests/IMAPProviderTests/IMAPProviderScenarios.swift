#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MailServers
import SyncProtocol
import XCTest

/// Starts a test server with `messages` generated messages in `folders` (comma-separated, generic
/// names: "INBOX,Sent,Archiv/2024,Entwürfe").
typealias MakeIMAPServer = (_ messages: Int, _ folders: String) throws -> any IMAPTestServer

/// The end-to-end tests both real servers run (``IMAPProviderTests`` against Dovecot,
/// ``CyrusIMAPProviderTests`` against Cyrus): each body starts its server with `make`, syncs and
/// checks the Maildir message by message against what the server has.
extension IMAPProviderTestCase {
    func firstSyncMatchesTheServer(_ make: MakeIMAPServer, file: StaticString = #filePath, line: UInt = #line) async throws {
        let mail = try make(240, "INBOX,Sent,Archiv/2024,Entwürfe")
        let imap = try provider(mail)
        let (result, errors) = try await sync(imap)
        XCTAssertEqual(result, .ok, "\(errors)", file: file, line: line)
        try assertInSync(mail, file: file, line: line)
        XCTAssertEqual(try localContents().count, 240, file: file, line: line)
        XCTAssertNotNil(try localContents().folders[mail.localName("Entwürfe")], "non-ASCII folder names arrive decoded", file: file, line: line)
        XCTAssertNotNil(try localContents().folders[mail.localName("Archiv/2024")], "nested folders", file: file, line: line)

        let (again, _) = try await sync(imap)
        XCTAssertEqual(again, .ok, file: file, line: line)
        try assertInSync(mail, file: file, line: line)
    }

    /// New mail, server flag changes and expunges; then a flag change alone (same message count
    /// and UIDNEXT, so only the mod-sequence or a flag fetch shows it); then one message changed on
    /// both sides, which must end with both changes.
    func incrementalSyncs(_ make: MakeIMAPServer, file: StaticString = #filePath, line: UInt = #line) async throws {
        let mail = try make(100, "INBOX,Sent")
        let imap = try provider(mail)
        try await IMAPScript.run(port: mail.plainPort, [
            "a LOGIN alice secret", "b SELECT INBOX", "c UID STORE 10 -FLAGS (\\Seen \\Flagged)", "d LOGOUT",
        ])
        _ = try await sync(imap)

        try mail.generate(messages: 20, folders: "INBOX,Sent", seed: 99)
        try await IMAPScript.run(port: mail.plainPort, [
            "a LOGIN alice secret", "b SELECT INBOX", "c UID STORE 1:5 +FLAGS (\\Flagged \\Seen)",
            "d UID STORE 6 -FLAGS (\\Seen)", "e UID STORE 7:8 +FLAGS (\\Deleted)", "f EXPUNGE", "g LOGOUT",
        ])
        var (result, errors) = try await sync(imap)
        XCTAssertEqual(result, .ok, "\(errors)", file: file, line: line)
        try assertInSync(mail, file: file, line: line)

        try await IMAPScript.run(port: mail.plainPort, [
            "a LOGIN alice secret", "b SELECT \(mail.mailboxName("Sent"))", "c UID STORE 3 +FLAGS (\\Answered)", "d LOGOUT",
        ])
        (result, errors) = try await sync(imap)
        XCTAssertEqual(result, .ok, "\(errors)", file: file, line: line)
        try assertInSync(mail, file: file, line: line)

        // UID 10 of INBOX: read here, flagged on the server before the next sync.
        let cur = local + "/cur"
        let name = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: cur).first { $0.contains(",U=10:2,") })
        XCTAssertFalse(name.hasSuffix("S"), name, file: file, line: line)
        try FileManager.default.moveItem(atPath: "\(cur)/\(name)", toPath: "\(cur)/\(name)S")
        try await IMAPScript.run(port: mail.plainPort, [
            "a LOGIN alice secret", "b SELECT INBOX", "c UID STORE 10 +FLAGS (\\Flagged)", "d LOGOUT",
        ])
        (result, errors) = try await sync(imap)
        XCTAssertEqual(result, .ok, "\(errors)", file: file, line: line)
        let merged = try FileManager.default.contentsOfDirectory(atPath: cur).filter { $0.contains(",U=10:2,") }
        XCTAssertEqual(merged.map { $0.split(separator: ",").last! }, ["FS"], "both changes kept", file: file, line: line)
        try assertInSync(mail, file: file, line: line)
    }

    func headersOnlyThenBodies(_ make: MakeIMAPServer, file: StaticString = #filePath, line: UInt = #line) async throws {
        let mail = try make(60, "INBOX,Sent")
        let imap = try provider(mail, extra: "headers_only = true")
        var (result, errors) = try await sync(imap, trigger: .schedule)
        XCTAssertEqual(result, .ok, "\(errors)", file: file, line: line)
        let server = try headers(under: mail.snapshot())
        let local = try headers(under: local)
        XCTAssertEqual(local.count, 60, file: file, line: line)
        XCTAssertEqual(local, server, "each message's header", file: file, line: line)
        let files = try FileManager.default.subpathsOfDirectory(atPath: self.local).filter { $0.contains(",U=") && !$0.hasPrefix("tmp") && !$0.contains("/tmp/") }
        XCTAssertEqual(files.count, 60, file: file, line: line)
        for name in files {
            XCTAssertTrue(name.contains(",H=1:2,"), name, file: file, line: line)
            let text = try String(contentsOfFile: self.local + "/" + name, encoding: .utf8)
            XCTAssertTrue(text.hasSuffix("\n\n") && text.components(separatedBy: "\n\n").count == 2, "nothing after the header: \(name)", file: file, line: line)
        }

        // Meanwhile on the server: a flag changes and a message arrives.
        try mail.generate(messages: 4, folders: "INBOX,Sent", seed: 7)
        try await IMAPScript.run(port: mail.plainPort, [
            "a LOGIN alice secret", "b SELECT INBOX", "c UID STORE 2 +FLAGS (\\Flagged)", "d LOGOUT",
        ])
        (result, errors) = try await sync(imap, trigger: .onDemand)
        XCTAssertEqual(result, .ok, "\(errors)", file: file, line: line)
        try assertInSync(mail, file: file, line: line)
        let left = try FileManager.default.subpathsOfDirectory(atPath: self.local).filter { $0.contains(",H=1") }
        XCTAssertEqual(left, [], "every header file was replaced by its whole message", file: file, line: line)
    }

    func localFlagChangesAreUploaded(_ make: MakeIMAPServer, file: StaticString = #filePath, line: UInt = #line) async throws {
        let mail = try make(20, "INBOX")
        let imap = try provider(mail)
        _ = try await sync(imap)
        // The user reads everything in their mail client: ":2," gains "S".
        let cur = local + "/cur"
        for name in try FileManager.default.contentsOfDirectory(atPath: cur) where !name.hasSuffix("S") {
            let parts = name.split(separator: ":", maxSplits: 1)
            let flags = String((parts[1].dropFirst(2) + "S").sorted())
            try FileManager.default.moveItem(atPath: "\(cur)/\(name)", toPath: "\(cur)/\(parts[0]):2,\(flags)")
        }
        let (result, errors) = try await sync(imap)
        XCTAssertEqual(result, .ok, "\(errors)", file: file, line: line)
        let server = try serverContents(mail)
        XCTAssertTrue(server.folders["INBOX"]!.values.allSatisfy { $0.flags.contains("S") }, "\(server.folders["INBOX"]!.values.map(\.flags))", file: file, line: line)
        try assertInSync(mail, file: file, line: line)
    }

    func wrongPasswordIsOneAuthFailedError(_ make: MakeIMAPServer, file: StaticString = #filePath, line: UInt = #line) async throws {
        let mail = try make(5, "INBOX,Sent,Archiv/2024,Entwürfe")
        let (result, errors) = try await sync(try provider(mail, password: "wrong"))
        XCTAssertEqual(result, .authFailed, file: file, line: line)
        XCTAssertEqual(errors.count, 1, file: file, line: line)
        XCTAssertEqual(errors.first?.code, SyncStatus.authFailed.rawValue, file: file, line: line)
        XCTAssertTrue(errors.first?.message.contains("login failed") ?? false, "\(errors)", file: file, line: line)
    }

    func connectionCutMidFetchThenRerun(_ make: MakeIMAPServer, file: StaticString = #filePath, line: UInt = #line) async throws {
        let mail = try make(600, "INBOX")
        let imap = try provider(mail, extra: "fetch_batch = 20")
        let cut = mail.connectionCutter
        let cutter = Task {
            try await Task.sleep(for: .milliseconds(150))
            cut()
        }
        let (first, _) = try await sync(imap)
        _ = try await cutter.value
        XCTAssertTrue([.network, .ok].contains(first), "\(first)", file: file, line: line)
        let (second, errors) = try await sync(imap)
        XCTAssertEqual(second, .ok, "\(errors)", file: file, line: line)
        try assertInSync(mail, file: file, line: line)
    }

    func uidValidityChangeResyncs(_ make: MakeIMAPServer, file: StaticString = #filePath, line: UInt = #line) async throws {
        let mail = try make(30, "INBOX")
        let imap = try provider(mail)
        _ = try await sync(imap)
        // UIDVALIDITY is a time in seconds on both servers: wait so the new one differs.
        try await Task.sleep(for: .milliseconds(1100))
        try mail.renumber()
        let (result, errors) = try await sync(imap)
        XCTAssertEqual(result, .ok, "\(errors)", file: file, line: line)
        XCTAssertTrue(errors.contains { $0.message.contains("UIDVALIDITY changed") }, "\(errors)", file: file, line: line)
        try assertInSync(mail, file: file, line: line)
    }

    func folderDeletedOnServerGoesLocallyToo(_ make: MakeIMAPServer, file: StaticString = #filePath, line: UInt = #line) async throws {
        let mail = try make(60, "INBOX,Sent,Old")
        let imap = try provider(mail)
        _ = try await sync(imap)
        XCTAssertNotNil(try localContents().folders[mail.localName("Old")], file: file, line: line)
        try mail.deleteFolder("Old")
        // Sent becomes unreadable: its SELECT fails, the rest goes on.
        let refused = try mail.denyRead("Sent")
        try mail.generate(messages: 10, folders: "INBOX", seed: 7)
        let (result, errors) = try await sync(imap)
        try mail.allowRead("Sent")
        XCTAssertNil(try localContents().folders[mail.localName("Old")], "deleted on the server, deleted here", file: file, line: line)
        XCTAssertEqual(try localContents().folders["INBOX"]?.count, try serverContents(mail).folders["INBOX"]?.count, file: file, line: line)
        if refused {
            XCTAssertEqual(result, .partial, "\(errors)", file: file, line: line)
        }
        if result == .partial {
            XCTAssertTrue(errors.contains { $0.message.hasPrefix(mail.localName("Sent") + ":") }, "\(errors)", file: file, line: line)
            XCTAssertNotNil(try localContents().folders[mail.localName("Sent")], "a folder that cannot be read is kept", file: file, line: line)
        } else {
            XCTAssertEqual(result, .ok, "root ignores the permission bits; nothing failed: \(errors)", file: file, line: line)
        }
    }

    func nestedLayoutWithExcludedFolders(_ make: MakeIMAPServer, file: StaticString = #filePath, line: UInt = #line) async throws {
        let mail = try make(80, "INBOX,Sent,Archiv/2024,Entwürfe")
        let imap = try provider(mail, extra: """
            layout = "nested"
            exclude = ["\(mail.localName("Archiv"))*"]
            """)
        let (result, errors) = try await sync(imap)
        XCTAssertEqual(result, .ok, "\(errors)", file: file, line: line)
        let server = try serverContents(mail)
        func messages(_ directory: String) throws -> Int {
            try ["cur", "new"].reduce(0) { $0 + (try FileManager.default.contentsOfDirectory(atPath: "\(local!)/\(directory)/\($1)").count) }
        }
        XCTAssertEqual(try messages("INBOX"), server.folders["INBOX"]?.count, file: file, line: line)
        XCTAssertEqual(try messages(mail.localName("Sent")), server.folders[mail.localName("Sent")]?.count, file: file, line: line)
        XCTAssertEqual(
            try messages(mail.localName("Entwürfe")), server.folders[mail.localName("Entwürfe")]?.count, "non-ASCII names as directory names",
            file: file, line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: local + "/" + mail.localName("Archiv")), "excluded folders are not synced", file: file, line: line)
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: local + "/." + mail.localName("Sent").replacingOccurrences(of: "/", with: ".")),
            "no Maildir++ directories", file: file, line: line)
    }
}
