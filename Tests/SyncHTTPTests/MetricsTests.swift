import Foundation
import SyncIPC
import SyncProtocol
import TestSupport
import XCTest

/// `/metrics` read by the real Prometheus and linted by the real promtool.
final class MetricsTests: XCTestCase {
    func testMetrics_prometheusScrapesTheRunCount() async throws {
        let daemon = try DaemonProcess(config: """
            [store.alpha]
            provider = "synthetic"
            steps = 3
            rate = 200
            error_every = 2
            run_at_startup = false
            """)
        try await daemon.start()
        let bridge = try await BridgeProcess(daemon: daemon)
        let client = try await daemon.client()
        let (_, updates) = try await client.subscribe()
        try await until("syncd-http to attach") { http(bridge.url + "/metrics").body.contains("syncd_up 1") }
        for _ in 0..<3 {
            let reply = try await client.send(.syncNow(store: "alpha", flags: []))
            XCTAssertTrue(reply.status.isOK, "\(reply)")
            _ = try await events(from: updates) { $0.isDone }
        }
        try await until("syncd-http to count the 3 runs") {
            http(bridge.url + "/metrics").body.contains(#"syncd_runs_total{store="alpha",result="partial"} 3"#)
        }
        let prometheus = try await PrometheusServer(scraping: "127.0.0.1:\(bridge.port)")
        try await until("Prometheus to scrape the run count", seconds: 30) {
            prometheus.query(#"syncd_runs_total{store="alpha",result="partial"}"#) == ["3"]
        }
        XCTAssertEqual(prometheus.query(#"syncd_errors_total{store="alpha",code="failed"}"#), ["3"])
        XCTAssertEqual(prometheus.query(#"syncd_run_duration_seconds_count{store="alpha"}"#), ["3"])
        XCTAssertEqual(prometheus.query(#"syncd_store_syncing{store="alpha"}"#), ["0"])
        XCTAssertEqual(prometheus.query("syncd_up"), ["1"])
        await client.close()
    }

    func testMetrics_promtoolFindsNothingToLint() async throws {
        let daemon = try DaemonProcess(config: """
            [store.alpha]
            provider = "synthetic"
            steps = 2
            rate = 200
            warn_every = 1
            run_at_startup = false
            [store.beta]
            provider = "synthetic"
            steps = 400
            rate = 20
            run_at_startup = false
            """)
        try await daemon.start()
        let bridge = try await BridgeProcess(daemon: daemon)
        try await until("syncd-http to attach") { http(bridge.url + "/metrics").body.contains("syncd_up 1") }
        let client = try await daemon.client()
        for store in ["alpha", "beta"] { _ = try await client.send(.syncNow(store: store, flags: [])) }
        await client.close()
        // alpha done (a run, warnings, a duration histogram), beta still running: every family present.
        try await until("alpha's run to be counted") { http(bridge.url + "/metrics").body.contains(#"syncd_runs_total{store="alpha""#) }
        let lint = runTool("/bin/sh", ["-c", "curl -sf \(bridge.url)/metrics | promtool check metrics"], mergeStandardError: true)
        XCTAssertEqual(lint.status, 0, lint.stdout)
        XCTAssertEqual(lint.stdout, "", "promtool check metrics should be silent")
        let text = http(bridge.url + "/metrics").body
        for family in ["syncd_run_duration_seconds_bucket", "syncd_last_success_timestamp_seconds", "syncd_errors_total",
                       "syncd_runs_running 1", "syncd_store_syncing{store=\"beta\"} 1"] {
            XCTAssertTrue(text.contains(family), "\(family) missing from:\n\(text)")
        }
    }
}
