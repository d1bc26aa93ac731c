import NIOCore
import NIOPosix
import NIOSSL

/// A connection to an IMAP server carrying raw bytes, over TLS from the start, upgraded with
/// STARTTLS, or (loopback only, see ``IMAPAccount``) in the clear.
///
/// Reads apply backpressure: a 100 MB message is read only as fast as it is written to disk.
/// A server silent for longer than the account's timeout ends the connection with
/// ``IMAPConnectionError/timedOut``. One task uses a connection at a time.
final class IMAPConnection {
    let channel: Channel
    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private let host: String

    private init(
        channel: Channel, inbound: NIOAsyncChannelInboundStream<ByteBuffer>,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, host: String
    ) {
        self.channel = channel
        self.inbound = inbound.makeAsyncIterator()
        self.outbound = outbound
        self.host = host
    }

    /// Connects and runs `body` with the connection, closing it afterwards whatever happens.
    /// `readTimeout` replaces the account's timeout for silence while connected (an IDLE waits
    /// long for news); connecting keeps the account's.
    static func with<Result>(
        _ account: IMAPAccount, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton, readTimeout: Duration? = nil,
        _ body: (IMAPConnection) async throws -> Result
    ) async throws -> Result {
        let tls = account.security == .tls ? try account.tlsContext() : nil
        let host = account.host
        func amount(_ duration: Duration) -> TimeAmount {
            .nanoseconds(Int64(duration.components.seconds) * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
        }
        let timeout = amount(account.timeout)
        let silence = amount(readTimeout ?? account.timeout)
        let asyncChannel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            // The async wrapper is added in the channel's initializer, before the connection is
            // up: a server that greets at once (Cyrus does) must find a reader already there,
            // or its greeting is dropped and the client waits for it until the timeout.
            asyncChannel = try await ClientBootstrap(group: group)
                .connectTimeout(timeout)
                .channelOption(.socketOption(.so_keepalive), value: 1)
                .connect(host: account.host, port: account.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(WireCountingHandler())
                        if let tls {
                            try channel.pipeline.syncOperations.addHandler(
                                try NIOSSLClientHandler(context: tls, serverHostname: IMAPConnection.sniName(host)))
                        }
                        try channel.pipeline.syncOperations.addHandlers(
                            IdleStateHandler(readTimeout: silence), ReadTimeoutHandler())
                        return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(backPressureStrategy: .init(lowWatermark: 4, highWatermark: 16)))
                    }
                }
        } catch {
            throw IMAPConnectionError.connectFailed(account.host, account.port, "\(error)")
        }
        let channel = asyncChannel.channel
        return try await asyncChannel.executeThenClose { inbound, outbound in
            try await body(IMAPConnection(channel: channel, inbound: inbound, outbound: outbound, host: host))
        }
    }

    /// The next bytes from the server, nil when it closed the connection.
    func read() async throws -> ByteBuffer? {
        do {
            return try await inbound.next()
        } catch let error as IMAPConnectionError {
            throw error
        } catch let error as NIOSSLError {
            throw IMAPConnectionError.tls("\(error)")
        } catch let error as BoringSSLError {
            throw IMAPConnectionError.tls("\(error)")
        } catch {
            throw IMAPConnectionError.lost("\(error)")
        }
    }

    func write(_ bytes: ByteBuffer) async throws {
        do {
            try await outbound.write(bytes)
        } catch {
            throw IMAPConnectionError.lost("\(error)")
        }
    }

    /// Starts TLS on the connection (after the server said OK to STARTTLS). Bytes the server
    /// sent before its OK and after are not mixed: the caller has consumed everything up to the OK.
    func startTLS(_ context: NIOSSLContext) async throws {
        let channel = self.channel
        let name = Self.sniName(host)
        try await channel.eventLoop.submit {
            let counter = try channel.pipeline.syncOperations.handler(type: WireCountingHandler.self)
            try channel.pipeline.syncOperations.addHandler(
                NIOSSLClientHandler(context: context, serverHostname: name), position: .after(counter))
        }.get()
    }

    /// Starts COMPRESS=DEFLATE (RFC 4978) on the connection, after the server's OK to
    /// `COMPRESS DEFLATE`: everything from then on is compressed both ways, below the IMAP
    /// conversation and above TLS. The server sends nothing between its OK and our next command,
    /// so no compressed byte can have been read as plain.
    func startCompression() async throws {
        let channel = self.channel
        try await channel.eventLoop.submit {
            let below: ChannelHandler = if let tls = try? channel.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self) {
                tls
            } else {
                try channel.pipeline.syncOperations.handler(type: WireCountingHandler.self)
            }
            try channel.pipeline.syncOperations.addHandler(try DeflateHandler(), position: .after(below))
        }.get()
    }

    func close() {
        channel.close(promise: nil)
    }

    /// SNI carries names, not addresses.
    static func sniName(_ host: String) -> String? {
        host.allSatisfy({ $0.isNumber || $0 == "." }) || host.contains(":") ? nil : host
    }
}

/// Turns NIO's idle notification into an error that ends the connection.
final class ReadTimeoutHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            context.fireErrorCaught(IMAPConnectionError.timedOut)
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}

/// Why the connection to the server failed, in words for the store's Error callback.
enum IMAPConnectionError: Error, CustomStringConvertible {
    case connectFailed(String, Int, String)
    case tls(String)
    case timedOut
    case lost(String)

    var description: String {
        switch self {
        case .connectFailed(let host, let port, let reason): return "cannot connect to \(host):\(port): \(reason)"
        case .tls(let reason): return "TLS failed: \(reason)"
        case .timedOut: return "the server did not answer in time"
        case .lost(let reason): return "the connection to the server was lost: \(reason)"
        }
    }
}
