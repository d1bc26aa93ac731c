import Foundation
import TestSupport
import XCTest

/// The commands' pages (scripts/generate-man writes them from the argument parsers) are current:
/// every subcommand and every option the built command's parser knows appears in its page, so a
/// new option or subcommand without a regenerated page fails here.
final class CommandManualPageTests: XCTestCase {
    /// NAME and SECTION of every generated page (scripts/generate-man's list).
    static let commands = [("syncd", 8), ("syncctl", 1), ("syncd-http", 8), ("syncd-desktop", 1)]

    func testEveryOptionAndSubcommand_isInTheCommandsPage() throws {
        for (name, section) in Self.commands {
            let path = ManualPageTests.directory + "/\(name).\(section)"
            let page = try String(contentsOfFile: path, encoding: .utf8)
            let dump = runTool(try builtProduct(name), ["--experimental-dump-help"])
            XCTAssertEqual(dump.status, 0, "\(name) --experimental-dump-help")
            let tool = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any])
            let command = try XCTUnwrap(tool["command"] as? [String: Any])
            let expected = Self.entries(of: command, isRoot: true)
            XCTAssertTrue(expected.contains(".It Fl -help"), "\(name): its dump as read: \(expected)")
            // An item line as words: ".It Fl h , -help" is ".It Fl h" and ".It Fl -help".
            var items = Set<String>()
            for line in page.split(separator: "\n") where line.hasPrefix(".It ") {
                let words = line.split(separator: " ")
                guard words.count >= 3 else { continue }
                for word in words.dropFirst(2) where word != "," { items.insert(".It \(words[1]) \(word)") }
            }
            let absent = expected.filter { !items.contains($0) }
            XCTAssertEqual(absent, [], "\(path) lacks these; run scripts/generate-man")
        }
    }

    /// The items generate-manual writes for a command: `.It Em SUBCOMMAND` for each subcommand,
    /// `.It Fl -NAME` (or `.It Fl N`) for each name of each option and flag shown in --help.
    static func entries(of command: [String: Any], isRoot: Bool) -> [String] {
        var entries: [String] = []
        if !isRoot, let name = command["commandName"] as? String { entries.append(".It Em \(name)") }
        for argument in command["arguments"] as? [[String: Any]] ?? [] {
            guard argument["shouldDisplay"] as? Bool ?? true, argument["kind"] as? String != "positional" else { continue }
            for name in argument["names"] as? [[String: Any]] ?? [] {
                guard let text = name["name"] as? String else { continue }
                entries.append(name["kind"] as? String == "long" ? ".It Fl -\(text)" : ".It Fl \(text)")
            }
        }
        for subcommand in command["subcommands"] as? [[String: Any]] ?? [] {
            // The implicit help subcommand, which scripts/generate-man drops from single commands.
            guard subcommand["commandName"] as? String != "help" else { continue }
            entries += Self.entries(of: subcommand, isRoot: false)
        }
        return entries
    }
}
