import Foundation
import Logging
import SyncProtocol

/// The daemon's book of push: each store's listener task, what it last said of itself, the
/// outbox it reported, and the targeted runs waiting out the debounce.
struct PushBook {
    struct Listener {
        let id: Int
        let host: ListenerHost
        let task: Task<Void, Never>
        let events: Task<Void, Never>
    }

    var listeners: [String: Listener] = [:]
    var states: [String: (state: PushState, detail: String?)] = [:]
    var outboxes: [String: (depth: UInt32, oldest: Timestamp?)] = [:]
    /// Scopes asked for within the current debounce interval, by store.
    var pending: [String: SyncScope] = [:]
    var nextID = 1
}

extension Daemon {
    /// Requests within this long of the first become one run: a burst of IDLE updates or of file
    /// events (a mail client moving 100 messages) costs one run.
    static let pushDebounce = Duration.milliseconds(100)

    /// Starts the store's listener if its provider has one and the store is neither paused nor
    /// waiting for a login (a listener logs in as runs do), unless the machine sleeps or is offline.
    func startListener(_ name: String) {
        guard !stopping, !asleep, !scheduler.offline, push.listeners[name] == nil, let store = config.stores[name],
              let provider = store.provider as? any ChangeListening,
              scheduler.entries[name]?.paused != true, scheduler.entries[name]?.authRequired != true else { return }
        let id = push.nextID
        push.nextID += 1
        var hostLogger = logger
        hostLogger[metadataKey: "store"] = "\(name)"
        hostLogger[metadataKey: "component"] = "push"
        // Events reach the daemon in the order the listener made them, through one stream.
        let (stream, continuation) = AsyncStream.makeStream(of: ListenerHost.Event.self)
        let host = ListenerHost(store: name, logger: hostLogger, stateDirectory: config.settings.stateDirectory) { event in
            continuation.yield(event)
        }
        let events = Task { [weak self] in
            for await event in stream { await self?.listenerSaid(event, store: name, listener: id) }
        }
        let task = Task.detached {
            await Self.keepListening(provider, host)
            continuation.finish()
        }
        push.listeners[name] = PushBook.Listener(id: id, host: host, task: task, events: events)
    }

    /// Stops the store's listener; its state shows as not configured until one starts again.
    /// Every store's listener (sleep, no network, shutdown).
    func stopListeners() {
        for name in Array(push.listeners.keys) { stopListener(name) }
    }

    func stopListener(_ name: String) {
        guard let listener = push.listeners.removeValue(forKey: name) else { return }
        listener.task.cancel()
        push.pending[name] = nil
        if push.states.removeValue(forKey: name) != nil { publishInfo(name) }
    }

    /// Runs a provider's listener until cancelled, starting it again after a backoff whenever it
    /// returns or throws: 1 s, doubling to 5 min, from 1 s again once one lasted a minute.
    static func keepListening(_ provider: any ChangeListening, _ host: ListenerHost) async {
        var failures = 0
        while !Task.isCancelled {
            let started = ContinuousClock.now
            var reason = "the listener stopped"
            do {
                try await provider.listen(host)
            } catch is CancellationError {
                return
            } catch {
                reason = "\(error)"
            }
            if Task.isCancelled { return }
            if ContinuousClock.now - started > .seconds(60) { failures = 0 }
            let wait = Duration.seconds(min(300, 1 << min(failures, 9)))
            failures += 1
            host.logger.warning("push listener ended (\(reason)); starting it again in \(wait.configText)")
            host.setState(.reconnecting, detail: "in \(wait.configText): \(reason)")
            do { try await Task.sleep(for: wait) } catch { return }
        }
    }

    private func listenerSaid(_ event: ListenerHost.Event, store name: String, listener id: Int) {
        // A stopped listener's last words change nothing.
        guard push.listeners[name]?.id == id else { return }
        switch event {
        case .state(let state, let detail):
            guard push.states[name].map({ $0.state != state || $0.detail != detail }) ?? true else { return }
            push.states[name] = (state, detail)
            push.listeners[name]?.host.logger.info("push: \(state)\(detail.map { " (\($0))" } ?? "")")
            publishInfo(name)
        case .outbox(let depth, let oldest):
            setOutbox(name, depth: depth, oldest: oldest)
        case .run(let scope):
            if let pending = push.pending[name] {
                push.pending[name] = pending.merged(with: scope)
                return
            }
            push.pending[name] = scope
            Task { [weak self] in
                try? await Task.sleep(for: Self.pushDebounce)
                await self?.flushPush(name)
            }
        }
    }

    /// The debounce is over: the merged scope becomes one queued push run.
    private func flushPush(_ name: String) {
        guard let scope = push.pending.removeValue(forKey: name), !stopping else { return }
        guard scheduler.requestPush(name, scope: scope) else { return }
        push.listeners[name]?.host.logger.debug("push: run asked for: \(scope)")
        startDueRuns()
    }

    /// Watches for sleep and resume (``SleepWatcher``) until the daemon stops.
    func watchSleep() {
        let watcher = SleepWatcher(address: ProcessInfo.processInfo.environment["SYNCD_SLEEP_BUS"], logger: logger)
        sleepWatcher = watcher
        watcher.start()
        Task { [weak self] in
            for await event in watcher.events {
                switch event {
                case .sleeping: await self?.machineSleeps()
                case .resumed: await self?.machineResumed()
                }
            }
        }
    }

    /// Before sleep: the push connections are closed cleanly (a run in progress commits batch
    /// by batch, so wherever sleep stops it, what it reported done is on disk); then the delay lock
    /// goes and the machine sleeps.
    private func machineSleeps() {
        logger.notice("the machine is going to sleep: closing push connections")
        asleep = true
        stopListeners()
        sleepWatcher?.released()
    }

    /// After resume: listeners again, and a run of every store at once for what came meanwhile.
    private func machineResumed() {
        guard asleep else { return }
        asleep = false
        logger.notice("the machine woke up: reconnecting and catching up")
        reconnectAndCatchUp()
    }

    /// After a resume or when the network is back (or another route carries it): every listener
    /// anew (a connection made before may be dead without knowing it) and every store runs at once
    /// for what came meanwhile, instead of waiting for its interval.
    func reconnectAndCatchUp() {
        for name in config.storeNames {
            stopListener(name)
            startListener(name)
            scheduler.catchUp(name, now: .now)
            publishInfo(name)
        }
        startDueRuns()
    }

    /// Records the store's outbox as its provider reported it, and tells viewers if it changed.
    func setOutbox(_ name: String, depth: UInt32, oldest: Timestamp?) {
        guard config.stores[name] != nil else { return }
        let known = push.outboxes[name]
        if known?.depth == depth, known?.oldest == oldest { return }
        if depth == 0, oldest == nil, known == nil { return }
        push.outboxes[name] = (depth, oldest)
        publishInfo(name)
    }
}
