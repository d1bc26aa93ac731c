import Foundation
import IMAPProvider
import SMTPProvider
@testable import SyncDaemon
import TestSupport
import XCTest

/// syncd.toml(5) documents every key the daemon accepts, and every page in docs/man/ renders
/// without warnings.
final class ManualPageTests: XCTestCase {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../docs/man").standardized.path
    static let page = directory + "/syncd.toml.5"

    /// Every page in docs/man/ (NAME.SECTION), the generated ones and those written by hand.
    static func pages() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.range(of: #"\.[1-9]$"#, options: .regularExpression) != nil }
            .sorted().map { directory + "/" + $0 }
    }

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
        let pages = try Self.pages()
        XCTAssertTrue(pages.contains(Self.page), "docs/man/ as seen: \(pages)")
        for page in pages {
            // The page itself to /dev/null; what man and troff say about it (stderr) is the output.
            let result = runTool("/bin/sh", ["-c", "man --warnings -l -Tutf8 \"$1\" 2>&1 >/dev/null", "sh", page])
            XCTAssertEqual(result.status, 0, result.stdout)
            XCTAssertEqual(result.stdout, "", "warnings rendering \(page)")
        }
    }
}
