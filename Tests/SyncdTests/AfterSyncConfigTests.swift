import XCTest
@testable import SyncDaemon

/// `after_sync` and `after_sync_timeout` in a store's table.
final class AfterSyncConfigTests: XCTestCase {
    private func parse(_ keys: String) throws -> DaemonConfig {
        try DaemonConfig.parse("[store.mail]\nprovider = \"synthetic\"\n" + keys, file: "/etc/syncd/syncd.toml", factories: [SyntheticFactory()])
    }

    private func message(_ keys: String) -> String {
        do {
            _ = try parse(keys)
            return "accepted"
        } catch {
            return "\(error)"
        }
    }

    func testAfterSync_isRead_withItsTimeout() throws {
        let config = try parse("after_sync = [\"true\", \"x\"]\nafter_sync_timeout = \"30s\"\n")
        XCTAssertEqual(config.stores["mail"]?.afterSync?.arguments, ["true", "x"])
        XCTAssertEqual(config.stores["mail"]?.afterSync?.timeout, .seconds(30))
        XCTAssertNil(try parse("").stores["mail"]?.afterSync)
    }

    func testAfterSync_mistakesNameTheKey() {
        XCTAssertTrue(message("after_sync = []\n").contains("after_sync: expected a command"), message("after_sync = []\n"))
        XCTAssertTrue(message("after_sync = [\"no-such-tool-here\"]\n").contains("no-such-tool-here: not found"))
        XCTAssertTrue(message("after_sync_timeout = \"1m\"\n").contains("is for after_sync"))
        XCTAssertTrue(message("after_sync = [\"true\"]\nafter_sync_timeout = \"500ms\"\n").contains("at least 1s"))
    }
}
