#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix
import Synchronization
import SyncProtocol

/// A viewer's connection to a syncd server: handshake, requests, and a live event subscription.
///
/// All methods are safe to call from any task. One subscription per connection; open another
/// connection for a second one.
public final class SyncClient: Sendable {
    /// The server's welcome: version, this connection's access level, the latest sequence number.
    public let welcome: Welcome
    private let channel: Channel
    private let core: ClientCore
    /// Longest wait for the answer to one request.
    private let requestTimeout: TimeAmount

    /// Connects to the server at `socketPath` and completes the handshake.
    ///
    /// - Throws: ``SyncClientError`` saying whether the socket is missing, refused, or not allowed,
    ///   or why the server ended the handshake.
    public static func connect(
        to socketPath: String, clientName: String, timeout: TimeAmount = .seconds(5),
        requestTimeout: TimeAmount = .seconds(30), group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> SyncClient {
        let core = ClientCore()
        let channel: Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(timeout)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers(
                            ByteToMessageHandler(MessageDecoder(limit: Frame.defaultServerFrameLimit)),
                            ClientHandler(core: core))
                    }
                }
                .connect(unixDomainSocketPath: socketPath).get()
        } catch {
            throw SyncClientError.connectFailed(socketPath, error)
        }
        let welcome: Message
        do {
            welcome = try await withTimeout(timeout, on: channel, core: core) {
                try await withCheckedThrowingContinuation { continuation in
                    // The server may have said goodbye and closed before we got here (a full
                    // server does so at once): then there is nothing left to wait for.
                    let closed = core.state.withLock { state -> SyncClientError? in
                        if let closed = state.closed { return closed }
                        state.pending[ClientState.welcomeID] = continuation
                        return nil
                    }
                    if let closed {
                        continuation.resume(throwing: closed)
                        return
                    }
                    channel.writeAndFlush(Frame.encode(.hello(Hello(client: clientName))), promise: nil)
                }
            }
        } catch {
            channel.close(promise: nil)
            throw error
        }
        guard case .welcome(let accepted) = welcome else {
            channel.close(promise: nil)
            throw SyncClientError.unexpected("expected a welcome, got message type \(welcome.type)")
        }
        return SyncClient(welcome: accepted, channel: channel, core: core, requestTimeout: requestTimeout)
    }

    private init(welcome: Welcome, channel: Channel, core: ClientCore, requestTimeout: TimeAmount) {
        self.welcome = welcome
        self.channel = channel
        self.core = core
        self.requestTimeout = requestTimeout
    }

    /// Sends a control command (sync-now, cancel, pause, resume, reload) and waits for its reply.
    /// A refusal (permission denied, unknown store, ...) is a ``Reply`` with a failure status, not a throw.
    public func send(_ command: Request.Command) async throws -> Reply {
        let answer = try await request(command)
        guard case .reply(let reply) = answer else {
            throw SyncClientError.unexpected("expected a reply, got message type \(answer.type)")
        }
        return reply
    }

    /// Every named store's state (all when empty), without subscribing.
    /// - Throws: ``SyncClientError/refused(_:)`` with the server's reply, e.g. for an unknown store.
    public func status(stores: [String] = []) async throws -> Snapshot {
        try await statusReply(stores: stores).snapshot
    }

    /// ``status(stores:)`` with the rest of the answer: the server's viewer counts (nil from a
    /// server before 0.5).
    /// - Throws: as ``status(stores:)``.
    public func statusReply(stores: [String] = []) async throws -> StatusReply {
        switch try await request(.status(stores: stores)) {
        case .statusReply(let reply): return reply
        case .reply(let reply): throw SyncClientError.refused(reply)
        case let other: throw SyncClientError.unexpected("expected a status reply, got message type \(other.type)")
        }
    }

    /// The remembered errors and warnings of the named stores (all when empty), oldest first.
    /// - Throws: ``SyncClientError/refused(_:)`` with the server's reply, e.g. for an unknown store.
    public func errors(stores: [String] = []) async throws -> [ErrorEntry] {
        switch try await request(.errors(stores: stores)) {
        case .errorHistory(let history): return history.entries
        case .reply(let reply): throw SyncClientError.refused(reply)
        case let other: throw SyncClientError.unexpected("expected an error history, got message type \(other.type)")
        }
    }

    /// The recent finished runs of the named stores (all when empty), oldest first.
    /// - Throws: ``SyncClientError/refused(_:)`` with the server's reply, e.g. for an unknown store.
    public func runs(stores: [String] = []) async throws -> [RunRecord] {
        switch try await request(.runs(stores: stores)) {
        case .runHistory(let history): return history.runs
        case .reply(let reply): throw SyncClientError.refused(reply)
        case let other: throw SyncClientError.unexpected("expected a run history, got message type \(other.type)")
        }
    }

    /// Asks the server to answer at once: a viewer that hears nothing for a while tells a quiet
    /// daemon (it answers) from a hung one (the request times out).
    public func ping() async throws {
        let reply = try await send(.ping)
        guard reply.status.isOK else { throw SyncClientError.refused(reply) }
    }

    /// Subscribes to the named stores (all when empty). With `since`, asks for a replay of the
    /// events after it; the server answers with a replay, or a resync and a snapshot when it no
    /// longer holds them.
    ///
    /// - Returns: how the stream begins, and the stream: ``ViewerUpdate/snapshot(_:)`` first (unless
    ///   replaying), then events in sequence order. The stream ends by throwing
    ///   ``SyncClientError/closedByServer(_:)`` or ``SyncClientError/disconnected`` when the
    ///   connection ends.
    public func subscribe(stores: [String] = [], since: UInt64? = nil) async throws
        -> (start: Subscribed.Start, updates: AsyncThrowingStream<ViewerUpdate, Error>)
    {
        let (stream, continuation) = AsyncThrowingStream<ViewerUpdate, Error>.makeStream()
        try core.state.withLock { state in
            guard state.subscription == nil else { throw SyncClientError.unexpected("already subscribed") }
            state.subscription = continuation
        }
        switch try await request(.subscribe(stores: stores, since: since)) {
        case .subscribed(let subscribed):
            return (subscribed.start, stream)
        case .reply(let reply):
            throw SyncClientError.refused(reply)
        case let other:
            throw SyncClientError.unexpected("expected subscribed, got message type \(other.type)")
        }
    }

    /// Closes the connection. Pending requests fail with ``SyncClientError/disconnected``.
    public func close() async {
        try? await channel.close()
    }

    private func request(_ command: Request.Command) async throws -> Message {
        let channel = self.channel
        return try await withCheckedThrowingContinuation { continuation in
            let id: UInt32? = core.state.withLock { state in
                if let error = state.closed {
                    continuation.resume(throwing: error)
                    return nil
                }
                let id = state.nextID
                state.nextID &+= 1
                if state.nextID == ClientState.welcomeID { state.nextID = 1 }
                state.pending[id] = continuation
                return id
            }
            guard let id else { return }
            // Answered in time, the request is no longer pending and the timer finds nothing.
            let core = self.core
            channel.eventLoop.scheduleTask(in: requestTimeout) {
                core.state.withLock { $0.pending.removeValue(forKey: id) }?.resume(throwing: SyncClientError.timedOut)
            }
            channel.writeAndFlush(Frame.encode(.request(Request(id: id, command: command))), promise: nil)
        }
    }
}

/// What a subscription yields.
public enum ViewerUpdate: Hashable, Sendable {
    /// Every subscribed store's state; events after its `seq` follow.
    case snapshot(Snapshot)
    case event(SyncEvent)
}

/// Why a client call failed, phrased for the person running the viewer.
public enum SyncClientError: Error, CustomStringConvertible, Sendable {
    case connectFailed(String, Error)
    /// The server ended the connection, saying why.
    case closedByServer(Goodbye)
    case disconnected
    /// The server answered a request with a failure.
    case refused(Reply)
    case timedOut
    case unexpected(String)

    /// The errno of a failed connect (ENOENT: no socket; ECONNREFUSED: nobody listens; EACCES).
    public var connectErrno: Int32? {
        guard case .connectFailed(_, let error) = self else { return nil }
        return (error as? IOError)?.errnoCode
    }

    public var description: String {
        switch self {
        case .connectFailed(let path, let error):
            switch (error as? IOError)?.errnoCode {
            case ENOENT?: return "cannot connect to \(path): no such socket (is syncd running?)"
            case ECONNREFUSED?: return "cannot connect to \(path): connection refused (syncd is not running)"
            case EACCES?: return "cannot connect to \(path): permission denied (add yourself to the socket's group)"
            default: return "cannot connect to \(path): \(error)"
            }
        case .closedByServer(let goodbye): return "server closed the connection: \(goodbye.message) [\(goodbye.code.name)]"
        case .disconnected: return "connection to the server was lost"
        case .refused(let reply): return reply.message.isEmpty ? reply.status.text : reply.message
        case .timedOut: return "the server did not answer in time"
        case .unexpected(let what): return "protocol error: \(what)"
        }
    }
}

struct ClientState {
    static let welcomeID = UInt32.max
    var nextID: UInt32 = 1
    var pending: [UInt32: CheckedContinuation<Message, Error>] = [:]
    var subscription: AsyncThrowingStream<ViewerUpdate, Error>.Continuation?
    var closed: SyncClientError?
    /// The server's parting words, reported when the connection ends.
    var goodbye: Goodbye?
}

/// State shared by a client and its channel handler.
final class ClientCore: Sendable {
    let state = Mutex(ClientState())

    /// Ends the connection's waits: every pending request and the subscription fail with `error`
    /// (or the server's goodbye, when it sent one), and later requests fail at once.
    func fail(with error: SyncClientError) {
        let (pending, subscription, reason) = state.withLock { state in
            let reason = state.closed ?? state.goodbye.map(SyncClientError.closedByServer) ?? error
            state.closed = reason
            defer {
                state.pending.removeAll()
                state.subscription = nil
            }
            return (state.pending, state.subscription, reason)
        }
        for continuation in pending.values { continuation.resume(throwing: reason) }
        subscription?.finish(throwing: reason)
    }
}

/// Routes what the server sends: answers to their waiting requests, everything else to the subscription.
final class ClientHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = Message
    private let core: ClientCore

    init(core: ClientCore) {
        self.core = core
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = Self.unwrapInboundIn(data)
        switch message {
        case .welcome:
            answer(ClientState.welcomeID, message)
        case .reply(let reply):
            answer(reply.requestID, message)
        case .subscribed(let subscribed):
            answer(subscribed.requestID, message)
        case .statusReply(let reply):
            answer(reply.requestID, message)
        case .errorHistory(let history):
            answer(history.requestID, message)
        case .runHistory(let history):
            answer(history.requestID, message)
        case .snapshot(let snapshot):
            _ = core.state.withLock { $0.subscription?.yield(.snapshot(snapshot)) }
        case .event(let event):
            _ = core.state.withLock { $0.subscription?.yield(.event(event)) }
        case .goodbye(let goodbye):
            core.state.withLock { $0.goodbye = goodbye }
        case .hello, .request, .unknown:
            break  // not for a client, or from a newer server: skipped
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        core.fail(with: .disconnected)
        context.fireChannelInactive()
    }

    private func answer(_ id: UInt32, _ message: Message) {
        core.state.withLock { $0.pending.removeValue(forKey: id) }?.resume(returning: message)
    }
}

/// Runs `body`; if it takes longer than `timeout`, fails every waiter with
/// ``SyncClientError/timedOut`` and closes `channel`. Failing the waiters here, not through the
/// channel's close, is what bounds the wait even when the channel had closed already.
func withTimeout<T: Sendable>(
    _ timeout: TimeAmount, on channel: Channel, core: ClientCore, _ body: () async throws -> T
) async throws -> T {
    let timer = channel.eventLoop.scheduleTask(in: timeout) {
        core.fail(with: .timedOut)
        channel.close(promise: nil)
    }
    defer { timer.cancel() }
    return try await body()
}
