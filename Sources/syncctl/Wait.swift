import ArgumentParser
import Foundation
import SyncIPC
import SyncProtocol

extension Exit {
    /// `wait --timeout`: the awaited state did not come in time (as timeout(1) exits).
    static let timedOut: Int32 = 124
}

extension Syncctl {
    struct Wait: AsyncParsableCommand {
        enum Until: String, CaseIterable, ExpressibleByArgument {
            case idle
            case done
        }

        static let configuration = CommandConfiguration(
            abstract: "Block until the stores are idle, or until their next runs end; for scripts and ExecStartPost=.",
            discussion: """
                --until idle (the default) returns, with 0, as soon as none of the stores (default: all) syncs or waits in the queue for a free slot; at once if none does.

                --until done waits for the next run of each named store to end (a run in progress counts as the next one) and exits with how the runs went, as `sync --wait` does: 0 clean, 2 warnings or errors reported, 3 failed, 4 cancelled (the worst of them); a store removed from the configuration meanwhile is 1. A run that failed or did not finish cleanly is named on stderr.

                If syncd restarts meanwhile, wait reconnects and goes on waiting. --timeout SECONDS gives up after that long, with status 124. Nothing is printed on stdout.
                """)

        @OptionGroup var socket: SocketOption
        @Argument(help: "Stores to wait for (default for --until idle: all).", completion: Completion.stores) var stores: [String] = []
        @Option(help: "idle: no run active; done: the next run of each store has ended.") var until: Until = .idle
        @Option(help: "Give up after this many seconds (exit status 124).") var timeout: Double?
        @Option(help: "Seconds without a frame after which wait pings syncd (see watch --help).") var heartbeat: Double = 10

        func validate() throws {
            if until == .done, stores.isEmpty { throw ValidationError("--until done needs the stores whose next run to wait for") }
            if let timeout, !(timeout > 0) { throw ValidationError("--timeout must be a positive number of seconds") }
        }

        func run() async throws {
            // Fail fast, with a reason, when syncd is not there or a store is misspelled.
            let probe = try await socket.connect()
            _ = await request { try await probe.status(stores: stores) }
            await probe.close()
            if let timeout {
                let what = until == .idle ? "the stores to be idle" : "the next runs to end"
                Task.detached {
                    try? await Task.sleep(for: .milliseconds(Int64(timeout * 1000)))
                    let seconds = timeout == timeout.rounded() ? "\(Int(timeout))" : "\(timeout)"
                    fail("timed out after \(seconds)s waiting for \(what)", status: Exit.timedOut)
                }
            }
            let status = await StoreWaiter(
                socket: socket.path, stores: stores, until: until,
                heartbeat: .milliseconds(Int64(max(0.1, heartbeat) * 1000))).run()
            throw ExitCode(status)
        }
    }
}

/// `syncctl wait`: follows a reconnecting subscription until the stores are idle, or until the
/// next run of each has ended.
@MainActor
final class StoreWaiter {
    let socket: String
    let stores: [String]
    let until: Syncctl.Wait.Until
    let heartbeat: Duration

    private var table = StoreTable(seq: 0)
    /// --until done: what is awaited per store, until its run ended.
    private enum Awaiting: Equatable {
        /// The store's next run, not started yet.
        case next
        case run(RunID)
    }
    private var awaited: [String: Awaiting] = [:]
    private var results: [String: Int32] = [:]

    init(socket: String, stores: [String], until: Syncctl.Wait.Until, heartbeat: Duration) {
        self.socket = socket
        self.stores = stores
        self.until = until
        self.heartbeat = heartbeat
        for store in stores { awaited[store] = .next }
    }

    func run() async -> Int32 {
        var started = false
        for await update in SyncClient.watch(socketPath: socket, clientName: "syncctl wait", stores: stores, heartbeat: heartbeat) {
            switch update {
            case .snapshot(let snapshot):
                table = StoreTable(snapshot)
                if until == .done { catchUp(snapshot) }
                started = true
            case .event(let event):
                let before = table[event.store]?.run
                table.apply(event)
                if until == .done { follow(event, before: before) }
            case .connected, .resynced, .disconnected:
                continue
            }
            guard started else { continue }
            switch until {
            case .idle:
                if !busy { return Exit.ok }
            case .done:
                if awaited.isEmpty { return results.values.reduce(Exit.ok, max) }
            }
        }
        return Exit.ok
    }

    /// Some named store (any store, with none named) syncs or waits for a free slot.
    private var busy: Bool {
        let names = stores.isEmpty ? table.names : stores
        return names.compactMap { table[$0] }.contains { $0.run != nil || ($0.info.queuePlace > 0 && !$0.info.paused) }
    }

    /// A snapshot: the first one names the runs in progress (the ones to wait for); after a
    /// reconnect that missed events, a run awaited that is gone ended while syncctl was away, and
    /// the store's last result says how.
    private func catchUp(_ snapshot: Snapshot) {
        for store in stores {
            guard let entry = awaited[store] else { continue }
            guard let status = snapshot.stores.first(where: { $0.name == store }) else {
                finish(store, status: Exit.refused, "\(store): removed from the configuration while waiting")
                continue
            }
            switch entry {
            case .next:
                if let run = status.run { awaited[store] = .run(run.id) }
            case .run(let id):
                if status.run?.id == id { continue }
                // Ended while syncctl was away: the store's last result says how (the latest run's, if
                // more than one ended meanwhile).
                let result = status.info.lastResult ?? .failed
                finish(store, status: Exit.forResult(result), "\(store): run \(id) ended: \(result.text) [\(result.name)]")
            }
        }
    }

    private func follow(_ event: SyncEvent, before: RunStatus?) {
        guard let entry = awaited[event.store] else { return }
        switch event.kind {
        case .runStarted:
            if entry == .next { awaited[event.store] = .run(event.run) }
        case .done(let result):
            guard entry == .run(event.run) else { return }
            // The run as it was before its Done: the warnings and errors it reported.
            let reported = before.map { $0.id == event.run && ($0.warnings > 0 || $0.errors > 0) } ?? false
            let code = Exit.forRun(result, reportedProblems: reported)
            var said = "\(event.store): run \(event.run) ended: \(result.text) [\(result.name)]"
            if let before, before.id == event.run, reported {
                said += " after \(before.warnings) warning\(before.warnings == 1 ? "" : "s"), \(before.errors) error\(before.errors == 1 ? "" : "s")"
            }
            finish(event.store, status: code, said)
        case .storeRemoved:
            finish(event.store, status: Exit.refused, "\(event.store): removed from the configuration while waiting")
        default:
            break
        }
    }

    private func finish(_ store: String, status: Int32, _ message: String) {
        awaited[store] = nil
        results[store] = status
        if status != Exit.ok { complain(message) }
    }
}
