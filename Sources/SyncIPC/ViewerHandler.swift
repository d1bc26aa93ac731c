import Logging
import NIOCore
import Synchronization
import SyncProtocol

/// One viewer connection: handshake, requests, and the bounded outbound queue.
///
/// Runs on the hub's event loop. Any protocol violation ends this connection, and only this one,
/// with a ``Goodbye`` that says why.
final class ViewerHandler: ChannelInboundHandler {
    typealias InboundIn = Message
    typealias OutboundOut = ByteBuffer

    private enum State {
        case greeting
        case ready
        case subscribed(stores: Set<String>?)
        case closing
    }

    /// Handlers alive in this process; a closed connection must bring it back down.
    static let live = Atomic<Int>(0)

    private let hub: Hub
    private let server: SyncServer.Configuration
    private var state = State.greeting
    /// Set while the handler is in a pipeline, and cleared when it leaves: the context holds the
    /// handler, so keeping it longer would keep both alive for good.
    private var context: ChannelHandlerContext?
    private var queue: ViewerQueue
    private var needsFlush = false
    private var admitted = false
    /// Closes a connection that says no hello in time, or later asks for nothing.
    private var idleTimer: Scheduled<Void>?
    /// Control and error-history requests awaiting the daemon's answer.
    private var inFlight = 0
    /// Control requests refused to this connection.
    private var denials = 0
    private var peer = PeerCredentials(pid: 0, uid: UInt32.max, gid: UInt32.max)
    /// The access decided at connect time: what Welcome says and what the per-user cap counts.
    private var access = AccessLevel.watch
    /// What the current policy grants, and the policy generation it was decided under: a reload
    /// that changes the control group applies to open connections too.
    private var currentAccess = (level: AccessLevel.watch, generation: -1)
    private var logger: Logger

    init(hub: Hub, server: SyncServer.Configuration) {
        self.hub = hub
        self.server = server
        self.queue = ViewerQueue(maxBytes: hub.limits.viewerQueueBytes)
        self.logger = hub.logger
        Self.live.add(1, ordering: .relaxed)
    }

    deinit {
        Self.live.subtract(1, ordering: .relaxed)
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = nil
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        // The credentials come first: who the peer is decides whether a slot is free for it.
        // The option is read on this loop, so the answer is there before any frame is read.
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        PeerCredentials.of(context.channel).whenComplete { result in
            bound.value.admit(result)
        }
        context.fireChannelActive()
    }

    private func admit(_ credentials: Result<PeerCredentials, Error>) {
        guard let context else { return }
        switch credentials {
        case .success(let peer):
            self.peer = peer
            access = hub.access.access(for: peer)
            currentAccess = (access, hub.accessGeneration)
            logger[metadataKey: "peer"] = "\(peer.pid)/\(peer.uid)"
        case .failure(let error):
            // Without credentials the peer is nobody: it may watch, never control.
            logger.warning("cannot read peer credentials: \(error)")
        }
        if let refusal = hub.admit(self, uid: peer.uid, access: access) {
            logger.warning("refusing viewer: \(refusal)")
            goodbye(.tooManyViewers, refusal)
            return
        }
        admitted = true
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        idleTimer = context.eventLoop.scheduleTask(in: hub.limits.handshakeTimeout) {
            bound.value.goodbye(.handshakeTimeout, "no hello within \(bound.value.hub.limits.handshakeTimeout.seconds) s")
        }
    }

    /// After the handshake: a connection that is not subscribed and waits for no answer gets
    /// ``SyncServer/Limits/idleTimeout`` to ask for something.
    private func rearmIdleTimer() {
        idleTimer?.cancel()
        idleTimer = nil
        guard case .ready = state, inFlight == 0, let context else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let timeout = hub.limits.idleTimeout
        idleTimer = context.eventLoop.scheduleTask(in: timeout) {
            bound.value.goodbye(.handshakeTimeout, "nothing requested within \(timeout.seconds) s of the handshake")
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = nil
        if denials > 1 {
            logger.notice("denied \(denials) control requests in all from uid \(peer.uid) pid \(peer.pid) on this connection")
        }
        if admitted { hub.release(self, uid: peer.uid, access: access) }
        admitted = false
        state = .closing
        queue.removeAll()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let error = error as? ProtocolError {
            logger.notice("closing viewer: \(error)")
            goodbye(error.status, error.description)
        } else {
            logger.debug("viewer connection error: \(error)")
            context.close(promise: nil)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { pump() }
        flushIfNeeded()
        context.fireChannelWritabilityChanged()
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = Self.unwrapInboundIn(data)
        switch (state, message) {
        case (.closing, _):
            return
        case (.greeting, .hello(let hello)):
            greet(hello)
        case (.greeting, _):
            goodbye(.unexpectedMessage, "expected a hello frame first, got type \(message.type)")
        case (_, .goodbye):
            // The viewer is leaving and says why; nothing to answer.
            state = .closing
            context.close(promise: nil)
        case (_, .request(let request)):
            handle(request)
        case (_, .unknown(let type, _)):
            logger.debug("skipping unknown message type \(type)")
        case (_, _):
            goodbye(.unexpectedMessage, "a viewer may not send message type \(message.type)")
        }
        flushIfNeeded()
    }

    private func greet(_ hello: Hello) {
        guard let version = ProtocolVersion.negotiate(hello.versions) else {
            let ours = ProtocolVersion.supported
            goodbye(.unsupportedVersion,
                    "client speaks versions \(hello.versions.lowerBound)...\(hello.versions.upperBound), server speaks \(ours.lowerBound)...\(ours.upperBound)")
            return
        }
        logger[metadataKey: "client"] = "\(hello.client)"
        state = .ready
        rearmIdleTimer()
        send(.welcome(Welcome(version: version, access: access, seq: hub.table.seq, server: server.serverName,
                              instance: server.instance)))
    }

    private func handle(_ request: Request) {
        switch request.command {
        case .subscribe(let stores, let since):
            guard case .ready = state else {
                reply(request, .unexpectedMessage, "already subscribed")
                return
            }
            state = .subscribed(stores: stores.isEmpty ? nil : Set(stores))
            rearmIdleTimer()
            hub.subscribe(self, requestID: request.id, stores: stores, since: since)
        case .status(let stores):
            let unknown = stores.filter { !hub.table.contains($0) }
            guard unknown.isEmpty else {
                reply(request, .notFound, Self.unknownStores(unknown, known: hub.table.names))
                return
            }
            send(.statusReply(StatusReply(requestID: request.id, snapshot: hub.table.snapshot(of: stores),
                                          viewers: hub.viewerCounts)))
            rearmIdleTimer()
        case .ping:
            // Answered here, on the event loop: a reply proves the loop that forwards events runs.
            reply(request, .ok, "pong")
            rearmIdleTimer()
        default:
            control(request)
        }
    }

    private func control(_ request: Request) {
        // The policy of now, not of connect time: a reload may have changed the control group.
        if currentAccess.generation != hub.accessGeneration {
            currentAccess = (hub.access.access(for: peer), hub.accessGeneration)
        }
        if request.command.needsControl, currentAccess.level != .control {
            // The first denial of a connection is logged; the rest are counted and summed up when
            // it closes, so an outsider's flood cannot flood the journal (or slow every viewer).
            denials += 1
            if denials == 1 {
                logger.notice("denied \(request.command.name) from uid \(peer.uid) pid \(peer.pid): not in the control group")
            }
            reply(request, .permissionDenied, "permission denied: \(request.command.name) — \(hub.access.controlHint)")
            return
        }
        guard let handler = server.control, let context else {
            reply(request, .failed, "this server accepts no \(request.command.name) requests")
            return
        }
        guard inFlight < hub.limits.requestsInFlight else {
            reply(request, .busy, "busy: \(inFlight) requests of this connection are still unanswered; wait for their answers")
            return
        }
        inFlight += 1
        idleTimer?.cancel()
        if inFlight == hub.limits.requestsInFlight {
            // Stop reading this connection until an answer frees a place: what it pipelines
            // beyond the bound waits in its own socket, not in the daemon's memory or time.
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        }
        let peer = self.peer
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        Task {
            let result = await handler.handle(request.command, from: peer)
            eventLoop.execute {
                let viewer = bound.value
                viewer.inFlight -= 1
                if viewer.inFlight == viewer.hub.limits.requestsInFlight - 1, let context = viewer.context {
                    context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
                }
                if let errors = result.errors {
                    viewer.send(.errorHistory(ErrorHistory(requestID: request.id, entries: errors, omitted: result.omitted)))
                } else if let runs = result.runs {
                    viewer.send(.runHistory(RunHistory(requestID: request.id, runs: runs)))
                } else {
                    viewer.reply(request, result.status, result.message)
                }
                viewer.rearmIdleTimer()
                viewer.flushIfNeeded()
            }
        }
    }

    private func reply(_ request: Request, _ status: SyncStatus, _ message: String) {
        send(.reply(Reply(requestID: request.id, status: status, message: message)))
    }

    static func unknownStores(_ unknown: [String], known: [String]) -> String {
        let names = unknown.map { "'\($0)'" }.joined(separator: ", ")
        let list = known.isEmpty ? "none are configured" : "known stores: " + known.joined(separator: ", ")
        return "no store named \(names); \(list)"
    }

    // MARK: Outbound

    /// Hands events to this viewer: written at once while it keeps up, else queued as ranges of
    /// the shared batch. A viewer of all stores takes a whole range in one write.
    /// - Returns: false if the viewer was dropped as too slow.
    func deliver(_ batch: EncodedBatch, _ range: Range<Int>) -> Bool {
        guard case .subscribed(let stores) = state else { return false }
        guard let stores else { return write(.events(batch, range)) }
        // Runs of consecutive events of the subscribed stores go out as one slice each.
        var start: Int?
        for index in range {
            if stores.contains(batch.events[index].store) {
                if start == nil { start = index }
            } else if let first = start {
                guard write(.events(batch, first..<index)) else { return false }
                start = nil
            }
        }
        if let first = start { return write(.events(batch, first..<range.upperBound)) }
        return true
    }

    /// Sends a frame that is never dropped (replies, snapshots).
    func send(_ message: Message) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: 64)
        Frame.encode(message, into: &buffer)
        _ = write(.frame(buffer))
    }

    private func write(_ chunk: ViewerQueue.Chunk) -> Bool {
        if case .closing = state { return false }
        guard let context else { return false }
        if queue.isEmpty, context.channel.isWritable {
            context.write(Self.wrapOutboundOut(chunk.bytes), promise: nil)
            needsFlush = true
            return true
        }
        guard queue.append(chunk) else {
            logger.notice("disconnecting slow viewer: \(queue.bytes) bytes waiting")
            hub.noteDroppedAsTooSlow()
            goodbye(.tooSlow, "viewer too slow: more than \(queue.maxBytes) bytes waiting; reconnect with since=<the last seq you received> to resume")
            return false
        }
        return true
    }

    private func pump() {
        guard let context else { return }
        while context.channel.isWritable, let frame = queue.popFirst() {
            context.write(Self.wrapOutboundOut(frame), promise: nil)
            needsFlush = true
        }
    }

    func flushIfNeeded() {
        guard needsFlush else { return }
        needsFlush = false
        context?.flush()
    }

    /// Tells the peer why, then closes: once the notice is written, or after a grace period if
    /// the peer does not read it. Whatever was queued for the peer is dropped first, so the
    /// notice comes right after what the socket already holds.
    func goodbye(_ code: SyncStatus, _ message: String) {
        if case .closing = state { return }
        state = .closing
        idleTimer?.cancel()
        idleTimer = nil
        hub.unsubscribe(self)
        queue.removeAll()
        guard let context else { return }
        let channel = context.channel
        let written = context.eventLoop.makePromise(of: Void.self)
        var buffer = channel.allocator.buffer(capacity: 64)
        Frame.encode(.goodbye(Goodbye(code: code, message: message)), into: &buffer)
        needsFlush = false
        context.writeAndFlush(Self.wrapOutboundOut(buffer), promise: written)
        // A viewer dropped for being slow is behind by what its socket holds; give it time to read
        // up to the notice. Either way the connection no longer reads requests.
        let grace = code == .tooSlow ? hub.limits.slowViewerGrace : hub.limits.goodbyeGrace
        let deadline = context.eventLoop.scheduleTask(in: grace) {
            channel.close(promise: nil)
        }
        written.futureResult.whenComplete { _ in
            deadline.cancel()
            channel.close(promise: nil)
        }
    }
}

extension TimeAmount {
    var seconds: Double { Double(nanoseconds) / 1_000_000_000 }
}
