import Logging
import NIOCore
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

    private let hub: Hub
    private let server: SyncServer.Configuration
    private var state = State.greeting
    private var context: ChannelHandlerContext!
    private var queue: ViewerQueue
    private var needsFlush = false
    private var admitted = false
    private var handshakeTimer: Scheduled<Void>?
    private var peer = PeerCredentials(pid: 0, uid: UInt32.max, gid: UInt32.max)
    private var access = AccessLevel.watch
    private var logger: Logger

    init(hub: Hub, server: SyncServer.Configuration) {
        self.hub = hub
        self.server = server
        self.queue = ViewerQueue(maxBytes: hub.limits.viewerQueueBytes)
        self.logger = hub.logger
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelActive(context: ChannelHandlerContext) {
        guard hub.admit(self) else {
            logger.warning("refusing viewer: \(hub.limits.maxViewers) viewers already connected")
            goodbye(.tooManyViewers, "too many viewers: the server accepts \(hub.limits.maxViewers)")
            return
        }
        admitted = true
        let channel = context.channel
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        PeerCredentials.of(channel).whenComplete { result in
            let viewer = bound.value
            switch result {
            case .success(let peer):
                viewer.peer = peer
                viewer.access = viewer.server.access.access(for: peer)
                viewer.logger[metadataKey: "peer"] = "\(peer.pid)/\(peer.uid)"
            case .failure(let error):
                // Without credentials the peer is nobody: it may watch, never control.
                viewer.logger.warning("cannot read peer credentials: \(error)")
            }
        }
        handshakeTimer = context.eventLoop.scheduleTask(in: hub.limits.handshakeTimeout) {
            bound.value.goodbye(.handshakeTimeout, "no hello within \(bound.value.hub.limits.handshakeTimeout.seconds) s")
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshakeTimer?.cancel()
        if admitted { hub.release(self) }
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
        handshakeTimer?.cancel()
        guard let version = ProtocolVersion.negotiate(hello.versions) else {
            let ours = ProtocolVersion.supported
            goodbye(.unsupportedVersion,
                    "client speaks versions \(hello.versions.lowerBound)...\(hello.versions.upperBound), server speaks \(ours.lowerBound)...\(ours.upperBound)")
            return
        }
        logger[metadataKey: "client"] = "\(hello.client)"
        state = .ready
        send(.welcome(Welcome(version: version, access: access, seq: hub.table.seq, server: server.serverName)))
    }

    private func handle(_ request: Request) {
        switch request.command {
        case .subscribe(let stores, let since):
            guard case .ready = state else {
                reply(request, .unexpectedMessage, "already subscribed")
                return
            }
            state = .subscribed(stores: stores.isEmpty ? nil : Set(stores))
            hub.subscribe(self, requestID: request.id, stores: stores, since: since)
        case .status(let stores):
            let unknown = stores.filter { !hub.table.contains($0) }
            guard unknown.isEmpty else {
                reply(request, .notFound, Self.unknownStores(unknown, known: hub.table.names))
                return
            }
            send(.statusReply(StatusReply(requestID: request.id, snapshot: hub.table.snapshot(of: stores))))
        default:
            control(request)
        }
    }

    private func control(_ request: Request) {
        guard access == .control || !request.command.needsControl else {
            reply(request, .permissionDenied, "permission denied: \(request.command.name) — \(server.access.controlHint)")
            return
        }
        guard let handler = server.control else {
            reply(request, .failed, "this server accepts no \(request.command.name) requests")
            return
        }
        let peer = self.peer
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        Task {
            let result = await handler.handle(request.command, from: peer)
            eventLoop.execute {
                let viewer = bound.value
                if let errors = result.errors {
                    viewer.send(.errorHistory(ErrorHistory(requestID: request.id, entries: errors)))
                } else {
                    viewer.reply(request, result.status, result.message)
                }
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
        var buffer = context.channel.allocator.buffer(capacity: 64)
        Frame.encode(message, into: &buffer)
        _ = write(.frame(buffer))
    }

    private func write(_ chunk: ViewerQueue.Chunk) -> Bool {
        if case .closing = state { return false }
        if queue.isEmpty, context.channel.isWritable {
            context.write(Self.wrapOutboundOut(chunk.bytes), promise: nil)
            needsFlush = true
            return true
        }
        guard queue.append(chunk) else {
            logger.notice("disconnecting slow viewer: \(queue.bytes) bytes waiting")
            goodbye(.tooSlow, "viewer too slow: more than \(queue.maxBytes) bytes waiting; reconnect with since=<the last seq you received> to resume")
            return false
        }
        return true
    }

    private func pump() {
        while context.channel.isWritable, let frame = queue.popFirst() {
            context.write(Self.wrapOutboundOut(frame), promise: nil)
            needsFlush = true
        }
    }

    func flushIfNeeded() {
        guard needsFlush else { return }
        needsFlush = false
        context.flush()
    }

    /// Tells the peer why, then closes: once the notice is written, or after a grace period if
    /// the peer does not read it.
    func goodbye(_ code: SyncStatus, _ message: String) {
        if case .closing = state { return }
        state = .closing
        handshakeTimer?.cancel()
        hub.unsubscribe(self)
        queue.removeAll()
        let channel = context.channel
        let written = context.eventLoop.makePromise(of: Void.self)
        send(goodbye: Goodbye(code: code, message: message), promise: written)
        let deadline = context.eventLoop.scheduleTask(in: hub.limits.goodbyeGrace) {
            channel.close(promise: nil)
        }
        written.futureResult.whenComplete { _ in
            deadline.cancel()
            channel.close(promise: nil)
        }
    }

    private func send(goodbye: Goodbye, promise: EventLoopPromise<Void>) {
        var buffer = context.channel.allocator.buffer(capacity: 64)
        Frame.encode(.goodbye(goodbye), into: &buffer)
        needsFlush = false
        context.writeAndFlush(Self.wrapOutboundOut(buffer), promise: promise)
    }
}

extension TimeAmount {
    var seconds: Double { Double(nanoseconds) / 1_000_000_000 }
}
