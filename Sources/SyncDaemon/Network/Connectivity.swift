/// Whether the daemon counts itself offline, from the default routes ``NetworkWatcher`` reports:
/// a pure state machine that turns each report into what changed.
///
/// Offline means "no default route, though there was one": a machine that never had one since
/// the daemon started (a server whose mail host is on its LAN or on loopback, a container
/// without a gateway) syncs as if the watcher were not there, since the missing route says
/// nothing about whether its stores can be reached. A laptop that loses its Wi-Fi had one.
struct Connectivity {
    enum Change: Equatable {
        /// Nothing that matters: the first report, or the same routes again.
        case none
        /// The last default route went.
        case offline
        /// A default route appeared, the first since start or since the daemon went offline.
        case online(via: DefaultRoute)
        /// Another gateway or interface carries the default route (a new Wi-Fi, a cable plugged
        /// in), or one family's route went while the other's stays: connections made through the
        /// old one may be dead without knowing it. A family's route appearing beside the other's
        /// (IPv6's router advertisement a moment after IPv4's DHCP) is no change: what runs
        /// through the old one still does.
        case changed(via: DefaultRoute)
    }

    /// The last report; nil before the first.
    private(set) var routes: [DefaultRoute]?
    /// A default route was seen since the daemon started.
    private(set) var seenRoute = false

    var isOffline: Bool { seenRoute && routes?.isEmpty == true }

    mutating func update(_ new: [DefaultRoute]) -> Change {
        guard let old = routes else {
            routes = new
            seenRoute = !new.isEmpty
            return .none
        }
        routes = new
        guard new != old else { return .none }
        guard let via = new.first else { return seenRoute ? .offline : .none }
        seenRoute = true
        if old.isEmpty { return .online(via: via) }
        return old.allSatisfy(new.contains) ? .none : .changed(via: via)
    }
}
