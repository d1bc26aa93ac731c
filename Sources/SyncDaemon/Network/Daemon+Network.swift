import Logging
import SyncProtocol

extension Daemon {
    /// What status shows beside a store's push state `offline`.
    static let offlineDetail = "no network"

    /// Follows the default route (``NetworkWatcher``, ``Connectivity``) until the daemon stops or a
    /// reload turns `watch_network` off.
    func watchNetwork() {
        guard networkWatcher == nil else { return }
        var networkLogger = logger
        networkLogger[metadataKey: "component"] = "network"
        let watcher = NetworkWatcher(logger: networkLogger)
        networkWatcher = watcher
        watcher.start()
        Task { [weak self] in
            for await routes in watcher.routes { await self?.routesChanged(routes, by: watcher) }
        }
    }

    /// `watch_network = false` by a reload: the routes no longer matter, so an offline daemon is
    /// online again.
    func stopWatchingNetwork() {
        guard let watcher = networkWatcher else { return }
        networkWatcher = nil
        watcher.stop()
        let wasOffline = connectivity.isOffline
        connectivity = Connectivity()
        logger.info("network: no longer watched (watch_network = false)")
        if wasOffline { networkBack() }
    }

    private func routesChanged(_ routes: [DefaultRoute], by watcher: NetworkWatcher) {
        // A watcher stopped by a reload may still have had a word on its way.
        guard networkWatcher === watcher, !stopping else { return }
        let first = connectivity.routes == nil
        switch connectivity.update(routes) {
        case .none:
            guard first else { return }
            if let route = routes.first {
                logger.info("network: online via \(Self.describe(route))")
            } else {
                logger.info("network: no default route; stores sync regardless until one has been seen to go")
            }
        case .offline:
            logger.notice("network: offline (no default route)")
            goOffline()
        case .online(let route):
            logger.notice("network: online via \(Self.describe(route))")
            networkBack()
        case .changed(let route):
            logger.notice("network: online via \(Self.describe(route)) (the default route changed)")
            networkBack()
        }
    }

    /// No route: listeners stop (their reconnects could only fail), and no scheduled run or
    /// retry starts until the route is back (``Scheduler/offline``); a run in progress goes on
    /// and ends as it ends, and an on-demand run still starts (someone asked for it).
    private func goOffline() {
        scheduler.offline = true
        stopListeners()
        for name in config.storeNames { publishInfo(name) }
        startDueRuns()
    }

    /// A route again, or another one: as after a resume.
    private func networkBack() {
        scheduler.offline = false
        reconnectAndCatchUp()
    }

    /// "wlan0 (gateway 192.168.1.1)".
    static func describe(_ route: DefaultRoute) -> String {
        guard let gateway = route.gatewayText else { return "\(route)" }
        return "\(route) (gateway \(gateway))"
    }
}
