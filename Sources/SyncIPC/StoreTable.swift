import SyncProtocol

/// Every store's current state, folded from the event stream: the source of snapshots.
///
/// Because it is built only from events, a snapshot taken after applying event N is exactly what
/// a viewer that saw events 1...N would know. The server keeps one to answer status and new
/// viewers; a viewer keeps one to draw from (start it from the snapshot, then apply events).
public struct StoreTable: Sendable {
    private var stores: [String: StoreStatus] = [:]
    /// Sequence number of the last event applied.
    public private(set) var seq: UInt64

    public init(seq: UInt64) { self.seq = seq }

    /// The state a snapshot describes.
    public init(_ snapshot: Snapshot) {
        seq = snapshot.seq
        for store in snapshot.stores { stores[store.name] = store }
    }

    public var names: [String] { stores.keys.sorted() }

    public subscript(store: String) -> StoreStatus? { stores[store] }

    public func contains(_ store: String) -> Bool { stores[store] != nil }

    /// Applies one event, as docs/PROTOCOL.md §4.5 describes.
    public mutating func apply(_ event: SyncEvent) {
        seq = event.seq
        switch event.kind {
        case .storeChanged(let info):
            stores[event.store, default: StoreStatus(name: event.store, info: info)].info = info
        case .storeRemoved:
            stores[event.store] = nil
        case .newMessages:
            break  // news, not state
        case .runStarted(let flags, let trigger):
            stores[event.store, default: Self.unannounced(event.store)].run = RunStatus(
                id: event.run, flags: flags, trigger: trigger, started: event.time)
        case .progress(let step, let index, let max):
            update(event) { run in
                if let step { run.step = step }
                run.index = index
                run.max = max
            }
        case .error(let code, _):
            update(event) { run in
                if code.isFailure { run.errors &+= 1 } else { run.warnings &+= 1 }
            }
        case .done(let result):
            guard var store = stores[event.store], store.run?.id == event.run else { return }
            store.run = nil
            store.info.stalled = false
            store.info.lastResult = result
            store.info.lastRunEnded = event.time
            if !result.isFailure { store.info.lastSuccess = event.time }
            stores[event.store] = store
        }
    }

    /// The stores named (all when empty), ordered by name, as of the last applied event.
    public func snapshot(of names: [String] = []) -> Snapshot {
        let selected = names.isEmpty ? self.names : names
        return Snapshot(seq: seq, stores: selected.compactMap { stores[$0] })
    }

    private mutating func update(_ event: SyncEvent, _ change: (inout RunStatus) -> Void) {
        // In place, with one lookup: this runs for every event of a flood. Through `values`, not
        // `stores[key]?`, which moves the whole record out and back in.
        guard let index = stores.index(forKey: event.store) else { return }
        stores.values[index].updateRun(event.run, change)
    }

    // A run for a store the daemon never described still shows up rather than vanishing.
    private static func unannounced(_ name: String) -> StoreStatus {
        StoreStatus(name: name, info: StoreInfo(provider: ""))
    }
}

private extension StoreStatus {
    mutating func updateRun(_ id: RunID, _ change: (inout RunStatus) -> Void) {
        guard run?.id == id else { return }
        change(&run!)
    }
}
