import Foundation
import TestSupport
import XCTest

/// syncd-sendmail(8) renders without warnings and names every option the command accepts.
final class SendmailManualPageTests: XCTestCase {
    static let page = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../docs/man/syncd-sendmail.8").standardized.path

    func testRendersWithoutWarnings() throws {
        let result = runTool("/bin/sh", ["-c", "man --warnings -l -Tutf8 \"$1\" 2>&1 >/dev/null", "sh", Self.page])
        XCTAssertEqual(result.status, 0, result.stdout)
        XCTAssertEqual(result.stdout, "", "warnings rendering \(Self.page)")
    }

    func testDocumentsEveryOption_andTheExitStatuses() throws {
        let text = try String(contentsOfFile: Self.page, encoding: .utf8)
        for option in ["Fl t", "Fl i", "Fl oi", "Fl f Ar from", "Fl F Ar name", "Fl -store", "Fl -config", "Fl -socket"] {
            XCTAssertTrue(text.contains(option), option)
        }
        for status in ["64", "73", "75", "78"] { XCTAssertTrue(text.contains(".It \(status)\n"), status) }
    }
}
