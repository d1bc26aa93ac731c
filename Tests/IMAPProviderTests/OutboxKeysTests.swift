import IMAPProvider
import Maildir
import SyncDaemon
import XCTest

/// The sending keys of an imap store: outbox, sent_folder, failed_folder, save_sent.
final class OutboxKeysTests: XCTestCase {
    private func account(_ extra: String, layout: String = "maildir++") throws -> IMAPAccount {
        let text = "[store.mail]\nprovider = \"imap\"\nhost = \"imap.example.org\"\nuser = \"me@example.org\"\n"
            + "password = { file = \"/dev/null\" }\nmaildir = \"/home/me/Mail\"\nlayout = \"\(layout)\"\n" + extra
        let config = try DaemonConfig.parse(text, file: "test.toml", factories: [IMAPFactory()])
        return try XCTUnwrap(config.stores["mail"]?.provider as? IMAPProvider).account
    }

    func testDefaults_andThePathsInEachLayout() throws {
        let plusPlus = try account("")
        XCTAssertEqual(plusPlus.outbox, try FolderName(["Outbox"]))
        XCTAssertEqual(plusPlus.sentFolder, try FolderName(["Sent"]))
        XCTAssertEqual(plusPlus.failedFolder, try FolderName(["Failed"]))
        XCTAssertTrue(plusPlus.saveSent)
        XCTAssertEqual([plusPlus.outboxPath, plusPlus.sentPath, plusPlus.failedPath],
                       ["/home/me/Mail/.Outbox", "/home/me/Mail/.Sent", "/home/me/Mail/.Failed"])
        let nested = try account("outbox = \"Queue/Out\"\nsent_folder = \"INBOX/Sent\"\nsave_sent = false\n", layout: "nested")
        XCTAssertEqual(nested.outboxPath, "/home/me/Mail/Queue/Out")
        XCTAssertEqual(nested.sentPath, "/home/me/Mail/INBOX/Sent")
        XCTAssertFalse(nested.saveSent)
    }

    func testTheOutbox_mustBeAFolderOfItsOwn() throws {
        for value in ["INBOX", "Sent", "Failed"] {
            XCTAssertThrowsError(try account("outbox = \"\(value)\"\n")) { error in
                XCTAssertTrue("\(error)".contains("outbox"), "\(error)")
            }
        }
        XCTAssertThrowsError(try account("failed_folder = \"a//b\"\n")) { error in
            XCTAssertTrue("\(error)".contains("failed_folder"), "\(error)")
        }
    }
}
