import Logging
import NIOCore
import SyncIPC
import SyncProtocol

/// syncd-http's one subscription to the daemon and everything fed from it: the store table, the
/// metrics, and the `/events` clients. However many browsers watch, the daemon sees one viewer.
actor Bridge {
    let socket: String
    /// Whether this server offers controls at all (a token file or a trusted proxy): the daemon
    /// must also grant this process control, see ``controls``.
    let controlsConfigured: Bool
    private let logger: Logger
    private(set) var table: StoreTable?
    private var connected = false
    private var reason: String?
    private var granted = false
    private var metrics = Metrics()
    private var ring = FrameRing(capacity: 4096)
    private var clients: [UInt64: ClientMailbox] = [:]
    private var nextClient: UInt64 = 0

    /// Frames a client may fall behind by before it is cut off (it reconnects with Last-Event-ID).
    static let clientBacklog = 8192

    init(socket: String, controlsConfigured: Bool, logger: Logger) {
        self.socket = socket
        self.controlsConfigured = controlsConfigured
        self.logger = logger
    }

    /// Controls are offered when configured and the daemon gave this process control access.
    var controls: Bool { controlsConfigured && granted }

    /// Follows the daemon until cancelled, reconnecting with "since seq" after a restart.
    func run() async {
        let beat = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(15))
                await self?.broadcast(SSEFrame.keepalive)
            }
        }
        defer { beat.cancel() }
        var resynced = false
        for await update in SyncClient.watch(socketPath: socket, clientName: "syncd-http") {
            switch update {
            case .connected(let welcome):
                connected = true
                reason = nil
                granted = welcome.access == .control
                metrics.connected(true)
                logger.info("attached to syncd", metadata: ["socket": "\(socket)", "access": "\(welcome.access)"])
                broadcastDaemon()
            case .resynced:
                resynced = true
                metrics.resynced()
            case .snapshot(let snapshot):
                if resynced { await fillGap() }
                resynced = false
                table = StoreTable(snapshot)
                metrics.attach(snapshot)
                ring.reset(base: snapshot.seq)
                broadcast(SSEFrame.snapshot(snapshot))
            case .event(let event):
                if table == nil { table = StoreTable(seq: 0) }
                table!.apply(event)  // in place: a copy would duplicate every store per event
                metrics.apply(event)
                let frame = SSEFrame.event(event, store: table![event.store])
                ring.append(seq: event.seq, frame)
                broadcast(frame)
            case .disconnected(let why):
                connected = false
                reason = why
                metrics.connected(false)
                logger.warning("lost syncd: \(why); reconnecting")
                broadcastDaemon()
            }
        }
        for client in clients.values { client.finish() }
        clients.removeAll()
    }

    /// A new `/events` client: the daemon frame, then what it missed after `lastEventID` (from the
    /// ring) or a snapshot, then live frames. The caller ``detach(_:)``es it when the client leaves.
    func attach(lastEventID: UInt64?) -> (id: UInt64, mailbox: ClientMailbox) {
        let mailbox = ClientMailbox(limit: Self.clientBacklog)
        let id = nextClient
        nextClient += 1
        _ = mailbox.post(daemonFrame)
        if let lastEventID, let missed = ring.frames(after: lastEventID) {
            for frame in missed { _ = mailbox.post(frame) }  // the ring is smaller than the backlog
        } else if let table {
            _ = mailbox.post(SSEFrame.snapshot(table.snapshot()))
        }
        clients[id] = mailbox
        metrics.sseClients.set(to: Double(clients.count))
        return (id, mailbox)
    }

    func detach(_ id: UInt64) {
        clients.removeValue(forKey: id)?.finish()
        metrics.sseClients.set(to: Double(clients.count))
    }

    /// The text a scrape gets; `viewers` is the daemon's answer to a status request made for it
    /// (nil when there was none: the viewer metrics keep their last values).
    func metricsText(viewers: ViewerCounts?) -> String {
        if let viewers { metrics.daemonViewers(viewers) }
        return metrics.render(table, connected: connected)
    }

    private var daemonFrame: ByteBuffer {
        SSEFrame.daemon(connected: connected, reason: reason, controls: controls)
    }

    private func broadcastDaemon() { broadcast(daemonFrame) }

    private func broadcast(_ frame: ByteBuffer) {
        for (id, client) in clients {
            if !client.post(frame) {
                // Its backlog is full: cut it off rather than hold frames for it without bound.
                clients[id] = nil
                metrics.sseDropped.increment()
            }
        }
        metrics.sseClients.set(Double(clients.count))
    }

    /// Counts the runs and errors that ended while the daemon's replay could not cover the gap.
    private func fillGap() async {
        do {
            let (runs, errors) = try await DaemonRequest.histories(socket: socket)
            metrics.fillGap(runs: runs, errors: errors)
        } catch {
            logger.warning("could not read the run history after a gap: \(error)")
        }
    }
}
