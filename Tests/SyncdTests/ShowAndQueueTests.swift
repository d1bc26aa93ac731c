#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SyncIPC
import SyncProtocol
import TestSupport
import XCTest

/// `syncctl show STORE` (like `systemctl status UNIT`), and queued and retrying stores in
/// `syncctl status`, as a user reads them.
final class ShowAndQueueTests: XCTestCase {
    func syncctl(_ arguments: [String], daemon: DaemonProcess) async throws -> SyncctlTests.Output {
        try await SyncctlTests.syncctl(arguments, socket: daemon.socket)
    }

    static let flaky = """
        [daemon]
        retry_after = "30s"

        [store.flaky]
        provider = "synthetic"
        steps = 1
        rate = 100
        error_every = 1
        step_text = "INBOX"
        result = "network"
        interval = "1h"
        flags = ["download-hierarchy", "download-contents"]
        run_at_startup = false

        [store.fine]
        provider = "synthetic"
        steps = 3
        rate = 100
        run_at_startup = false
        """

    func testShow_saysStateScheduleRunsErrorsAndWhyItRetries() async throws {
        let daemon = try DaemonProcess(config: Self.flaky)
        try await daemon.start()
        var out = try await syncctl(["sync", "--wait", "flaky"], daemon: daemon)
        XCTAssertEqual(out.status, 3, out.stderr)
        out = try await syncctl(["show", "flaky"], daemon: daemon)
        XCTAssertEqual(out.status, 0, out.stderr)
        let text = out.stdout
        XCTAssertTrue(text.hasPrefix("flaky (synthetic): retrying\n"), text)
        XCTAssertTrue(text.contains("Schedule: every 1h; download-hierarchy, download-contents\n"), text)
        XCTAssertTrue(text.contains("Last run: network "), text)
        XCTAssertTrue(text.contains("Next run: retry 1 in "), text)
        XCTAssertTrue(text.contains("after: network error: INBOX 1: failed (synthetic error)"), text)
        XCTAssertTrue(text.contains("\nRecent runs:\n  run 1  "), text)
        XCTAssertTrue(text.contains("  network (1 error)  on-demand\n"), text)
        XCTAssertTrue(text.contains("error failed: INBOX 1: failed (synthetic error)\n"), text)
        XCTAssertTrue(text.contains("\nJournal:\n"), text)

        out = try await syncctl(["show", "--json", "flaky"], daemon: daemon)
        let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any])
        let store = try XCTUnwrap(document["store"] as? [String: Any])
        XCTAssertEqual(store["state"] as? String, "retrying")
        XCTAssertEqual(store["retry"] as? Int, 1)
        XCTAssertEqual(store["interval"] as? Int, 3600)
        let runs = try XCTUnwrap(document["runs"] as? [[String: Any]])
        XCTAssertEqual(runs.count, 1)
        XCTAssertEqual((runs[0]["result"] as? [String: Any])?["name"] as? String, "network")
        XCTAssertEqual((document["errors"] as? [Any])?.count, 1)

        out = try await syncctl(["show", "nosuch"], daemon: daemon)
        XCTAssertEqual(out.status, 1)
        XCTAssertTrue(out.stderr.hasPrefix("syncctl: "), out.stderr)
        XCTAssertTrue(out.stderr.contains("nosuch"), out.stderr)
        XCTAssertEqual(out.stdout, "")
    }

    func testShow_aStoreThatNeverRan() async throws {
        let daemon = try DaemonProcess(config: Self.flaky)
        try await daemon.start()
        let out = try await syncctl(["show", "fine"], daemon: daemon)
        XCTAssertEqual(out.status, 0, out.stderr)
        XCTAssertTrue(out.stdout.hasPrefix("fine (synthetic): idle\n"), out.stdout)
        XCTAssertTrue(out.stdout.contains("Schedule: on demand only; "), out.stdout)
        XCTAssertTrue(out.stdout.contains("Last run: never\n"), out.stdout)
        XCTAssertTrue(out.stdout.contains("Recent runs:\n  none yet\n"), out.stdout)
    }

    func testStatus_showsQueuedRunsWithTheirPlace_andWhyAStoreRetries() async throws {
        let slow = """
            provider = "synthetic"
            steps = 1000
            rate = 20
            run_at_startup = false
            """
        let daemon = try DaemonProcess(config: Self.flaky.replacingOccurrences(of: "[daemon]\n", with: "[daemon]\nmax_concurrent_runs = 1\n") + """


            [store.a]
            \(slow)

            [store.b]
            \(slow)

            [store.c]
            \(slow)
            """)
        try await daemon.start()
        _ = try await syncctl(["sync", "--wait", "flaky"], daemon: daemon)
        var out = try await syncctl(["sync", "a", "b", "c"], daemon: daemon)
        XCTAssertEqual(out.status, 0, out.stderr)
        out = try await syncctl(["status"], daemon: daemon)
        let rows = out.stdout.split(separator: "\n").map(String.init)
        func row(_ name: String) -> String { rows.first { $0.hasPrefix(name + " ") } ?? "" }
        XCTAssertTrue(row("a").contains("syncing"), out.stdout)
        XCTAssertTrue(row("b").contains("queued") && row("b").hasSuffix("queued, 1st in line"), out.stdout)
        XCTAssertTrue(row("c").hasSuffix("queued, 2nd in line"), out.stdout)
        XCTAssertTrue(row("flaky").contains("retrying"), out.stdout)
        XCTAssertTrue(rows.contains { $0.hasPrefix("flaky: retry 1 in ") && $0.hasSuffix("after: network error: INBOX 1: failed (synthetic error)") },
                      out.stdout)

        out = try await syncctl(["status", "--json"], daemon: daemon)
        let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any])
        let stores = try XCTUnwrap(document["stores"] as? [[String: Any]])
        let places = Dictionary(uniqueKeysWithValues: stores.map { ($0["name"] as! String, $0["queue_place"] as! Int) })
        XCTAssertEqual(places, ["a": 0, "b": 1, "c": 2, "flaky": 0, "fine": 0])
        _ = try await syncctl(["cancel", "a", "b"], daemon: daemon)
    }
}
