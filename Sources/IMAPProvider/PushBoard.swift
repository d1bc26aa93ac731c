import Foundation
import Synchronization
import SyncDaemon
import SyncProtocol

/// What an imap store's listener tells the host of itself, folded from each IDLE connection's
/// state and the Maildir watch: "IDLE, 3 folders", "in 20s: connection reset".
final class PushBoard: Sendable {
    enum Connection: Sendable {
        case connecting
        case idling
        case waiting(until: ContinuousClock.Instant, reason: String)
    }

    private struct State {
        var folders: [String: Connection] = [:]
        /// Pushed folders beyond `push_connections`, left to the interval.
        var leftOut = 0
        var notOffered = false
        var watchingMaildir = false
        /// With NOTIFY: how many folders its one connection (entry "NOTIFY") watches.
        var notifyFolders: Int?
        var said: (PushState, String?)?
    }

    private let host: ListenerHost
    private let state = Mutex(State())

    init(host: ListenerHost) {
        self.host = host
    }

    func set(_ folder: String, _ connection: Connection) {
        update { $0.folders[folder] = connection }
    }

    func remove(_ folder: String) {
        update { $0.folders[folder] = nil }
    }

    /// The server side listens again (its folders changed): no connection, no NOTIFY, none left out.
    func removeServerConnections() {
        update { $0.folders = [:]; $0.notifyFolders = nil; $0.leftOut = 0 }
    }

    func setLeftOut(_ count: Int) { update { $0.leftOut = count } }
    func setNotify(folders: Int) { update { $0.notifyFolders = folders } }
    func clearNotify() { update { $0.notifyFolders = nil } }
    func setNotOffered() { update { $0.notOffered = true } }
    func setWatchingMaildir(_ watching: Bool) { update { $0.watchingMaildir = watching } }

    private func update(_ change: (inout State) -> Void) {
        let message: (PushState, String?)? = state.withLock { state in
            change(&state)
            let now = Self.summary(state)
            if let said = state.said, said.0 == now.0, said.1 == now.1 { return nil }
            state.said = now
            return now
        }
        if let message { host.setState(message.0, detail: message.1) }
    }

    private static func summary(_ state: State) -> (PushState, String?) {
        let local = state.watchingMaildir ? "Maildir watched" : nil
        if state.notOffered {
            return (.notOffered, ["the server has no IDLE", local].compactMap { $0 }.joined(separator: "; "))
        }
        let waiting = state.folders.values.compactMap { connection -> (ContinuousClock.Instant, String)? in
            if case .waiting(let until, let reason) = connection { return (until, reason) }
            return nil
        }
        if let soonest = waiting.min(by: { $0.0 < $1.0 }) {
            let seconds = max(0, Int(((soonest.0 - .now) / .seconds(1)).rounded(.up)))
            return (.reconnecting, "in \(seconds)s: \(soonest.1)")
        }
        let idling = state.folders.values.filter { if case .idling = $0 { true } else { false } }.count
        var parts: [String] = []
        if let notified = state.notifyFolders {
            parts.append("NOTIFY\(idling > 0 ? "" : " connecting"), \(notified) folder\(notified == 1 ? "" : "s")")
            if let local { parts.append(local) }
            if idling == 0, local == nil { return (.reconnecting, parts.joined(separator: "; ")) }
            return (.listening, parts.joined(separator: "; "))
        } else if !state.folders.isEmpty {
            parts.append("IDLE, \(idling) folder\(idling == 1 ? "" : "s")" + (state.leftOut > 0 ? " (\(state.leftOut) more left to the interval)" : ""))
        }
        if let local { parts.append(local) }
        if state.folders.isEmpty, local == nil { return (.notConfigured, nil) }
        let connecting = state.folders.count - idling
        return (connecting > 0 && idling == 0 && local == nil ? .reconnecting : .listening,
                parts.joined(separator: "; ") + (connecting > 0 ? ", \(connecting) connecting" : ""))
    }
}
