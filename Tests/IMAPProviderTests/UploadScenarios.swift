import Foundation
import IMAPProtocol
import MailServers
import SyncProtocol
import XCTest

/// The upload direction end to end, against both real servers (``IMAPProviderTests`` with
/// Dovecot, ``CyrusIMAPProviderTests`` with Cyrus): a new message in Sent appended, messages moved
/// between folders moved there, deletions expunged, a folder with a non-ASCII name created with
/// its message, an empty folder removed here deleted there.
extension IMAPProviderTestCase {
    /// The Maildir++ directory of the local folder `name` (syncd's name, "/" between levels).
    func localDirectory(_ name: String) -> String {
        name == "INBOX" ? local : local + "/." + name.replacingOccurrences(of: "/", with: ".")
    }

    func localMessageFiles(_ name: String) throws -> [String] {
        try ["cur", "new"].flatMap { sub in
            try FileManager.default.contentsOfDirectory(atPath: localDirectory(name) + "/" + sub).map { sub + "/" + $0 }
        }.sorted()
    }

    func saveLocally(_ name: String, id: String, subject: String) throws {
        let unique = "\(1_780_000_000 + Int.random(in: 0..<1_000_000)).M\(Int.random(in: 0..<999_999))P1.mutt"
        let text = "From: Alice <alice@example.org>\nTo: Bob <bob@example.org>\nSubject: \(subject)\nMessage-ID: \(id)\n"
            + "Date: Thu, 28 May 2026 10:00:00 +0200\n\nHello Bob,\n\n\(subject).\n"
        try text.write(toFile: localDirectory(name) + "/tmp/" + unique, atomically: false, encoding: .utf8)
        try FileManager.default.moveItem(atPath: localDirectory(name) + "/tmp/" + unique, toPath: localDirectory(name) + "/cur/" + unique + ":2,S")
    }

    func makeLocalMaildir(_ name: String) throws {
        for sub in ["cur", "new", "tmp"] {
            try FileManager.default.createDirectory(atPath: localDirectory(name) + "/" + sub, withIntermediateDirectories: true)
        }
    }

    func uploadsReachTheServer(_ make: MakeIMAPServer, file: StaticString = #filePath, line: UInt = #line) async throws {
        let mail = try make(40, "INBOX,Sent")
        let imap = try provider(mail)
        var (result, errors) = try await sync(imap)
        XCTAssertEqual(result, .ok, "\(mail.label): \(errors)", file: file, line: line)
        let before = try serverContents(mail)
        let inbox = try XCTUnwrap(before.folders["INBOX"]?.count, file: file, line: line)
        let sentName = mail.localName("Sent"), draftsName = mail.localName("Entwürfe"), emptyName = mail.localName("Leer")
        let sent = before.folders[sentName]?.count ?? 0

        // APPEND: a message saved into Sent.
        try saveLocally(sentName, id: "<sent-1@example.org>", subject: "the report")
        // MOVE: three from INBOX to Sent, as a mail client moves them (the same file name).
        let files = try localMessageFiles("INBOX")
        for name in files.prefix(3) {
            try FileManager.default.moveItem(atPath: localDirectory("INBOX") + "/" + name, toPath: localDirectory(sentName) + "/" + name)
        }
        // Expunge: two deleted here.
        for name in files.dropFirst(3).prefix(2) { try FileManager.default.removeItem(atPath: localDirectory("INBOX") + "/" + name) }
        // CREATE: a folder with a non-ASCII name, with a message; and an empty one.
        try makeLocalMaildir(draftsName)
        try saveLocally(draftsName, id: "<draft-1@example.org>", subject: "ein Entwurf")
        try makeLocalMaildir(emptyName)

        (result, errors) = try await sync(imap)
        XCTAssertEqual(result, .ok, "\(mail.label): \(errors)", file: file, line: line)
        XCTAssertEqual(errors.map(\.message), [], "\(mail.label)", file: file, line: line)
        var after = try serverContents(mail)
        XCTAssertEqual(after.folders["INBOX"]?.count, inbox - 5, "\(mail.label): moved and expunged", file: file, line: line)
        XCTAssertEqual(after.folders[sentName]?.count, sent + 4, "\(mail.label): appended and moved", file: file, line: line)
        XCTAssertNotNil(after.folders[sentName]?["<sent-1@example.org>"], "\(mail.label)", file: file, line: line)
        XCTAssertEqual(after.folders[draftsName]?.keys.sorted(), ["<draft-1@example.org>"], "\(mail.label): created", file: file, line: line)
        XCTAssertEqual(try localMessageFiles(sentName).filter { !$0.contains(",U=") }, [], "\(mail.label): adopted", file: file, line: line)
        try assertInSync(mail, file: file, line: line)
        XCTAssertEqual(try localMessageFiles(sentName).count, sent + 4, "\(mail.label): nothing downloaded again", file: file, line: line)

        // DELETE: the empty folder removed here.
        try FileManager.default.removeItem(atPath: localDirectory(emptyName))
        (result, errors) = try await sync(imap)
        XCTAssertEqual(result, .ok, "\(mail.label): \(errors)", file: file, line: line)
        (result, errors) = try await sync(imap)
        XCTAssertEqual(result, .ok, "\(mail.label): \(errors)", file: file, line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: localDirectory(emptyName)), "\(mail.label): deleted there, not brought back", file: file, line: line)
        after = try serverContents(mail)
        try assertInSync(mail, file: file, line: line)
    }
}

extension IMAPProviderTestCase {
    /// Moves a mail client makes under names of its own, flagged on the way, into a folder the
    /// server has and into one made here in the same run (CREATE, then the move): each message
    /// once on each side, with the flag, none downloaded back. (That they are server moves, not
    /// uploads, MoveTests checks on Dovecot's files.)
    func movesNamedAnewReachTheServer(_ make: MakeIMAPServer, file: StaticString = #filePath, line: UInt = #line) async throws {
        let mail = try make(20, "INBOX,Sent")
        let imap = try provider(mail)
        var (result, errors) = try await sync(imap)
        XCTAssertEqual(result, .ok, "\(mail.label): \(errors)", file: file, line: line)
        let before = try serverContents(mail)
        let inbox = try XCTUnwrap(before.folders["INBOX"]?.count, file: file, line: line)
        let sentName = mail.localName("Sent"), madeName = mail.localName("Projekte")
        let sent = before.folders[sentName]?.count ?? 0
        try makeLocalMaildir(madeName)
        for (index, name) in try localMessageFiles("INBOX").prefix(4).enumerated() {
            let had = name.contains(":2,") ? name.components(separatedBy: ":2,").last ?? "" : ""
            let target = index < 2 ? sentName : madeName
            try FileManager.default.moveItem(
                atPath: localDirectory("INBOX") + "/" + name,
                toPath: localDirectory(target) + "/cur/\(1_790_000_000 + index).M\(index)P1.client:2," + String(Set(had + "F").sorted()))
        }

        (result, errors) = try await sync(imap)
        XCTAssertEqual(result, .ok, "\(mail.label): \(errors)", file: file, line: line)
        XCTAssertEqual(errors.map(\.message), [], "\(mail.label)", file: file, line: line)
        let after = try serverContents(mail)
        XCTAssertEqual(after.folders["INBOX"]?.count, inbox - 4, "\(mail.label): moved away", file: file, line: line)
        XCTAssertEqual(after.folders[sentName]?.count, sent + 2, "\(mail.label): moved there", file: file, line: line)
        XCTAssertEqual(after.folders[madeName]?.count, 2, "\(mail.label): created, and moved into", file: file, line: line)
        XCTAssertEqual(
            after.folders[madeName]?.values.filter { $0.flags.contains("F") }.count, 2, "\(mail.label): flagged on the way",
            file: file, line: line)
        XCTAssertEqual(try localMessageFiles(madeName).filter { !$0.contains(",U=") }, [], "\(mail.label): adopted", file: file, line: line)
        try assertInSync(mail, file: file, line: line)
        (result, errors) = try await sync(imap)
        XCTAssertEqual(result, .ok, "\(mail.label): \(errors)", file: file, line: line)
        XCTAssertEqual(try localMessageFiles(madeName).count, 2, "\(mail.label): nothing downloaded again", file: file, line: line)
        try assertInSync(mail, file: file, line: line)
    }
}

extension IMAPProviderTests {
    func testMovesNamedAnewAndFlagged_intoAFolderThereAndOneMadeHere() async throws {
        try await movesNamedAnewReachTheServer(Self.dovecot())
    }

    func testUploads_append_move_expunge_folders() async throws {
        try await uploadsReachTheServer(Self.dovecot())
    }

    func testUploads_withoutMOVE() async throws {
        try await uploadsReachTheServer(Self.dovecot(capability: "IMAP4rev1 LITERAL+ UIDPLUS ESEARCH"))
    }
}

extension CyrusIMAPProviderTests {
    func testMovesNamedAnewAndFlagged_intoAFolderThereAndOneMadeHere() async throws {
        try await movesNamedAnewReachTheServer(Self.cyrus())
    }

    func testMovesNamedAnewAndFlagged_withoutMOVE() async throws {
        try await movesNamedAnewReachTheServer(Self.cyrus(suppressing: "MOVE"))
    }

    func testUploads_append_move_expunge_folders() async throws {
        try await uploadsReachTheServer(Self.cyrus())
    }

    func testUploads_append_move_expunge_folders_upstreamDefaults() async throws {
        try await uploadsReachTheServer(Self.cyrus(.upstream))
    }

    func testUploads_withoutMOVE() async throws {
        try await uploadsReachTheServer(Self.cyrus(suppressing: "MOVE"))
    }
}
