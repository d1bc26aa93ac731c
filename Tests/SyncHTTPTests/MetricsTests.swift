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
        try await bridge.untilAttached()
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
        try await bridge.untilAttached()
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

    /// A scraper that asks for OpenMetrics (Prometheus does, first) gets it, as a strict parser
    /// reads it: python3-prometheus-client's OpenMetrics parser, which refuses a counter family
    /// named with `_total`, an unescaped HELP and a missing `# EOF`.
    func testMetrics_openMetricsWhenAsked_asAStrictParserReadsIt() async throws {
        let daemon = try DaemonProcess(config: """
            [store.alpha]
            provider = "synthetic"
            steps = 2
            rate = 200
            error_every = 1
            run_at_startup = false
            """)
        try await daemon.start()
        let bridge = try await BridgeProcess(daemon: daemon)
        try await bridge.untilAttached()
        let client = try await daemon.client()
        _ = try await client.send(.syncNow(store: "alpha", flags: []))
        await client.close()
        try await until("alpha's run to be counted") { http(bridge.url + "/metrics").body.contains(#"syncd_runs_total{store="alpha""#) }
        // What Prometheus 2.42 sends.
        let accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
        let headers = runTool("/usr/bin/curl", ["-sf", "-o", "/dev/null", "-D", "-", "-H", "Accept: \(accept)", bridge.url + "/metrics"])
        XCTAssertTrue(headers.stdout.lowercased().contains("content-type: application/openmetrics-text; version=1.0.0"), headers.stdout)
        let parse = """
            import sys, urllib.request
            from prometheus_client.openmetrics.parser import text_string_to_metric_families
            request = urllib.request.Request(sys.argv[1], headers={"Accept": sys.argv[2]})
            text = urllib.request.urlopen(request, timeout=10).read().decode()
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    print(family.type, family.name, sample.name, dict(sorted(sample.labels.items())), sample.value)
            """
        let parsed = runTool("/usr/bin/python3", ["-c", parse, bridge.url + "/metrics", accept], mergeStandardError: true)
        XCTAssertEqual(parsed.status, 0, parsed.stdout)
        // "type family sample labels value" for each sample, the value as the parser read it (1 or 1.0).
        func value(_ sample: String) -> Double? {
            parsed.stdout.split(separator: "\n").first { $0.hasPrefix(sample + " ") }.flatMap { Double($0.dropFirst(sample.count + 1)) }
        }
        XCTAssertEqual(value("counter syncd_runs syncd_runs_total {'result': 'partial', 'store': 'alpha'}"), 1, parsed.stdout)
        XCTAssertEqual(value("histogram syncd_run_duration_seconds syncd_run_duration_seconds_count {'store': 'alpha'}"), 1, parsed.stdout)
        XCTAssertEqual(value("gauge syncd_up syncd_up {}"), 1, parsed.stdout)
        // Without asking: the Prometheus text format, as before.
        XCTAssertFalse(http(bridge.url + "/metrics").body.contains("# EOF"))
    }

    /// A viewer that stops reading while a store reports Errors (never merged away) is dropped by
    /// the daemon; /metrics shows it in `syncd_viewers_dropped_total`, and it no longer counts in
    /// `syncd_viewers`. Errors with long texts, at a rate syncd-http reads with ease, so only the
    /// stalled viewer falls behind.
    func testMetrics_aViewerDroppedAsTooSlowIsCounted() async throws {
        let daemon = try DaemonProcess(config: """
            [store.alpha]
            provider = "synthetic"
            steps = 40000
            rate = 1000
            error_every = 1
            step_text = "\(String(repeating: "x", count: 2000))"
            run_at_startup = false
            """)
        try await daemon.start()
        let bridge = try await BridgeProcess(daemon: daemon)
        try await bridge.untilAttached()
        var text = http(bridge.url + "/metrics").body
        XCTAssertTrue(text.contains("syncd_viewers 1.0\n"), "syncd-http's own subscription: \(text)")
        XCTAssertTrue(text.contains("syncd_viewers_dropped_total 0\n"), text)
        let stalled = try StalledViewer(socket: daemon.socket)
        try await until("the stalled viewer to subscribe") { http(bridge.url + "/metrics").body.contains("syncd_viewers 2.0\n") }
        let client = try await daemon.client()
        let reply = try await client.send(.syncNow(store: "alpha", flags: []))
        XCTAssertTrue(reply.status.isOK, "\(reply)")
        try await until("the daemon to drop the stalled viewer", seconds: 30) {
            http(bridge.url + "/metrics").body.contains("syncd_viewers_dropped_total 1\n")
        }
        text = http(bridge.url + "/metrics").body
        XCTAssertTrue(text.contains("syncd_viewers 1.0\n"), "only syncd-http still watches: \(text)")
        let counts = try await client.statusReply().viewers
        XCTAssertEqual(counts, ViewerCounts(watching: 1, droppedAsTooSlow: 1))
        _ = try await client.send(.cancel(store: "alpha"))
        await client.close()
        withExtendedLifetime(stalled) {}
    }

    /// A daemon crash while syncd-http runs: the new daemon starts past the seq block the old one
    /// had reserved, so it cannot replay and syncd-http resyncs; the run that ends meanwhile is
    /// still counted (from the run history, or live if syncd-http is back first), and nothing
    /// counted before is counted again.
    func testMetrics_aDaemonCrashLosesNoRunAndCountsNoneTwice() async throws {
        let daemon = try DaemonProcess(config: """
            [store.alpha]
            provider = "synthetic"
            steps = 1
            rate = 1000
            """)
        try await daemon.start()
        let client = try await daemon.client()
        // The start-up run, over before syncd-http starts: not its to count.
        while try await client.status().stores.first?.info.lastResult == nil { try await Task.sleep(for: .milliseconds(20)) }
        let (_, updates) = try await client.subscribe()
        let bridge = try await BridgeProcess(daemon: daemon)
        try await bridge.untilAttached()
        _ = try await client.send(.syncNow(store: "alpha", flags: []))
        _ = try await events(from: updates) { $0.isDone }
        let counted = #"syncd_runs_total{store="alpha",result="ok"} "#
        try await until("the run to be counted") { http(bridge.url + "/metrics").body.contains(counted + "1") }
        await client.close()

        daemon.signal(SIGKILL)
        _ = try await daemon.waitForExit()
        try await daemon.start()  // its start-up run ends within milliseconds, likely before syncd-http reconnects
        try await until("the start-up run after the restart to be counted") {
            http(bridge.url + "/metrics").body.contains(counted + "2")
        }
        try await Task.sleep(for: .seconds(1))
        let text = http(bridge.url + "/metrics").body
        XCTAssertTrue(text.contains(counted + "2"), text)
        XCTAssertTrue(text.contains("syncd_http_daemon_connects_total 2"), text)
        XCTAssertTrue(text.contains("syncd_http_resyncs_total 1"), "the new daemon did not hold the old events: \(text)")
    }
}
