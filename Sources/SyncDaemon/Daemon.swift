#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import Synchronization
import SyncIPC
import SyncProtocol

/// Why the host stopped a run before its provider finished it.
///
/// Only a stall is a failure of the run (an Error `stalled`, kept in the error history); the
/// others are the outcome someone asked for: Done `cancelled` alone, logged at notice level.
public enum CancelReason: String, Sendable {
    case user, shutdown, stall, reload, pause

    var message: String {
        switch self {
        case .user: return "cancelled"
        case .shutdown: return "cancelled: the daemon is shutting down"
        case .stall: return "cancelled: no progress reported in time"
        case .reload: return "cancelled: the store was removed from the configuration"
        case .pause: return "cancelled: the store was paused"
        }
    }

    /// The journal line for a run stopped this way: "mail: run 7 cancelled by uid 1000",
    /// "mail: run 7 cancelled: the store was paused by uid 1000".
    func outcome(store: String, run: RunID, by uid: uid_t?) -> String {
        "\(store): run \(run) \(message)" + (uid.map { " by uid \($0)" } ?? "")
    }
}

/// The daemon: hosts the stores' providers, schedules their runs, publishes every callback to
/// viewers through SyncIPC, keeps durable state, and answers control requests.
///
/// An actor: runs finish, requests arrive and the clock ticks concurrently, and all of them
/// change the same schedule and state.
public actor Daemon: ControlHandler {
    public struct Options: Sendable {
        public var configFile: String
        /// Overrides the config's socket (`--socket`); ignored when socket-activated.
        public var socket: String?
        /// Overrides the config's state directory (`--state-dir`).
        public var stateDirectory: String?
        /// A listening socket passed by systemd.
        public var listeningSocket: CInt?
        public var serverName: String
        /// What the file's missing socket and state keys mean: the system's or a user's paths.
        public var locations: DaemonLocations

        public init(configFile: String, socket: String? = nil, stateDirectory: String? = nil,
                    listeningSocket: CInt? = nil, serverName: String = "syncd", locations: DaemonLocations = .system) {
            self.configFile = configFile
            self.socket = socket
            self.stateDirectory = stateDirectory
            self.listeningSocket = listeningSocket
            self.serverName = serverName
            self.locations = locations
        }
    }

    struct ActiveRun {
        let id: RunID
        let flags: SyncFlags
        let trigger: RunTrigger
        let started: Timestamp
        let callback: SyncCallback
        let task: Task<Void, Never>
        var cancelReason: CancelReason?
        /// Who asked for the cancel (a control request's peer), for the journal.
        var cancelledBy: uid_t?
        /// After a cancel, when the host gives up waiting for the provider.
        var giveUpAt: ContinuousClock.Instant?
        var stalled = false
    }

    struct ActiveLogin {
        let id: Int
        let instructions: String
        let task: Task<Void, Never>
        /// Whether the store waited for a login before this one began (restored if it fails).
        let wasAuthRequired: Bool
    }

    /// Longest error text kept in the durable history (bytes).
    static let maxRecordedMessage = 2048
    /// Largest error-history answer (bytes, about): older entries beyond it are left out and counted.
    static let maxErrorHistoryBytes = 1 << 20

    /// How long a cancelled provider gets to return before the host finishes its run for it.
    static let cancelGrace = Duration.seconds(10)

    public static let factories: [any ProviderFactory] = [SyntheticFactory(), ExecFactory()]

    let options: Options
    let factories: [any ProviderFactory]
    private(set) var config: DaemonConfig
    var scheduler: Scheduler
    private var state: DurableState
    private let stateStore: StateStore
    private let stateLock: StateLock
    private let seqFile: SeqFile
    /// Why the last save of the state failed, while it keeps failing (a full disk): no run starts
    /// meanwhile, since its id could not be made durable.
    private var storageProblem: String?
    public nonisolated let server: SyncServer
    private nonisolated let control = LateControl()
    private let notifier = SystemdNotifier()
    let logger: Logger
    private var runs: [String: ActiveRun] = [:]
    /// Logins waiting for their user (`syncctl login`), by store.
    private var logins: [String: ActiveLogin] = [:]
    private var nextLoginID = 1
    /// The places in the line of waiting runs that viewers were last told.
    private var queuePlaces: [String: UInt32] = [:]
    /// Stores removed by a reload whose run is still winding down.
    private var leaving: Set<String> = []
    /// The stores' change listeners (push), their state as they last reported it, and the
    /// targeted runs they asked for in the last debounce interval.
    var push = PushBook()
    /// Between logind's PrepareForSleep(true) and (false): no listener runs.
    var asleep = false
    var sleepWatcher: SleepWatcher?
    /// Whether the daemon counts itself offline, and the watcher of the routes that decides it.
    var connectivity = Connectivity()
    var networkWatcher: NetworkWatcher?
    private(set) var stopping = false
    private var sleeper: Task<Void, Never>?
    private var lastStatus = ""
    private var lastWatchdog = ContinuousClock.now

    /// Loads the configuration and state; nothing is started yet.
    /// - Throws: ``ConfigError``, ``StateError``: a broken setup stops the daemon before it listens.
    public init(options: Options, factories: [any ProviderFactory] = Daemon.factories, logger: Logger) throws {
        self.options = options
        self.factories = factories
        self.logger = logger
        var config = try DaemonConfig.load(file: options.configFile, factories: factories, defaults: options.locations.defaultSettings)
        if let socket = options.socket { config.settings.socket = socket }
        if let directory = options.stateDirectory { config.settings.stateDirectory = directory }
        self.config = config
        let settings = config.settings
        try options.locations.prepareDirectories(for: settings, listening: options.listeningSocket != nil)
        stateStore = StateStore(directory: settings.stateDirectory)
        try stateStore.prepare()
        stateLock = try stateStore.lock()
        var state = try stateStore.load()
        seqFile = try stateStore.seqFile()
        self.scheduler = Scheduler(
            maxConcurrent: settings.maxConcurrentRuns, retryAfter: settings.retryAfter, maxBackoff: settings.maxBackoff)
        let now = ContinuousClock.now
        for store in config.stores.values {
            scheduler.configure(
                store.name, interval: store.interval, flags: store.flags, runAtStartup: store.runAtStartup,
                paused: state.stores[store.name]?.paused ?? false, authRequired: state.stores[store.name]?.authRequired ?? false,
                now: now)
        }
        // Sequence numbers continue past anything a viewer may have seen: after a clean stop that
        // is state.nextSeq exactly; after a crash, the end of the last durably reserved block.
        state.nextSeq = max(state.nextSeq, seqFile.reserved)
        self.state = state
        let listener: SyncServer.Listener = options.listeningSocket.map { .descriptor($0) }
            ?? .path(settings.socket, mode: settings.socketMode)
        let owner = getuid()
        var limits = SyncServer.Limits()
        limits.maxViewers = settings.maxViewers
        limits.maxViewersPerUser = settings.maxViewersPerUser
        var serverLogger = logger
        serverLogger[metadataKey: "component"] = "ipc"
        server = SyncServer(configuration: .init(
            listener: listener, serverName: options.serverName, access: Self.access(settings, owner: owner),
            control: control, limits: limits, firstSeq: state.nextSeq, seqReserver: seqFile, logger: serverLogger))
        if getgrnam(settings.controlGroup) == nil {
            logger.warning("control group '\(settings.controlGroup)' does not exist: only root and uid \(owner) may control")
        }
    }

    /// Root, the daemon's own user (whoever runs it by hand) and the control group control.
    static func access(_ settings: DaemonSettings, owner: uid_t) -> AccessPolicy {
        let group = AccessPolicy.controlGroup(settings.controlGroup)
        let exists = getgrnam(settings.controlGroup) != nil
        let hint = exists || owner == 0 ? group.controlHint
            : "control needs root or uid \(owner) (the daemon's user); control_group '\(settings.controlGroup)' does not exist"
        return AccessPolicy(controlHint: hint) { peer in
            peer.uid == owner ? .control : group.access(for: peer)
        }
    }

    // MARK: Life cycle

    /// Listens, tells systemd it is ready, and runs until ``stop()``. Returns once every run has
    /// ended (Done delivered), state is saved and viewers were told goodbye.
    public func run() async throws {
        control.daemon.withLock { $0.value = self }
        // The stores first: under socket activation a viewer may be queued on the socket already,
        // and its status request must not find an empty daemon (the table is filled on the
        // server's loop, ahead of any viewer's request).
        for name in config.storeNames { publishInfo(name) }
        do {
            try await server.start()
        } catch {
            throw DaemonError(Self.listenFailure(config.settings.socket, error))
        }
        try saveState()
        for name in config.storeNames { startListener(name) }
        watchSleep()
        if config.settings.watchNetwork { watchNetwork() }
        let status = await statusLine()
        notifier.ready(status: status)
        logger.info("ready: \(status)", metadata: ["config": "\(config.file)"])
        lastStatus = status
        while !stopping {
            retryStateSave()
            startDueRuns()
            checkRuns()
            await reportHealth()
            await sleepUntilNextTick()
        }
        await shutDown()
    }

    /// Why the socket could not be bound, in the user's terms rather than NIO's.
    static func listenFailure(_ path: String, _ error: Error) -> String {
        if let error = error as? SyncServerError { return "cannot listen: \(error)" }
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        var info = stat()
        if !directory.isEmpty, stat(directory, &info) != 0 {
            return "cannot listen on \(path): the directory \(directory) does not exist (create it, or pass --socket PATH)"
        }
        if !directory.isEmpty, info.st_mode & S_IFMT != S_IFDIR {
            return "cannot listen on \(path): \(directory) is not a directory"
        }
        if let io = error as? IOError {
            return "cannot listen on \(path): \(String(cString: strerror(io.errnoCode)))"
        }
        return "cannot listen on \(path): \(error)"
    }

    /// Begins a graceful stop (SIGTERM): runs are cancelled with reason shutdown.
    public func stop() {
        guard !stopping else { return }
        stopping = true
        notifier.stopping(status: "stopping: cancelling \(runs.count) run(s)")
        logger.info("stopping", metadata: ["runs": "\(runs.count)"])
        wakeLoop()
    }

    private func shutDown() async {
        for login in logins.values { login.task.cancel() }
        stopListeners()
        sleepWatcher?.stop()
        networkWatcher?.stop()
        for name in runs.keys { cancel(name, reason: .shutdown) }
        let deadline = ContinuousClock.now + Self.cancelGrace
        while !runs.isEmpty, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        for (name, run) in runs {
            logger.warning("provider did not stop in time; finishing its run", metadata: ["store": "\(name)", "run": "\(run.id)"])
            finish(name, run: run.id, providerResult: .cancelled)
        }
        await server.stop()
        // Nothing is published any more: the next start may continue at nextSeq exactly.
        do { try server.publisher.releaseReservation() } catch { logger.error("cannot write \(seqFile.path): \(error)") }
        do { try saveState() } catch { logger.error("cannot save state: \(error)") }
        logger.info("stopped")
    }

    /// How long the loop sleeps at rest: with no run to watch for stalls and the state saved, a
    /// tick has nothing to do but report health, so it waits for the next due run, the watchdog's
    /// next ping or this long, whichever comes first. Whatever changes the runs or the schedule
    /// outside the loop goes through ``startDueRuns()``, which wakes it to plan its sleep again.
    static let restingTick = Duration.seconds(10)

    private func sleepUntilNextTick() async {
        var wait = runs.isEmpty && storageProblem == nil ? Self.restingTick : .seconds(1)
        if let watchdog = notifier.watchdogInterval { wait = min(wait, watchdog / 4) }
        if let due = scheduler.nextDue() { wait = max(.zero, min(wait, due - .now)) }
        let sleeper = Task { _ = try? await Task.sleep(for: wait) }
        self.sleeper = sleeper
        await sleeper.value
    }

    /// Ends the loop's sleep early, so that its next wait is computed from the runs, the schedule
    /// and the storage state as they are now (and a run that started or ended is in STATUS=).
    private func wakeLoop() {
        sleeper?.cancel()
    }

    /// STATUS= for systemd, and WATCHDOG=1 once the IPC event loop has answered.
    private func reportHealth() async {
        let status = await statusLine()
        if status != lastStatus {
            notifier.status(status)
            lastStatus = status
        }
        if let interval = notifier.watchdogInterval, ContinuousClock.now - lastWatchdog >= interval / 2 {
            notifier.watchdog()
            lastWatchdog = .now
        }
    }

    private func statusLine() async -> String {
        let viewers = await server.viewerCount()
        let stalled = runs.values.filter(\.stalled).count
        var line = "\(config.stores.count) stores, \(runs.count) syncing, \(viewers) viewers"
        if stalled > 0 { line += ", \(stalled) stalled" }
        if scheduler.offline { line += ", offline (no default route)" }
        if let storageProblem { line += "; no runs start: cannot save state (\(storageProblem))" }
        return line
    }

    // MARK: Runs

    /// Called after every change to the schedule or the runs (a reload, a request, a push, a login,
    /// a run's end) as well as by the loop itself.
    func startDueRuns() {
        wakeLoop()
        guard !stopping, storageProblem == nil else { return }
        for start in scheduler.takeDue(now: .now) {
            guard let store = config.stores[start.store] else { continue }
            begin(store, flags: start.flags, trigger: start.trigger, scope: start.scope)
        }
        publishQueueChanges()
    }

    /// Tells viewers of every store whose place in the line of waiting runs changed.
    private func publishQueueChanges() {
        let line = scheduler.waitingLine(now: .now)
        var places: [String: UInt32] = [:]
        for (index, name) in line.enumerated() { places[name] = UInt32(index + 1) }
        guard places != queuePlaces else { return }
        let changed = Set(places.keys).union(queuePlaces.keys).filter { places[$0] != queuePlaces[$0] }
        queuePlaces = places
        for name in changed.sorted() { publishInfo(name) }
    }

    private func begin(_ store: StoreConfig, flags: SyncFlags, trigger: RunTrigger, scope: SyncScope? = nil) {
        let id = state.nextRun
        state.nextRun += 1
        // The run id must never be handed out twice, even if the daemon dies in this run: a run
        // whose id cannot be made durable does not start.
        do {
            try saveState()
        } catch {
            state.nextRun -= 1
            storageFailed(error, refusing: store.name)
            return
        }
        var runLogger = logger
        runLogger[metadataKey: "store"] = "\(store.name)"
        runLogger[metadataKey: "run"] = "\(id)"
        let name = store.name
        let callback = SyncCallback(reporter: server.reporter(store: store.name, run: id), logger: runLogger) { [weak self] depth, oldest in
            Task { await self?.setOutbox(name, depth: depth, oldest: oldest) }
        }
        callback.reporter.started(flags: flags, trigger: trigger)
        var started: Logger.Metadata = ["flags": "\(flags)", "trigger": "\(trigger)"]
        if let scope { started["scope"] = "\(scope)" }
        runLogger.info("run started", metadata: started)
        push.listeners[name]?.host.runStarted()
        let request = SyncRequest(
            store: store.name, run: id, flags: flags, trigger: trigger, stateDirectory: config.settings.stateDirectory,
            scope: scope)
        let provider = store.provider
        let task = Task.detached { [weak self] in
            let result = await Self.execute(provider, request, callback)
            guard let self else { return }
            await self.finish(name, run: id, providerResult: result)
        }
        runs[name] = ActiveRun(id: id, flags: flags, trigger: trigger, started: .now(), callback: callback, task: task)
        publishInfo(name)
    }

    /// Runs the provider, turning a thrown error into a result.
    static func execute(_ provider: any StoreProvider, _ request: SyncRequest, _ callback: SyncCallback) async -> SyncStatus {
        do {
            return try await provider.synchronize(request, callback: callback)
        } catch is CancellationError {
            return .cancelled
        } catch {
            callback.error(.providerFailed, "the provider failed: \(error)")
            return .providerFailed
        }
    }

    /// Ends a run exactly once: publishes Done (unless the provider already did), records it
    /// durably, and plans the store's next run.
    private func finish(_ name: String, run id: RunID, providerResult: SyncStatus) {
        guard let run = runs[name], run.id == id else { return }  // already finished by the host
        runs[name] = nil
        let callback = run.callback
        var result = providerResult
        // A provider that finished its work despite the cancel keeps its result; one that
        // stopped (or failed) is reported with the reason it was stopped for. A stall is a
        // failure of the run (Error and Done `stalled`); a cancel someone asked for (cancel,
        // pause, removal, shutdown) is its outcome: Done `cancelled` alone, not counted or kept
        // as an error.
        var outcome: String?
        if let reason = run.cancelReason, result.isFailure {
            if reason == .stall {
                result = .stalled
                callback.error(result, reason.message)
            } else {
                result = .cancelled
                outcome = reason.outcome(store: name, run: id, by: run.cancelledBy)
            }
        }
        let published = callback.reporter.result ?? result
        if published == .authRequired {
            state.stores[name, default: DurableState.Store()].authRequired = true
            callback.logger.notice("waiting for a login: run syncctl login \(name)")
        }
        // Durable first, then Done: a run a viewer saw finish is on disk, whenever the daemon dies.
        record(name, run: run, result: published, counts: callback.errorCounts)
        callback.done(published, logging: outcome)
        push.listeners[name]?.host.runEnded()
        let changes = callback.runChanges
        for news in changes.news {
            server.publisher.publish(store: name, run: id, .newMessages(news))
        }
        if changes.any, let hook = config.stores[name]?.afterSync {
            AfterSyncHook.start(hook, store: name, run: id, trigger: run.trigger, result: published, changes: changes, logger: callback.logger)
        }
        scheduler.finished(name, result: published, now: .now, jitter: Double.random(in: 0.8...1.2))
        if published == .authRequired { stopListener(name) }
        if leaving.remove(name) != nil {
            server.publisher.publish(store: name, run: 0, .storeRemoved)
        } else {
            publishInfo(name)
        }
        startDueRuns()
    }

    private func cancel(_ name: String, reason: CancelReason, by uid: uid_t? = nil) {
        guard var run = runs[name] else { return }
        if run.cancelReason == nil {
            run.cancelReason = reason
            run.cancelledBy = uid
        }
        run.giveUpAt = run.giveUpAt ?? ContinuousClock.now + Self.cancelGrace
        run.callback.reporter.requestCancel()
        run.task.cancel()
        runs[name] = run
        run.callback.logger.info("cancelling run", metadata: ["reason": "\(reason.rawValue)"])
    }

    /// Stall detection, and runs whose provider ignored a cancel.
    private func checkRuns() {
        let settings = config.settings
        let now = ContinuousClock.now
        for (name, run) in runs {
            if let giveUpAt = run.giveUpAt, now >= giveUpAt {
                run.callback.logger.warning("the provider did not stop within \(Self.cancelGrace) of being cancelled; its run is finished without it")
                finish(name, run: run.id, providerResult: .cancelled)
                continue
            }
            let silence = run.callback.silence
            if silence >= settings.cancelStalledAfter, run.cancelReason == nil {
                run.callback.logger.warning("no progress for \(silence.configText); cancelling the run")
                cancel(name, reason: .stall)
            } else if silence >= settings.stallAfter, !run.stalled {
                runs[name]?.stalled = true
                run.callback.logger.warning("no progress for \(silence.configText); the run is stalled")
                publishInfo(name)
            } else if silence < settings.stallAfter, run.stalled {
                runs[name]?.stalled = false
                publishInfo(name)
            }
        }
    }

    // MARK: State

    private func record(_ name: String, run: ActiveRun, result: SyncStatus, counts: SyncCallback.Counts) {
        let now = Timestamp.now().rawValue
        let errors = counts.records
        var store = state.stores[name] ?? DurableState.Store()
        store.recentRuns.append(DurableState.RunRecord(
            run: run.id, flags: run.flags.rawValue, trigger: run.trigger.rawValue, started: run.started.rawValue,
            ended: now, result: result.rawValue, warnings: UInt32(clamping: counts.warnings), errors: UInt32(clamping: counts.errors)))
        if store.recentRuns.count > DurableState.recentRunsKept {
            store.recentRuns.removeFirst(store.recentRuns.count - DurableState.recentRunsKept)
        }
        store.lastResult = result.rawValue
        store.lastRunEnded = now
        if !result.isFailure { store.lastSuccess = now }
        store.runs += 1
        if result.isFailure { store.failedRuns += 1 }
        store.errors.append(contentsOf: errors.map { record in
            var record = record
            if record.message.utf8.count > Self.maxRecordedMessage {
                record.message = String(decoding: record.message.utf8.prefix(Self.maxRecordedMessage), as: UTF8.self) + "…"
            }
            return record
        })
        if store.errors.count > config.settings.errorHistory {
            store.errors.removeFirst(store.errors.count - config.settings.errorHistory)
        }
        state.stores[name] = store
        // On failure the record stays in memory and is saved by the next save that succeeds.
        do { try saveState() } catch { storageFailed(error) }
    }

    private func saveState() throws {
        state.nextSeq = server.publisher.nextSeq
        try stateStore.save(state)
        if let problem = storageProblem {
            storageProblem = nil
            logger.notice("state saved again (the earlier failure was: \(problem)); runs start again")
        }
    }

    /// A save failed: the store that wanted to start is told why (an Error `storage`, store-level),
    /// the daemon shows it in STATUS= and the journal, and no run starts until a save succeeds.
    private func storageFailed(_ error: Error, refusing store: String? = nil) {
        let first = storageProblem == nil
        storageProblem = "\(error)"
        if first {
            logger.error("cannot save state, no run will start until it can: \(error)")
            wakeLoop()  // to retry each second, not each resting tick
        }
        guard let store else { return }
        scheduler.finished(store, result: .storage, now: .now, jitter: Double.random(in: 0.8...1.2))
        server.publisher.publish(store: store, run: 0, .error(code: .storage, message: "not starting a sync: the daemon cannot save its state (\(error))"))
        publishInfo(store)
    }

    /// While saving fails, tries again each tick, so finished runs reach the disk once there is room.
    private func retryStateSave() {
        guard storageProblem != nil else { return }
        do { try saveState() } catch { storageProblem = "\(error)" }
    }

    /// Publishes the store's standing facts (StoreChanged) for viewers.
    func publishInfo(_ name: String) {
        guard let store = config.stores[name] else { return }
        let saved = state.stores[name]
        let paused = scheduler.entries[name]?.paused ?? false
        var nextRun: Timestamp?
        if let due = scheduler.due(name) {
            let wait = max(.zero, due - .now)
            nextRun = Timestamp(rawValue: Timestamp.now().rawValue + UInt64(wait.components.seconds) * 1_000_000
                + UInt64(wait.components.attoseconds / 1_000_000_000_000))
        }
        let retry = scheduler.retry(name)
        let info = StoreInfo(
            provider: store.providerName, paused: paused, stalled: runs[name]?.stalled ?? false,
            authRequired: scheduler.entries[name]?.authRequired ?? false,
            lastResult: saved?.lastResult.map(SyncStatus.init(rawValue:)),
            lastRunEnded: saved?.lastRunEnded.map(Timestamp.init(rawValue:)),
            lastSuccess: saved?.lastSuccess.map(Timestamp.init(rawValue:)), nextRun: nextRun,
            queuePlace: queuePlaces[name] ?? 0, retry: UInt32(clamping: retry),
            retryReason: retry > 0 ? saved.flatMap(Self.failureReason) : nil,
            interval: store.interval.map { UInt32(clamping: $0.components.seconds) } ?? 0, flags: store.flags,
            push: scheduler.offline ? .offline : push.states[name]?.state ?? .notConfigured,
            pushDetail: scheduler.offline ? Self.offlineDetail : push.states[name]?.detail,
            outboxDepth: push.outboxes[name]?.depth ?? 0, outboxOldest: push.outboxes[name]?.oldest)
        server.publisher.publish(store: name, run: 0, .storeChanged(info))
    }

    // MARK: Control

    public nonisolated func handle(_ command: Request.Command, from peer: PeerCredentials) async -> ControlResult {
        let result = await control(command, from: peer)
        if command.needsControl {
            logger.info("\(command.name) from uid \(peer.uid): \(result.message)", metadata: ["code": "\(result.status.name)"])
        }
        return result
    }

    func control(_ command: Request.Command, from peer: PeerCredentials? = nil) async -> ControlResult {
        if stopping { return ControlResult(.shuttingDown, "the daemon is shutting down") }
        switch command {
        case .syncNow(let name, let flags):
            switch scheduler.requestNow(name, flags: flags) {
            case .unknown: return unknownStore(name)
            case .paused: return ControlResult(.paused, "'\(name)' is paused; resume it first (syncctl resume \(name))")
            case .authRequired:
                return ControlResult(.authRequired, "'\(name)' needs a login first: run syncctl login \(name)")
            case .busy: return ControlResult(.busy, "'\(name)' is already syncing (run \(runs[name]?.id ?? 0))")
            case .alreadyQueued: return ControlResult(.ok, "a sync of '\(name)' is already queued")
            case .queuedBehindRun: return ControlResult(.ok, "a sync of '\(name)' follows its current run (run \(runs[name]?.id ?? 0))")
            case .queued:
                startDueRuns()
                // Someone asked, so it runs offline too; they are told why it may fail.
                let offline = scheduler.offline ? "; offline (no default route), it may fail" : ""
                if let run = runs[name] { return ControlResult(.ok, "sync of '\(name)' started (run \(run.id))\(offline)") }
                return ControlResult(.ok, "sync of '\(name)' queued: \(runs.count) runs already running (max_concurrent_runs = \(config.settings.maxConcurrentRuns))")
            }
        case .cancel(let name):
            guard config.stores[name] != nil else { return unknownStore(name) }
            guard let run = runs[name] else { return ControlResult(.invalidArgument, "'\(name)' is not syncing; nothing to cancel") }
            cancel(name, reason: .user, by: peer?.uid)
            return ControlResult(.ok, "cancelling run \(run.id) of '\(name)'")
        case .pause(let name):
            guard scheduler.pause(name) else { return unknownStore(name) }
            state.stores[name, default: DurableState.Store()].paused = true
            do { try saveState() } catch { logger.error("cannot save state: \(error)") }
            let running = runs[name]
            if running != nil { cancel(name, reason: .pause, by: peer?.uid) }
            stopListener(name)
            publishInfo(name)
            return ControlResult(.ok, running == nil ? "paused '\(name)'" : "paused '\(name)'; its running sync is being cancelled")
        case .resume(let name):
            guard scheduler.resume(name, now: .now) else { return unknownStore(name) }
            state.stores[name, default: DurableState.Store()].paused = false
            do { try saveState() } catch { logger.error("cannot save state: \(error)") }
            publishInfo(name)
            startListener(name)
            startDueRuns()
            return ControlResult(.ok, "resumed '\(name)'")
        case .reload:
            return await reload()
        case .login(let name):
            return await beginLogin(name, by: peer?.uid)
        case .errors(let names):
            return rememberedStores(names).map { Self.capped(errorHistory($0)) } ?? unknownStore(names)
        case .runs(let names):
            return rememberedStores(names).map { ControlResult(runs: runHistory($0)) } ?? unknownStore(names)
        case .subscribe, .status, .ping:
            return ControlResult(.unexpectedMessage, "\(command.name) is not a control request")
        }
    }

    // MARK: Logins

    /// Starts the store's interactive login and answers with what the user is to do. The store
    /// waits for the login meanwhile (auth-required); its outcome is published: StoreChanged with
    /// the bit clear and a run soon after on success, a store-level Error on failure.
    private func beginLogin(_ name: String, by uid: uid_t?) async -> ControlResult {
        guard let store = config.stores[name] else { return unknownStore(name) }
        guard let provider = store.provider as? any LoginProvider else {
            return ControlResult(.invalidArgument, "'\(name)' has no interactive login (an imap store with an oauth2 table has)")
        }
        if let pending = logins[name] {
            return ControlResult(.ok, "a login of '\(name)' is already waiting: \(pending.instructions)")
        }
        var loginLogger = logger
        loginLogger[metadataKey: "store"] = "\(name)"
        let pending: PendingLogin
        do {
            pending = try await provider.beginLogin(
                LoginContext(store: name, stateDirectory: config.settings.stateDirectory, logger: loginLogger))
        } catch let error as LoginError {
            return ControlResult(error.status, "cannot start the login of '\(name)': \(error)")
        } catch {
            return ControlResult(.failed, "cannot start the login of '\(name)': \(error)")
        }
        // While awaiting, another login of the store may have begun, or the store gone.
        if let other = logins[name] { return ControlResult(.ok, "a login of '\(name)' is already waiting: \(other.instructions)") }
        guard config.stores[name] != nil else { return unknownStore(name) }
        let id = nextLoginID
        nextLoginID += 1
        let wasAuthRequired = scheduler.entries[name]?.authRequired ?? false
        let task = Task { [weak self, completion = pending.completion] in
            let outcome: LoginError?
            do {
                try await completion()
                outcome = nil
            } catch let error as LoginError {
                outcome = error
            } catch is CancellationError {
                outcome = LoginError(.cancelled, "cancelled")
            } catch {
                outcome = LoginError(.failed, "\(error)")
            }
            await self?.loginFinished(name, id: id, failure: outcome)
        }
        logins[name] = ActiveLogin(id: id, instructions: pending.instructions, task: task, wasAuthRequired: wasAuthRequired)
        setAuthRequired(name, true)
        loginLogger.notice("login started\(uid.map { " by uid \($0)" } ?? ""): \(pending.instructions)")
        return ControlResult(.ok, pending.instructions)
    }

    private func loginFinished(_ name: String, id: Int, failure: LoginError?) {
        guard let login = logins[name], login.id == id else { return }
        logins[name] = nil
        guard config.stores[name] != nil else { return }
        var loginLogger = logger
        loginLogger[metadataKey: "store"] = "\(name)"
        if let failure {
            loginLogger.warning("login failed: \(failure)", metadata: ["code": "\(failure.status.name)"])
            if !stopping {
                server.publisher.publish(store: name, run: 0, .error(code: failure.status, message: "login failed: \(failure)"))
            }
            setAuthRequired(name, login.wasAuthRequired)
        } else {
            loginLogger.notice("logged in")
            setAuthRequired(name, false)
            startDueRuns()
        }
    }

    /// Records whether the store waits for a login, durably, and tells viewers.
    private func setAuthRequired(_ name: String, _ required: Bool) {
        scheduler.setAuthRequired(name, required, now: .now)
        if state.stores[name, default: DurableState.Store()].authRequired != required {
            state.stores[name, default: DurableState.Store()].authRequired = required
            do { try saveState() } catch { storageFailed(error) }
        }
        // A listener logs in as runs do: none while the store waits for a person.
        if required { stopListener(name) } else { startListener(name) }
        publishInfo(name)
    }

    /// The durable error history of these stores, oldest first.
    private func errorHistory(_ names: [String]) -> [ErrorEntry] {
        names.flatMap { name in
            (state.stores[name]?.errors ?? []).map {
                ErrorEntry(store: name, run: $0.run, time: Timestamp(rawValue: $0.time),
                           code: SyncStatus(rawValue: $0.code), message: $0.message)
            }
        }.sorted { ($0.time, $0.store) < ($1.time, $1.store) }
    }

    /// Why the store's last run failed, for a store waiting to retry: the result and the last
    /// error that run reported ("network error: connection refused").
    static func failureReason(_ saved: DurableState.Store) -> String? {
        guard let last = saved.recentRuns.last else { return nil }
        let result = SyncStatus(rawValue: last.result)
        guard let error = saved.errors.last(where: { $0.run == last.run && SyncStatus(rawValue: $0.code).isFailure }) else {
            return result.text
        }
        return "\(result.text): \(error.message)"
    }

    /// The stores a history request names (all remembered ones when empty), each once however
    /// often it is named, so the answer is bounded by the stores; nil if one is unknown.
    private func rememberedStores(_ names: [String]) -> [String]? {
        guard !names.contains(where: isUnknown) else { return nil }
        var seen = Set<String>()
        return (names.isEmpty ? state.stores.keys.sorted() : names).filter { seen.insert($0).inserted }
    }

    /// Neither configured nor remembered in the state.
    private func isUnknown(_ name: String) -> Bool { config.stores[name] == nil && state.stores[name] == nil }

    /// The answer naming the first unknown store of `names`.
    private func unknownStore(_ names: [String]) -> ControlResult {
        unknownStore(names.first(where: isUnknown) ?? "")
    }

    /// The remembered finished runs of these stores, oldest first.
    private func runHistory(_ names: [String]) -> [RunRecord] {
        names.flatMap { name in
            (state.stores[name]?.recentRuns ?? []).map {
                RunRecord(store: name, run: $0.run, flags: SyncFlags(rawValue: $0.flags), trigger: RunTrigger(rawValue: $0.trigger),
                          started: Timestamp(rawValue: $0.started), ended: Timestamp(rawValue: $0.ended),
                          result: SyncStatus(rawValue: $0.result), warnings: $0.warnings, errors: $0.errors)
            }
        }.sorted { ($0.ended, $0.store) < ($1.ended, $1.store) }
    }

    /// The newest entries that fit ``maxErrorHistoryBytes``, and how many older ones were left out.
    static func capped(_ entries: [ErrorEntry]) -> ControlResult {
        var bytes = 0
        var kept = 0
        for entry in entries.reversed() {
            bytes += 32 + entry.store.utf8.count + entry.message.utf8.count
            if bytes > maxErrorHistoryBytes { break }
            kept += 1
        }
        return ControlResult(errors: Array(entries.suffix(kept)), omitted: UInt32(entries.count - kept))
    }

    private func unknownStore(_ name: String) -> ControlResult {
        let known = config.storeNames
        return ControlResult(.notFound, "no store named '\(name)'; " + (known.isEmpty ? "none are configured" : "known stores: " + known.joined(separator: ", ")))
    }

    /// Re-reads the configuration (SIGHUP or a reload request). A broken file is rejected whole
    /// and the running configuration stays; viewers and unaffected runs carry on.
    public func reload() async -> ControlResult {
        notifier.reloading(status: "reloading \(config.file)")
        // systemd ends a reload (RELOADING=1) only when it gets READY=1 again.
        defer { notifier.ready(status: lastStatus) }
        var next: DaemonConfig
        do {
            next = try DaemonConfig.load(file: config.file, factories: factories, defaults: options.locations.defaultSettings)
        } catch {
            logger.error("reload rejected: \(error)")
            return ControlResult(.config, "reload rejected, the previous configuration stays in effect: \(error)")
        }
        // Where the daemon listens and keeps state is fixed for its lifetime.
        next.settings.socket = config.settings.socket
        next.settings.stateDirectory = config.settings.stateDirectory
        let old = config
        config = next
        scheduler.maxConcurrent = next.settings.maxConcurrentRuns
        scheduler.retryAfter = next.settings.retryAfter
        scheduler.maxBackoff = next.settings.maxBackoff
        if next.settings.watchNetwork { watchNetwork() } else { stopWatchingNetwork() }
        let removed = Set(old.stores.keys).subtracting(next.stores.keys)
        let added = Set(next.stores.keys).subtracting(old.stores.keys)
        let changed = next.stores.values.filter { store in
            old.stores[store.name].map { $0.fingerprint != store.fingerprint } ?? false
        }
        await server.setAccess(Self.access(next.settings, owner: getuid()))
        for name in removed.sorted() {
            stopListener(name)
            logins.removeValue(forKey: name)?.task.cancel()
            state.stores[name]?.authRequired = false
            scheduler.remove(name)
            if runs[name] != nil {
                leaving.insert(name)
                cancel(name, reason: .reload)
            } else {
                server.publisher.publish(store: name, run: 0, .storeRemoved)
            }
        }
        let now = ContinuousClock.now
        for store in next.stores.values where added.contains(store.name) || changed.contains(where: { $0.name == store.name }) {
            scheduler.configure(
                store.name, interval: store.interval, flags: store.flags, runAtStartup: store.runAtStartup,
                paused: state.stores[store.name]?.paused ?? false, authRequired: state.stores[store.name]?.authRequired ?? false,
                now: now)
            // A changed store (another client, or a token helper instead) may log in now: it gets a
            // run to find out, unless a login is under way.
            if changed.contains(where: { $0.name == store.name }), logins[store.name] == nil {
                setAuthRequired(store.name, false)
            }
            // A changed store gets a listener built from its new configuration.
            stopListener(store.name)
            startListener(store.name)
            publishInfo(store.name)
        }
        startDueRuns()
        let summary = "reloaded \(next.file): \(added.count) added, \(removed.count) removed, \(changed.count) changed"
        logger.info("\(summary)")
        return ControlResult(.ok, summary)
    }
}

/// Hands control requests to the daemon, which exists only after the server it configures.
final class LateControl: ControlHandler {
    struct WeakDaemon: Sendable {
        weak var value: Daemon?
    }

    let daemon = Mutex(WeakDaemon())

    func handle(_ command: Request.Command, from peer: PeerCredentials) async -> ControlResult {
        guard let daemon = daemon.withLock({ $0.value }) else {
            return ControlResult(.shuttingDown, "the daemon is not ready")
        }
        return await daemon.handle(command, from: peer)
    }
}

/// A failure that stops the daemon, with what to do about it.
public struct DaemonError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
