import Foundation
import SyncIPC
import SyncProtocol
#if canImport(Glibc)
import Glibc
#endif

/// `syncctl watch --format waybar|i3bar|i3blocks|line`: a reconnecting subscription that prints
/// one update per change a bar can see.
///
/// Events are folded into the table as they come; the bar's view is worked out at most every
/// ``minimumGap`` and written only when it differs from the last one written, so a store
/// reporting thousands of Progress a second costs the bar a few lines a second. While syncd
/// cannot be reached the view says so ("syncd down", class disconnected) and the watch keeps
/// reconnecting, silently.
@MainActor
final class BarSession {
    let socket: String
    let stores: [String]
    let format: BarFormat
    let untilDone: Bool
    let heartbeat: Duration
    /// The shortest time between two updates.
    let minimumGap: Duration

    private var table = StoreTable(seq: 0)
    /// New mail each store reported since the bar started.
    private var newMail: [String: NewMail] = [:]
    private var connected = false
    private var seenState = false
    private var reason: String?
    private var written: String?
    private var lastFlush: ContinuousClock.Instant?
    private var flushPending = false

    init(socket: String, stores: [String], format: BarFormat, untilDone: Bool, heartbeat: Duration,
         minimumGap: Duration = .milliseconds(250)) {
        self.socket = socket
        self.stores = stores
        self.format = format
        self.untilDone = untilDone
        self.heartbeat = heartbeat
        self.minimumGap = minimumGap
    }

    func run() async -> Int32 {
        Output.write(Bar.preamble(format))
        let watcher = Self.watchReader()
        defer { watcher.cancel() }
        for await update in SyncClient.watch(socketPath: socket, clientName: "syncctl watch --format \(format.rawValue)",
                                              stores: stores, heartbeat: heartbeat) {
            switch update {
            case .connected:
                // Replayed events (or a snapshot) follow; the table so far stays good until then.
                connected = true
                reason = nil
            case .snapshot(let snapshot):
                table = StoreTable(snapshot)
                seenState = true
            case .event(let event):
                table.apply(event)
                if case .newMessages(let news) = event.kind { noteNewMail(news, store: event.store, at: event.time) }
            case .resynced:
                break  // a snapshot follows
            case .disconnected(let why):
                connected = false
                reason = why
                seenState = true
            }
            // Nothing to show until the first snapshot (or the first failure to connect).
            guard seenState else { continue }
            if untilDone, connected, !anyRunning {
                flush()
                return Exit.ok
            }
            changed()
        }
        return Exit.ok
    }

    private func noteNewMail(_ news: NewMessages, store: String, at time: Timestamp) {
        var mail = newMail[store] ?? NewMail(count: 0, since: time)
        mail.count += Int(news.count)
        if let latest = news.summaries.last { mail.latest = "\(latest.from): \(latest.subject)" }
        newMail[store] = mail
    }

    private var shown: [StoreStatus] {
        table.names.filter { stores.isEmpty || stores.contains($0) }.compactMap { table[$0] }
    }

    private var anyRunning: Bool { shown.contains { $0.run != nil } }

    /// Something changed: update the bar now, or once ``minimumGap`` has passed since the last
    /// update.
    private func changed() {
        guard !flushPending else { return }
        let now = ContinuousClock.now
        guard let last = lastFlush, now - last < minimumGap else {
            flush()
            return
        }
        flushPending = true
        Task { @MainActor [self] in
            try? await Task.sleep(until: last + minimumGap, clock: .continuous)
            flushPending = false
            flush()
        }
    }

    /// Writes the current view if it differs from the last one written.
    private func flush() {
        lastFlush = .now
        let view = Bar.view(shown, connected: connected, reason: reason, newMail: newMail)
        let text = Bar.render(view, as: format, instance: stores.isEmpty ? "all" : stores.joined(separator: ","))
        guard text != written else { return }
        written = text
        Output.write(text)
    }

    /// A bar that goes away closes its end of the pipe; the next write would fail with EPIPE and
    /// end syncctl (``Output/write(_:)-(Data)``), but with nothing changing there may be no next
    /// write for hours. So poll standard output once a second: a pipe whose readers are all gone
    /// reports POLLERR, and then syncctl ends quietly as if the write had failed.
    private static func watchReader() -> Task<Void, Never> {
        Task.detached {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                var descriptor = pollfd(fd: STDOUT_FILENO, events: 0, revents: 0)
                if poll(&descriptor, 1, 0) == 1, descriptor.revents & Int16(POLLERR) != 0 {
                    exit(Exit.ok)
                }
            }
        }
    }
}
