import Foundation
import SyncIPC
import SyncProtocol
import TestSupport
import XCTest

/// packaging/grafana-dashboard.json against the real Prometheus scraping the real syncd-http: every
/// panel's query is PromQL that Prometheus takes, and finds the series it is drawn from.
final class GrafanaDashboardTests: XCTestCase {
    func testEveryPanelQuery_runsOnPrometheus_andFindsItsSeries() async throws {
        let daemon = try DaemonProcess(config: """
            [store.alpha]
            provider = "synthetic"
            steps = 2
            rate = 200
            new_messages = 2
            run_at_startup = false
            [store.beta]
            provider = "synthetic"
            steps = 2
            rate = 200
            error_every = 1
            run_at_startup = false
            """)
        try await daemon.start()
        let bridge = try await BridgeProcess(daemon: daemon)
        try await bridge.untilAttached()
        let prometheus = try await PrometheusServer(scraping: "127.0.0.1:\(bridge.port)")
        try await until("Prometheus to scrape", seconds: 30) { prometheus.query("syncd_up") == ["1"] }
        // Runs after the first scrape, so that increase() and rate() see them happen.
        let client = try await daemon.client()
        let (_, updates) = try await client.subscribe()
        for store in ["alpha", "beta", "alpha", "beta"] {
            _ = try await client.send(.syncNow(store: store, flags: []))
            _ = try await events(from: updates) { $0.isDone && $0.store == store }
        }
        await client.close()
        try await until("Prometheus to have the runs", seconds: 30) {
            prometheus.query(#"syncd_runs_total{store="beta"}"#) == ["2"]
        }
        try await Task.sleep(for: .seconds(2))  // two more scrapes: rate() needs two samples after the runs

        let queries = try Self.panelQueries()
        XCTAssertGreaterThanOrEqual(queries.count, 10, "\(queries)")
        for (panel, expr) in queries {
            // As Grafana sends them with "All" chosen for both variables.
            let promql = expr.replacingOccurrences(of: "$__rate_interval", with: "1m")
                .replacingOccurrences(of: "$instance", with: ".*").replacingOccurrences(of: "$store", with: ".*")
            let outcome = prometheus.evaluate(promql)
            XCTAssertEqual(outcome.status, "success", "\(panel): \(promql): \(outcome.error ?? "")")
            // Progress is drawn only while a run is in progress: none is now.
            if !expr.contains("syncd_store_syncing{") || !expr.contains("== 1") {
                XCTAssertGreaterThan(outcome.series, 0, "\(panel): \(promql) finds nothing")
            }
        }
    }

    /// Every panel's `expr`, with its panel's title.
    static func panelQueries() throws -> [(panel: String, expr: String)] {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("packaging/grafana-dashboard.json")
        let dashboard = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: path)) as? [String: Any])
        var found: [(String, String)] = []
        for panel in dashboard["panels"] as? [[String: Any]] ?? [] {
            for target in panel["targets"] as? [[String: Any]] ?? [] {
                if let expr = target["expr"] as? String { found.append((panel["title"] as? String ?? "?", expr)) }
            }
        }
        return found
    }
}
