import Foundation
import Prometheus
import SyncIPC
import SyncProtocol

/// The Prometheus side of the bridge: counters fed by the daemon's events, per-store gauges set
/// from the store table when scraped.
///
/// Counters count from syncd-http's start (`syncd_http_start_time_seconds`), as any process's
/// counters do after a restart: `rate()` and `increase()` treat the drop as a reset. Seeding them
/// from the daemon's run history would be worse, not better: the history is bounded, so a seeded
/// value after a restart is smaller than before and Prometheus would count the seed as new runs.
/// What the bridge misses while attached is recovered instead (see ``fillGap(runs:errors:)``).
struct Metrics {
    let registry = PrometheusCollectorRegistry()
    private var gauges: [String: StoreGauges] = [:]
    private var runStarts: [String: (run: RunID, started: Timestamp)] = [:]
    /// The last run counted per store: one run per store at a time, so a store's runs end in id order.
    private var lastCountedRun: [String: RunID] = [:]
    /// The daemon's time as of the last event or snapshot: what ended after it is not counted yet.
    private var heard: Timestamp?
    private let up: Gauge
    private let running: Gauge
    private let queued: Gauge
    private let storeCount: Gauge
    let sseClients: Gauge
    let sseDropped: Counter
    private let reconnects: Counter
    private let eventsSeen: Counter
    private let eventsMissed: Counter
    private let viewers: Gauge
    private let viewersDropped: Counter
    /// The daemon's count behind ``viewersDropped``, as last asked.
    private var droppedAsked: UInt64 = 0

    /// Buckets for a sync run: a quick poll takes well under a second, a first download an hour.
    static let durationBuckets: [Double] = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600]

    init(started: Date = Date()) {
        registry.makeGauge(descriptor: described("syncd_http_start_time_seconds", "When this syncd-http started; its counters count from here."))
            .set(to: started.timeIntervalSince1970)
        up = registry.makeGauge(descriptor: described("syncd_up", "1 while syncd-http is attached to the daemon, else 0."))
        running = registry.makeGauge(descriptor: described("syncd_runs_running", "Runs in progress, all stores."))
        queued = registry.makeGauge(descriptor: described("syncd_runs_queued", "Stores waiting for a free run slot."))
        storeCount = registry.makeGauge(descriptor: described("syncd_stores", "Stores the daemon has configured."))
        sseClients = registry.makeGauge(descriptor: described("syncd_http_sse_clients", "Browsers and scripts following /events."))
        sseDropped = registry.makeCounter(descriptor: described("syncd_http_sse_dropped_total", "/events clients cut off for falling too far behind (they reconnect with Last-Event-ID)."))
        reconnects = registry.makeCounter(descriptor: described("syncd_http_daemon_connects_total", "Connections syncd-http made to the daemon."))
        eventsSeen = registry.makeCounter(descriptor: described("syncd_http_events_total", "Events received from the daemon."))
        eventsMissed = registry.makeCounter(descriptor: described("syncd_http_resyncs_total", "Reconnects after which the daemon no longer held the missed events."))
        viewers = registry.makeGauge(descriptor: described("syncd_viewers", "Connections subscribed to the daemon's events (syncd-http's own among them), as of the scrape."))
        viewersDropped = registry.makeCounter(descriptor: described("syncd_viewers_dropped_total", "Viewers the daemon disconnected as too slow since it started (they may reconnect and resume)."))
    }

    mutating func connected(_ isUp: Bool) {
        up.set(to: isUp ? 1 : 0)
        if isUp { reconnects.increment() }
    }

    mutating func resynced() { eventsMissed.increment() }

    /// Notes the runs in progress when the bridge (re)attaches, so their durations are known.
    mutating func attach(_ snapshot: Snapshot) {
        heard = .now()  // the daemon runs on this host: one clock
        for store in snapshot.stores {
            if let run = store.run { runStarts[store.name] = (run.id, run.started) }
        }
    }

    mutating func apply(_ event: SyncEvent) {
        eventsSeen.increment()
        heard = event.time
        switch event.kind {
        case .runStarted:
            runStarts[event.store] = (event.run, event.time)
        case .error(let code, _):
            errorCounter(event.store, code).increment()
        case .done(let result):
            countRun(store: event.store, run: event.run, result: result, ended: event.time,
                     started: runStarts[event.store].flatMap { $0.run == event.run ? $0.started : nil })
            runStarts[event.store] = nil
        case .storeRemoved:
            if let removed = gauges.removeValue(forKey: event.store) { removed.unregister(from: registry) }
        case .newMessages(let news):
            registry.makeCounter(
                descriptor: described("syncd_new_messages_total", "New messages stores announced (the NewMessages events)."),
                labels: [("store", event.store)]).increment(by: Int64(news.count))
        case .progress, .storeChanged:
            break
        }
    }

    /// After a reconnect whose events the daemon no longer held: counts, from its bounded
    /// histories, the runs and errors that ended after the last event heard. Nothing is back-filled
    /// before the first attach: that history predates this process's counters.
    mutating func fillGap(runs: [RunRecord], errors: [ErrorEntry]) {
        guard let heard else { return }
        for record in runs where record.ended > heard {
            countRun(store: record.store, run: record.run, result: record.result, ended: record.ended, started: record.started)
        }
        for entry in errors where entry.time > heard {
            errorCounter(entry.store, entry.code).increment()
        }
    }

    /// Sets the viewer metrics from the daemon's status reply. The counter is the daemon's own
    /// (it counts from the daemon's start, not this process's): after a daemon restart it goes
    /// down, which Prometheus reads as the reset it is.
    mutating func daemonViewers(_ counts: ViewerCounts) {
        viewers.set(to: Double(counts.watching))
        if counts.droppedAsTooSlow < droppedAsked { viewersDropped.reset() }
        let base = counts.droppedAsTooSlow < droppedAsked ? 0 : droppedAsked
        if counts.droppedAsTooSlow > base { viewersDropped.increment(by: Int64(clamping: counts.droppedAsTooSlow - base)) }
        droppedAsked = counts.droppedAsTooSlow
    }

    /// Sets the gauges from the table and renders the text a scrape gets.
    mutating func render(_ table: StoreTable?, connected: Bool) -> String {
        up.set(to: connected ? 1 : 0)
        guard let table else { return registry.emitToString() }
        var runningCount = 0, queuedCount = 0
        for name in table.names {
            guard let store = table[name] else { continue }
            var g = storeGauges(name)
            g.syncing.set(to: store.run == nil ? 0 : 1)
            g.stalled.set(to: store.info.stalled ? 1 : 0)
            g.paused.set(to: store.info.paused ? 1 : 0)
            g.authRequired.set(to: store.info.authRequired ? 1 : 0)
            g.queued.set(to: store.info.queuePlace > 0 ? 1 : 0)
            g.progress.set(to: store.run?.fraction ?? 0)
            g.outbox.set(to: Double(store.info.outboxDepth))
            g.pushListening.set(to: store.info.push == .listening ? 1 : 0)
            // Absent, not 0, when unknown: a 1970 timestamp would read as "failing for 56 years".
            g.lastSuccess = g.timestamp(g.lastSuccess, store.info.lastSuccess, "syncd_last_success_timestamp_seconds",
                                        "When the store's last successful run ended.", registry)
            g.nextRun = g.timestamp(g.nextRun, store.info.nextRun, "syncd_next_run_timestamp_seconds",
                                    "When the store's next scheduled run is due.", registry)
            gauges[name] = g
            if store.run != nil { runningCount += 1 }
            if store.info.queuePlace > 0 { queuedCount += 1 }
        }
        running.set(to: Double(runningCount))
        queued.set(to: Double(queuedCount))
        storeCount.set(to: Double(table.names.count))
        return registry.emitToString()
    }

    private mutating func countRun(store: String, run: RunID, result: SyncStatus, ended: Timestamp, started: Timestamp?) {
        if let last = lastCountedRun[store], run <= last { return }  // replayed or already back-filled
        lastCountedRun[store] = run
        registry.makeCounter(
            descriptor: described("syncd_runs_total", "Finished runs, by result (the status name: ok, partial, failed, cancelled, ...)."),
            labels: [("store", store), ("result", result.name)]).increment()
        if let started, ended.rawValue >= started.rawValue {
            registry.makeValueHistogram(descriptor: described("syncd_run_duration_seconds", "How long finished runs took."), labels: [("store", store)], buckets: Self.durationBuckets).record(Double(ended.rawValue - started.rawValue) / 1e6)
        }
    }

    private func errorCounter(_ store: String, _ code: SyncStatus) -> Counter {
        registry.makeCounter(
            descriptor: described("syncd_errors_total", "Errors and warnings stores reported, by status name."),
            labels: [("store", store), ("code", code.name), ("severity", code.isFailure ? "error" : "warning")])
    }

    private mutating func storeGauges(_ name: String) -> StoreGauges {
        if let existing = gauges[name] { return existing }
        let made = StoreGauges(name, registry)
        gauges[name] = made
        return made
    }
}

/// One store's gauges, made once and unregistered when the store goes away.
struct StoreGauges {
    let store: String
    let syncing, stalled, paused, authRequired, queued, progress, outbox, pushListening: Gauge
    var lastSuccess, nextRun: Gauge?

    init(_ store: String, _ registry: PrometheusCollectorRegistry) {
        self.store = store
        func gauge(_ name: String, _ help: String) -> Gauge {
            registry.makeGauge(descriptor: described(name, help), labels: [("store", store)])
        }
        syncing = gauge("syncd_store_syncing", "1 while the store has a run in progress.")
        stalled = gauge("syncd_store_stalled", "1 while the store's run has reported nothing for stall_after.")
        paused = gauge("syncd_store_paused", "1 while the store is paused.")
        authRequired = gauge("syncd_store_auth_required", "1 while the store needs `syncctl login`.")
        queued = gauge("syncd_store_queued", "1 while the store waits for a free run slot.")
        progress = gauge("syncd_run_progress_ratio", "The running run's progress, 0 to 1 (0 when idle or unknown).")
        outbox = gauge("syncd_outbox_messages", "Messages waiting in the store's outbox.")
        pushListening = gauge("syncd_store_push_listening", "1 while the store's push listener (IDLE) is listening.")
    }

    /// A timestamp gauge that exists only while the time is known.
    func timestamp(_ gauge: Gauge?, _ time: Timestamp?, _ name: String, _ help: String,
                   _ registry: PrometheusCollectorRegistry) -> Gauge? {
        guard let time else {
            if let gauge { registry.unregisterGauge(gauge) }
            return nil
        }
        let made = gauge ?? registry.makeGauge(descriptor: described(name, help), labels: [("store", store)])
        made.set(to: time.seconds)
        return made
    }

    func unregister(from registry: PrometheusCollectorRegistry) {
        for gauge in [syncing, stalled, paused, authRequired, queued, progress, outbox, pushListening] + [lastSuccess, nextRun].compactMap({ $0 }) {
            registry.unregisterGauge(gauge)
        }
    }
}

/// A metric's name and help. The full name is written out where the metric is made (so a grep for
/// it finds it); the descriptor's namespace/unit parts are not used.
func described(_ name: String, _ help: String) -> MetricNameDescriptor {
    MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
}
