import SyncIPC
import SyncProtocol

/// One KDE job view per running sync: opened at RunStarted when a job view server runs, moved
/// at most once per tick, ended with the run's Done.
struct JobTracker {
    let server: JobViewServer

    struct Job {
        var run: RunID
        /// nil: no job view server ran when the run started.
        var view: JobViewServer.View?
        /// What the view shows now, so a tick sends only changes.
        var shown: Bar?
    }

    struct Bar: Hashable {
        var index: UInt32
        var max: UInt32
        var step: String?
    }

    private(set) var jobs: [String: Job] = [:]
    /// When runs without a view last asked whether a job view server runs now (Plasma may start
    /// after syncd-desktop, or kuiserver restart): at most once a second.
    private var lastProbe: ContinuousClock.Instant?

    init(server: JobViewServer) { self.server = server }

    /// The store whose job view lives at `path` (for its Cancel button).
    func store(viewing path: String) -> String? {
        jobs.first { $0.value.view?.path == path }?.key
    }

    mutating func started(store: String, run: RunID) async {
        if let old = jobs[store], old.run != run { await ended(store: store, run: old.run, error: "") }
        guard jobs[store] == nil else { return }
        jobs[store] = Job(run: run)
        if await server.isRunning() { await openView(store) }
    }

    private mutating func openView(_ store: String) async {
        do {
            let view = JobViewServer.View(path: try await server.requestView(appName: "syncd", icon: "mail-send-receive"))
            try await server.setInfoMessage(view, "Syncing \(store)")
            try await server.setDescriptionField(view, number: 0, name: "Store", value: store)
            jobs[store]?.view = view
        } catch {
            log("cannot open a job view for \(store): \(error)")
        }
    }

    /// Moves each view's bar to its run's latest Progress; opens the views of runs that have
    /// none once a job view server runs.
    mutating func update(from table: StoreTable) async {
        let unseen = jobs.filter { $0.value.view == nil }.map(\.key).sorted()
        if !unseen.isEmpty, lastProbe.map({ $0 < .now - .seconds(1) }) ?? true {
            lastProbe = .now
            if await server.isRunning() {
                for store in unseen { await openView(store) }
            }
        }
        for (store, job) in jobs {
            guard let view = job.view, let run = table[store]?.run, run.id == job.run else { continue }
            let bar = Bar(index: run.index, max: run.max, step: run.step)
            guard bar != job.shown else { continue }
            do {
                if bar.max > 0 {
                    try await server.setAmounts(view, processed: UInt64(bar.index), total: UInt64(bar.max), unit: "items")
                    try await server.setPercent(view, UInt32(min(100, UInt64(bar.index) * 100 / UInt64(bar.max))))
                }
                if let step = bar.step, step != job.shown?.step {
                    try await server.setDescriptionField(view, number: 1, name: "Now", value: step)
                }
                jobs[store]?.shown = bar
            } catch {
                log("cannot update the job view of \(store): \(error)")
            }
        }
    }

    /// Ends the view of `run`; an empty `error` means the run ended well (or was stopped).
    mutating func ended(store: String, run: RunID, error: String) async {
        guard let job = jobs[store], job.run == run else { return }
        jobs[store] = nil
        guard let view = job.view else { return }
        do { try await server.terminate(view, errorMessage: error) } catch { log("cannot end the job view of \(store): \(error)") }
    }

    mutating func removed(store: String) async {
        if let job = jobs[store] { await ended(store: store, run: job.run, error: "") }
    }

    /// After a (re)connect: runs that ended while away end their views; runs in progress get one.
    mutating func reconcile(with table: StoreTable) async {
        for (store, job) in jobs where table[store]?.run?.id != job.run {
            let result = table[store]?.info.lastResult
            await ended(store: store, run: job.run, error: result.map { $0.isFailure && !$0.isStop ? $0.text : "" } ?? "")
        }
        for store in table.names {
            if let run = table[store]?.run { await started(store: store, run: run.id) }
        }
    }
}
