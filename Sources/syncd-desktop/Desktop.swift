import Foundation
import SyncIPC
import SyncProtocol

/// What the desktop loop reacts to, from every source, in one stream (so one loop owns all state).
enum DesktopInput: Sendable {
    case watch(WatchUpdate)
    case bus(BusSignal)
    /// Time to show merged notifications and move progress bars.
    case tick
    /// The daemon answered a request an action sent.
    case answered(store: String, action: NoticeAction, reply: Reply)
    /// The session bus connection is gone: nothing can be shown any more.
    case busLost
}

/// syncd-desktop's one loop: follows the daemon's events (reconnecting with "since seq") and
/// turns them into notifications, job views and the launcher entry.
final class Desktop {
    let socket: String
    let bus: SessionBus
    let notifications: NotificationServer
    let launcher: LauncherEntry
    let openCommand: String
    private var jobs: JobTracker
    private var coalescer: Coalescer
    private var table = StoreTable(seq: 0)
    /// The first failure a running run reported: the cause a failure notification names.
    private var firstError: [RunID: String] = [:]
    private var authRequired: Set<String> = []
    /// New messages since syncd-desktop started (or the user opened mail): the launcher's count.
    private var newMail: Int64 = 0
    private var launcherShown: LauncherEntry.State?
    private let inputs: AsyncStream<DesktopInput>
    private let input: AsyncStream<DesktopInput>.Continuation

    init(socket: String, bus: SessionBus, coalesce: Duration, openCommand: String) {
        self.socket = socket
        self.bus = bus
        self.notifications = NotificationServer(bus: bus)
        self.launcher = LauncherEntry(bus: bus)
        self.openCommand = openCommand
        self.jobs = JobTracker(server: JobViewServer(bus: bus))
        self.coalescer = Coalescer(window: coalesce)
        (inputs, input) = AsyncStream<DesktopInput>.makeStream()
    }

    /// Runs until the session bus goes away; returns the exit status.
    func run() async -> Int32 {
        let input = self.input
        let socket = self.socket
        let bus = self.bus
        let feeders = [
            Task {
                for await update in SyncClient.watch(socketPath: socket, clientName: "syncd-desktop") { input.yield(.watch(update)) }
            },
            Task {
                for await signal in bus.signals { input.yield(.bus(signal)) }
                input.yield(.busLost)
            },
            Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(200))
                    input.yield(.tick)
                }
            },
        ]
        defer { feeders.forEach { $0.cancel() } }
        for await next in inputs {
            switch next {
            case .watch(let update): await handle(update)
            case .bus(let signal): await handle(signal)
            case .tick: await tick()
            case .answered(let store, let action, let reply): await answered(store, action, reply)
            case .busLost:
                log("lost the session bus; exiting")
                return 1
            }
        }
        return 0
    }

    // MARK: the daemon's events

    private func handle(_ update: WatchUpdate) async {
        switch update {
        case .connected(let welcome):
            log("connected to \(welcome.server) at \(socket)")
        case .disconnected(let reason):
            log("lost syncd (\(reason)); reconnecting")
        case .resynced:
            break  // the snapshot that follows says how things are
        case .snapshot(let snapshot):
            table = StoreTable(snapshot)
            await jobs.reconcile(with: table)
            for store in snapshot.stores { await authChanged(store.name, required: store.info.authRequired) }
        case .event(let event):
            table.apply(event)
            await handle(event)
        }
    }

    private func handle(_ event: SyncEvent) async {
        switch event.kind {
        case .runStarted:
            await jobs.started(store: event.store, run: event.run)
        case .progress:
            break  // the tick moves the bars: a flood of Progress is one update per tick
        case .error(let code, let message):
            if code.isFailure, firstError[event.run] == nil { firstError[event.run] = message }
        case .done(let result):
            let message = firstError.removeValue(forKey: event.run)
            await jobs.ended(store: event.store, run: event.run, error: result.isFailure && !result.isStop
                             ? NoticeText.failureBody(result: result, message: message) : "")
            // A stop someone asked for is no failure; a login the store waits for has its own notice.
            if result.isFailure, !result.isStop, result != .authRequired {
                await offer(NoticeKey(store: event.store, topic: .failure), .failure(count: 1, result: result, message: message))
            }
        case .storeChanged(let info):
            await authChanged(event.store, required: info.authRequired)
        case .storeRemoved:
            await jobs.removed(store: event.store)
            await authChanged(event.store, required: false)
        case .newMessages(let news):
            newMail += Int64(news.count)
            await offer(NoticeKey(store: event.store, topic: .newMail),
                        .newMail(count: news.count, summaries: news.summaries, folders: [news.folder]))
        }
    }

    private func authChanged(_ store: String, required: Bool) async {
        let key = NoticeKey(store: store, topic: .login)
        if required, authRequired.insert(store).inserted {
            await offer(key, .login(instructions: nil))
        } else if !required, authRequired.remove(store) != nil {
            let id = coalescer.withdraw(key)
            if id != 0 { try? await notifications.close(id) }
        }
    }

    // MARK: notifications

    private func offer(_ key: NoticeKey, _ content: NoticeContent) async {
        if coalescer.offer(key, content, at: .now) { await show(key) }
    }

    private func show(_ key: NoticeKey) async {
        guard let content = coalescer.content(key) else { return }
        do {
            // Asked each time: notifications are few, and the server may have been replaced.
            let capabilities = try await notifications.capabilities()
            let id = try await notifications.notify(
                Notice(content, store: key.store), replaces: coalescer.replacing(key), capabilities: capabilities)
            coalescer.shown(key, id: id)
        } catch {
            log("cannot show a notification: \(error)")
        }
    }

    private func tick() async {
        for key in coalescer.due(at: .now) { await show(key) }
        await jobs.update(from: table)
        await updateLauncher()
    }

    private func updateLauncher() async {
        let running = table.names.compactMap { table[$0]?.run }
        let fractions = running.compactMap(\.fraction)
        let state = LauncherEntry.State(
            progress: fractions.isEmpty ? 0 : fractions.reduce(0, +) / Double(fractions.count),
            progressVisible: !running.isEmpty, count: newMail)
        guard state != launcherShown else { return }
        do {
            try await launcher.update(state)
            launcherShown = state
        } catch {
            log("cannot update the launcher entry: \(error)")
        }
    }

    // MARK: what the user asks for on the desktop

    private func handle(_ signal: BusSignal) async {
        switch signal {
        case .notificationClosed(let id):
            coalescer.closed(id: id)
        case .actionInvoked(let id, let name):
            guard let key = coalescer.key(for: id), let content = coalescer.content(key) else { return }
            let action = name == "default" ? Notice(content, store: key.store).actions.first : NoticeAction(rawValue: name)
            guard let action else { return }
            log("\(action.label) (\(key.store))")
            switch action {
            case .open:
                newMail = 0
                open()
            case .sync:
                ask(.syncNow(store: key.store, flags: []), store: key.store, action: action)
            case .login:
                ask(.login(store: key.store), store: key.store, action: action)
            }
        case .cancelRequested(let path):
            guard let store = jobs.store(viewing: path) else { return }
            log("cancel requested for \(store) from the job view")
            ask(.cancel(store: store), store: store, action: nil)
        }
    }

    /// Sends `command` on a connection of its own, so a slow answer holds up nothing else.
    private func ask(_ command: Request.Command, store: String, action: NoticeAction?) {
        let socket = self.socket
        let input = self.input
        Task {
            do {
                let client = try await SyncClient.connect(to: socket, clientName: "syncd-desktop")
                let reply = try await client.send(command)
                await client.close()
                if let action { input.yield(.answered(store: store, action: action, reply: reply)) }
                if reply.status.isFailure { log("\(command.name) \(store): \(reply.message)") }
            } catch {
                log("\(command.name) \(store): \(error)")
            }
        }
    }

    private func answered(_ store: String, _ action: NoticeAction, _ reply: Reply) async {
        // A login's answer is what the user is to do next: it replaces the "needs a login" notice.
        guard action == .login else { return }
        let key = NoticeKey(store: store, topic: .login)
        _ = coalescer.offer(key, .login(instructions: reply.message), at: .now - coalescer.window)
        await show(key)
    }

    private func open() {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", openCommand]
        do { try process.run() } catch { log("cannot run \(openCommand): \(error)") }
    }
}

extension SyncStatus {
    /// A run stopped on request (cancel, pause, shutdown): an outcome, not a failure to report.
    var isStop: Bool { self == .cancelled || self == .paused || self == .shuttingDown }
}

/// One line to stderr, which the user service's journal keeps.
func log(_ line: String) {
    FileHandle.standardError.write(Data(("syncd-desktop: " + line + "\n").utf8))
}
