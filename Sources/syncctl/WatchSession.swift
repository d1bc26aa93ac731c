import Foundation
import SyncIPC
import SyncProtocol

/// `syncctl watch`: a reconnecting subscription drawn by a ``LiveView``.
@MainActor
final class WatchSession {
    let socket: String
    let stores: [String]
    let untilDone: Bool
    let heartbeat: Duration
    let view: LiveView

    init(socket: String, stores: [String], json: Bool, untilDone: Bool, heartbeat: Duration) {
        self.socket = socket
        self.stores = stores
        self.untilDone = untilDone
        self.heartbeat = heartbeat
        self.view = LiveView(mode: LiveView.mode(json: json), stores: stores)
    }

    func run() async -> Int32 {
        let ticker = view.startTicking()
        defer { ticker.cancel() }
        var connections = 0
        var instance: UInt64?
        var restarted = false
        for await update in SyncClient.watch(socketPath: socket, clientName: "syncctl watch", stores: stores, heartbeat: heartbeat) {
            switch update {
            case .connected(let welcome):
                connections += 1
                // Welcome's instance tells a restarted daemon from a connection that dropped.
                restarted = instance != nil && welcome.instance != instance
                instance = welcome.instance
                if connections > 1 { view.notice(restarted ? "syncd restarted; reconnected" : "reconnected to syncd") }
            case .snapshot(let snapshot):
                view.show(snapshot)
                if untilDone, !anyRunning { return finish() }
            case .event(let event):
                view.apply(event)
                if untilDone, event.doneOrRemoved, !anyRunning { return finish() }
            case .resynced(let since, let oldest):
                if oldest > since + 1 {
                    // After a crash the new daemon starts past the numbers the old one had
                    // reserved; the rest of that block was never used, not missed.
                    view.notice(restarted
                        ? "events of the old daemon after \(since) were not seen; showing the current state"
                        : "missed events \(since + 1)…\(oldest - 1) while away; showing the current state")
                }
            case .disconnected(let reason):
                view.notice("lost connection to syncd (\(reason)); reconnecting…")
            }
        }
        return Exit.ok
    }

    private var anyRunning: Bool {
        view.table.names.filter { stores.isEmpty || stores.contains($0) }.contains { view.table[$0]?.run != nil }
    }

    private func finish() -> Int32 {
        view.tick()
        return Exit.ok
    }
}

/// `syncctl sync --wait`: asks for the runs, then follows them to their Done.
@MainActor
final class SyncWait {
    let client: SyncClient
    let stores: [String]
    let flags: SyncFlags
    let view: LiveView

    init(client: SyncClient, stores: [String], flags: SyncFlags, json: Bool) {
        self.client = client
        self.stores = stores
        self.flags = flags
        self.view = LiveView(mode: LiveView.mode(json: json), stores: stores)
    }

    func run() async -> Int32 {
        let ticker = view.startTicking()
        defer { ticker.cancel() }
        // Subscribe first, so no event of the runs we start is missed.
        let (_, updates) = await request { try await client.subscribe(stores: stores) }
        var awaiting = Set<String>()
        var attached: [String: RunID] = [:]
        var worst = Exit.ok
        for store in stores {
            let command = Request.Command.syncNow(store: store, flags: flags)
            let reply = await request { try await client.send(command) }
            if reply.status == .busy {
                awaiting.insert(store)  // attach to the run in progress (found in the snapshot)
                view.notice(reply.message + "; waiting for it")
            } else if reply.status.isFailure {
                complain(userWords(reply.message, for: command))
                worst = max(worst, status(for: reply))
            } else {
                awaiting.insert(store)
            }
        }
        // Every request was refused: nothing to follow, and nothing to show on stdout.
        if awaiting.isEmpty { return worst }
        var results: [String: Int32] = [:]
        do {
            for try await update in updates {
                switch update {
                case .snapshot(let snapshot):
                    view.show(snapshot)
                    for store in snapshot.stores where awaiting.contains(store.name) {
                        if let run = store.run { attached[store.name] = run.id }
                    }
                case .event(let event):
                    // The run as it was before its Done: the warnings and errors it reported.
                    let before = view.table[event.store]?.run
                    view.apply(event)
                    guard awaiting.contains(event.store) else { continue }
                    if case .runStarted = event.kind, attached[event.store] == nil {
                        attached[event.store] = event.run
                    }
                    if case .done(let result) = event.kind, attached[event.store] == event.run {
                        let reported = before.map { $0.id == event.run && ($0.warnings > 0 || $0.errors > 0) } ?? false
                        results[event.store] = Exit.forRun(result, reportedProblems: reported)
                        awaiting.remove(event.store)
                    }
                }
                if awaiting.isEmpty { break }
            }
        } catch {
            fail("lost connection to syncd while waiting: \(error)", status: Exit.unavailable)
        }
        view.tick()
        return results.values.reduce(worst, max)
    }
}

extension SyncEvent {
    var doneOrRemoved: Bool {
        switch kind {
        case .done, .storeRemoved: return true
        default: return false
        }
    }
}
