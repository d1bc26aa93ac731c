import Foundation
import IMAPProvider
import SMTPProvider
@testable import SyncDaemon
import TestSupport
import XCTest

/// syncd.toml(5) documents every key the daemon accepts, and renders without warnings.
final class ManualPageTests: XCTestCase {
    static let page = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../docs/man/syncd.toml.5").standardized.path

    /// The keys the page documents: its `.It Cm KEY` lines.
    static func documentedKeys() throws -> Set<String> {
        let text = try String(contentsOfFile: page, encoding: .utf8)
        return Set(text.split(separator: "\n").compactMap { line in
            line.hasPrefix(".It Cm ") ? line.dropFirst(7).split(separator: " ").first.map(String.init) : nil
        })
    }

    func testEveryAcceptedKey_isInSyncdToml5() throws {
        let documented = try Self.documentedKeys()
        var accepted = DaemonSettings.keys + StoreConfig.keys
        for factory in Daemon.factories + [IMAPFactory(), SMTPFactory()] { accepted += factory.optionKeys }
        accepted += SMTPSettings.keys
        let missing = Set(accepted).subtracting(documented)
        XCTAssertEqual(missing, [], "keys syncd accepts that syncd.toml(5) does not document")
        let unknown = documented.subtracting(accepted)
        XCTAssertEqual(unknown, [], "keys syncd.toml(5) documents that syncd does not accept")
    }

    func testManualPages_renderWithoutWarnings() throws {
        // The page itself to /dev/null; what man and troff say about it (stderr) is the output.
        let result = runTool("/bin/sh", ["-c", "man --warnings -l -Tutf8 \"$1\" 2>&1 >/dev/null", "sh", Self.page])
        XCTAssertEqual(result.status, 0, result.stdout)
        XCTAssertEqual(result.stdout, "", "warnings rendering \(Self.page)")
    }
}
