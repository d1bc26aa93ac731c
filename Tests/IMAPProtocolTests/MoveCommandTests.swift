import NIOCore
import XCTest
@testable import IMAPProtocol

final class MoveCommandTests: XCTestCase {
    private func text(_ command: Command) throws -> String {
        String(buffer: try CommandEncoder().encode(command, tag: "A0001").bytes)
    }

    func testMoveCopyAndDelete() throws {
        XCTAssertEqual(try text(.uidMove(try UIDSet(parsing: "3:5,9"), MailboxName("Entwürfe"))), "A0001 UID MOVE 3:5,9 \"Entw&APw-rfe\"\r\n")
        XCTAssertEqual(try text(.uidCopy(try UIDSet(parsing: "7"), MailboxName("INBOX.Sent Items"))), "A0001 UID COPY 7 \"INBOX.Sent Items\"\r\n")
        XCTAssertEqual(try text(.delete(MailboxName("Leer"))), "A0001 DELETE \"Leer\"\r\n")
    }
}
