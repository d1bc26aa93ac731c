import Foundation
import IMAPProtocol
import MailServers
import SyncProtocol
import XCTest
@testable import IMAPProvider

/// Folders created here become server folders (upload-hierarchy), named in modified UTF-7.
extension UploadTests {
    func makeLocalFolder(_ folder: String) throws {
        for sub in ["cur", "new", "tmp"] {
            try FileManager.default.createDirectory(atPath: directory(folder) + "/" + sub, withIntermediateDirectories: true)
        }
    }

    func testLocalFolders_becomeServerFolders_nonASCIINamesToo_andTheirMessagesUpload() async throws {
        let dovecot = try Dovecot(messages: 20, folders: "INBOX,Sent")
        let imap = try provider(dovecot)
        try await syncClean(imap)
        try makeLocalFolder("Entwürfe")
        try makeLocalFolder("Projekte")
        try save("Entwürfe", id: "<draft-1@example.org>", subject: "ein Entwurf", flags: "DS")
        try save("Projekte", id: "<project-1@example.org>", subject: "a project")
        try save("Projekte", id: "<project-2@example.org>", subject: "another project", inNew: true)

        try await syncClean(imap)
        let server = try serverContents(dovecot)
        XCTAssertEqual(server.folders["Entwürfe"]?.keys.sorted(), ["<draft-1@example.org>"])
        XCTAssertEqual(server.folders["Entwürfe"]?["<draft-1@example.org>"]?.flags, "DS")
        XCTAssertEqual(server.folders["Projekte"]?.keys.sorted(), ["<project-1@example.org>", "<project-2@example.org>"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: dovecot.mailbox + "/.Entw&APw-rfe/cur"), "modified UTF-7 on the wire")
        XCTAssertEqual(try localFiles("Entwürfe").filter { !$0.contains(",U=") }, [])
        try assertInSync(dovecot)
        try await syncClean(imap)
        try assertInSync(dovecot)
    }

    func testLocalFolder_withoutUploadHierarchy_staysLocal() async throws {
        let dovecot = try Dovecot(messages: 10, folders: "INBOX")
        let imap = try provider(dovecot)
        try await syncClean(imap)
        try makeLocalFolder("Projekte")
        try save("Projekte", id: "<project-1@example.org>", subject: "a project")
        var flags = SyncFlags.full
        flags.remove(.uploadHierarchy)
        flags.remove(.downloadHierarchy)
        try await syncClean(imap, flags: flags)
        XCTAssertNil(try serverContents(dovecot).folders["Projekte"])
        XCTAssertEqual(try localFiles("Projekte").count, 1, "kept here")
    }

    func testLocalFolderRemoved_deletesTheServerFolderOnlyWhenEmptyThere() async throws {
        let dovecot = try Dovecot(messages: 20, folders: "INBOX,Archiv")
        let imap = try provider(dovecot)
        try await syncClean(imap)
        try makeLocalFolder("Leer")
        try await syncClean(imap)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dovecot.mailbox + "/.Leer"), "created there")
        let archive = try XCTUnwrap(serverContents(dovecot).folders["Archiv"]?.count)
        XCTAssertGreaterThan(archive, 0)

        try FileManager.default.removeItem(atPath: directory("Leer"))
        try FileManager.default.removeItem(atPath: directory("Archiv"))
        let (result, errors) = try await sync(imap)
        XCTAssertEqual(result, .partial)
        XCTAssertEqual(errors.map(\.message), ["Archiv: removed here, but it holds \(archive) messages on the server: not deleted there, downloaded again"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: dovecot.mailbox + "/.Leer"), "the empty one deleted there")
        XCTAssertEqual(try serverContents(dovecot).folders["Archiv"]?.count, archive, "the other kept")
        XCTAssertEqual(try localFiles("Archiv").count, archive, "and downloaded again")
        try assertInSync(dovecot)
        try await syncClean(imap)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory("Leer")), "not brought back")
        try assertInSync(dovecot)
    }
}
