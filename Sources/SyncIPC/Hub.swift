import Logging
import NIOCore
import SyncProtocol

/// The forwarder: owns the store table, the replay ring and the subscribed viewers.
///
/// Lives on the server's one event loop, as do all viewer connections, so nothing here is locked:
/// events arrive from ``EventPublisher`` in batches, each event is encoded once into one buffer,
/// and every viewer gets slices of that same buffer.
final class Hub {
    let eventLoop: EventLoop
    let limits: SyncServer.Limits
    let logger: Logger
    /// Who may control; replaced on reload. Connections decide again when ``accessGeneration``
    /// moves (deciding looks up the group database, too dear for every request of a flood).
    var access: AccessPolicy {
        didSet { accessGeneration &+= 1 }
    }
    private(set) var accessGeneration = 0
    /// Open connections per watch-only user, for ``SyncServer/Limits/maxViewersPerUser``.
    private var watchersByUser: [UInt32: Int] = [:]
    private(set) var table: StoreTable
    private var ring: EventRing
    private var subscribers: [ViewerHandler] = []
    /// Every admitted connection, subscribed or not.
    private(set) var viewers: [ObjectIdentifier: ViewerHandler] = [:]
    private var batch: [SyncEvent] = []
    private let allocator = ByteBufferAllocator()
    /// Set by the server right after both exist (they refer to each other).
    var publisher: EventPublisher!

    /// Most events encoded into one buffer and written together (~64 KiB of Progress). A viewer
    /// that keeps up takes a whole batch in one write, so this also bounds what one write may
    /// add to a viewer's socket beyond its queue cap.
    static let maxBatch = 1024

    /// How long the forwarder may keep the loop from its sockets while events keep coming: what
    /// a viewer's request may wait during a flood.
    static let drainBudget = TimeAmount.microseconds(500)

    /// How soon a forwarder that used up its budget drains again, once the loop has polled its
    /// sockets. Short, because events wait meanwhile: the loop is the fan-out's bottleneck in a
    /// flood, and at 1 ms it sat idle for a third of the time or more.
    static let redrainDelay = TimeAmount.microseconds(50)

    /// The loop's ticks, and the tick and time at which the current run of drains began: drains
    /// woken one after another within one tick add up to one drain's budget.
    private let ticks: LoopTicks
    private var chainTick: UInt64 = .max
    private var chainStart = NIODeadline.uptimeNanoseconds(0)

    init(eventLoop: EventLoop, limits: SyncServer.Limits, access: AccessPolicy, firstSeq: UInt64,
         ticks: LoopTicks, logger: Logger) {
        self.eventLoop = eventLoop
        self.limits = limits
        self.access = access
        self.ticks = ticks
        self.logger = logger
        self.table = StoreTable(seq: firstSeq &- 1)
        self.ring = EventRing(capacity: limits.replayEvents)
    }

    // MARK: Connections

    /// Registers a new connection, or says why not: the server is full, or (for a watch-only
    /// peer) the slots left are reserved for control peers, or its user holds enough already.
    func admit(_ viewer: ViewerHandler, uid: UInt32, access level: AccessLevel) -> String? {
        let total = limits.maxViewers
        if level == .control {
            guard viewers.count < total else { return "too many viewers: the server accepts \(total)" }
        } else {
            let open = max(0, total - limits.reservedControlSlots)
            guard viewers.count < open else {
                return "too many viewers: the server accepts \(total), and the last \(total - open) only from root or the control group"
            }
            let held = watchersByUser[uid, default: 0]
            guard held < limits.maxViewersPerUser else {
                return "too many viewers: uid \(uid) already has \(held) connections (the limit per user is \(limits.maxViewersPerUser))"
            }
            watchersByUser[uid] = held + 1
        }
        viewers[ObjectIdentifier(viewer)] = viewer
        return nil
    }

    func release(_ viewer: ViewerHandler, uid: UInt32, access level: AccessLevel) {
        guard viewers.removeValue(forKey: ObjectIdentifier(viewer)) != nil else { return }
        if level == .watch {
            let held = watchersByUser[uid, default: 1] - 1
            watchersByUser[uid] = held > 0 ? held : nil
        }
        unsubscribe(viewer)
    }

    var subscriberCount: Int { subscribers.count }

    /// Viewers disconnected as too slow since the server started.
    private(set) var droppedAsTooSlow: UInt64 = 0

    /// Counts a viewer dropped as too slow, for status replies.
    func noteDroppedAsTooSlow() { droppedAsTooSlow &+= 1 }

    var viewerCounts: ViewerCounts {
        ViewerCounts(watching: UInt32(clamping: subscribers.count), droppedAsTooSlow: droppedAsTooSlow)
    }

    // MARK: Subscriptions

    /// Starts `viewer`'s event stream: a replay when `since` is still in the ring, else a snapshot.
    func subscribe(_ viewer: ViewerHandler, requestID: UInt32, stores: [String], since: UInt64?) {
        let latest = table.seq
        var start = Subscribed.Start.snapshot
        var replay: [(EncodedBatch, Range<Int>)]?
        if let since {
            replay = ring.events(after: since, latest: latest)
            start = replay == nil ? .resync(since: since, oldest: ring.oldestSeq ?? latest &+ 1) : .replay(since: since)
        }
        subscribers.append(viewer)
        viewer.send(.subscribed(Subscribed(requestID: requestID, start: start)))
        if let replay {
            for (batch, range) in replay {
                guard viewer.deliver(batch, range) else { break }
            }
        } else {
            viewer.send(.snapshot(table.snapshot(of: stores)))
        }
        viewer.flushIfNeeded()
    }

    func unsubscribe(_ viewer: ViewerHandler) {
        subscribers.removeAll { $0 === viewer }
    }

    // MARK: Forwarding

    /// Runs on the event loop when the publisher has events. Takes and forwards what is pending,
    /// again and again while more arrives; when nothing is left, marks the publisher idle, so that
    /// its next event wakes the loop at once. Drains within one tick of the loop (woken one after
    /// another by a steady stream) may together take ``drainBudget``; past it, the next drain is
    /// scheduled for after the loop has polled its sockets, so viewers' I/O interleaves with a
    /// flood. Each take is at most 4 × ``maxBatch``.
    func drain() {
        let now = NIODeadline.now()
        let tick = ticks.current
        if tick != chainTick {
            chainTick = tick
            chainStart = now
        }
        let deadline = chainStart + Self.drainBudget
        repeat {
            // Past the budget the publisher stays marked busy even when empty: marked idle, it
            // would wake the loop with a new task for each event of a steady stream, and the loop,
            // which runs tasks until none are left, would never poll its sockets again.
            let overBudget = NIODeadline.now() >= deadline
            publisher.take(into: &batch, limit: Self.maxBatch * 4, stayBusy: overBudget)
            if batch.isEmpty {
                if overBudget { break }
                return  // the publisher is marked idle now: its next event wakes us
            }
            var start = 0
            while start < batch.count {
                let end = Swift.min(start + Self.maxBatch, batch.count)
                forward(batch[start..<end])
                start = end
            }
            batch.removeAll(keepingCapacity: true)
        } while NIODeadline.now() < deadline
        // Busy: drain again without the publisher having to wake the loop. As a scheduled
        // task, not `execute`: the loop runs queued tasks until none are left before it polls
        // sockets, so a drain that requeued itself at once would starve every viewer's requests
        // while a provider floods. A task due a little later makes the loop poll its sockets first.
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        eventLoop.scheduleTask(in: Self.redrainDelay) { bound.value.drain() }
    }

    private func forward(_ events: ArraySlice<SyncEvent>) {
        var buffer = allocator.buffer(capacity: events.count * 96)
        var encoded: [EncodedEvent] = []
        encoded.reserveCapacity(events.count)
        for event in events {
            let offset = buffer.writerIndex
            Frame.encode(event, into: &buffer)
            table.apply(event)
            var carriesStep = false
            if case .progress(.some, _, _) = event.kind { carriesStep = true }
            encoded.append(EncodedEvent(
                seq: event.seq, store: event.store, progressOf: event.isSupersedable ? event.run : nil,
                carriesStep: carriesStep, offset: offset, length: buffer.writerIndex - offset))
        }
        let batch = EncodedBatch(bytes: buffer, events: encoded)
        ring.append(batch)
        // `subscribers` is iterated as a copy: a viewer that overflows unsubscribes during delivery.
        for viewer in subscribers {
            _ = viewer.deliver(batch, 0..<encoded.count)
            viewer.flushIfNeeded()
        }
    }
}
