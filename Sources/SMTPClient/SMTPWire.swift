import Logging
import NIOCore
import NIOPosix
import NIOSSL
import SMTPProtocol

/// One connection's channel and its ``ReplyReader``, seen from tasks: each call hops to the
/// channel's event loop, where all the connection's state is. Every wait is bounded by the
/// server's timeout. Sendable: it holds only the channel and the loop-bound reader.
struct SMTPWire: Sendable {
    let channel: Channel
    private let reader: NIOLoopBound<ReplyReader>
    let server: SMTPServer
    let logger: Logger
    private let timeout: TimeAmount

    private init(channel: Channel, reader: NIOLoopBound<ReplyReader>, server: SMTPServer, logger: Logger) {
        self.channel = channel
        self.reader = reader
        self.server = server
        self.logger = logger
        timeout = TimeAmount(server.timeout)
    }

    /// Connects, over TLS from the start for ``SMTPServer/Security/tls``.
    static func open(_ server: SMTPServer, group: any EventLoopGroup, logger: Logger) async throws -> SMTPWire {
        let tls = server.security == .tls ? try tlsContext(server) : nil
        let host = server.host
        let name = server.sniName
        let connectTimeout = TimeAmount(server.timeout)
        let channel: Channel
        do {
            // The reader is in place before the connection is up: a server greets at once.
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(connectTimeout)
                .channelOption(.socketOption(.so_keepalive), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls {
                            try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: name))
                        }
                        try channel.pipeline.syncOperations.addHandler(
                            ReplyReader(host: host, eventLoop: channel.eventLoop, implicitTLS: tls != nil))
                    }
                }
                .connect(host: server.host, port: server.port).get()
        } catch ChannelError.connectTimeout {
            throw SMTPError(kind: .timeout, isTemporary: true,
                            description: "cannot connect to \(server.host):\(server.port): no answer within \(ReplyReader.words(connectTimeout))")
        } catch {
            throw SMTPError(kind: .connectFailed, isTemporary: true, description: "cannot connect to \(server.host):\(server.port): \(error)")
        }
        let reader = try await channel.eventLoop.submit {
            NIOLoopBound(try channel.pipeline.syncOperations.handler(type: ReplyReader.self), eventLoop: channel.eventLoop)
        }.get()
        var logger = logger
        logger[metadataKey: "smtp.server"] = "\(server.host):\(server.port)"
        return SMTPWire(channel: channel, reader: reader, server: server, logger: logger)
    }

    static func tlsContext(_ server: SMTPServer) throws -> NIOSSLContext {
        do {
            return try server.tlsContext()
        } catch {
            throw SMTPError(kind: .tlsFailed, isTemporary: false,
                            description: "cannot set up TLS for \(server.host)\(server.caFile.map { " with the CA file \($0)" } ?? ""): \(error)")
        }
    }

    func reply() async throws -> SMTPReply {
        let reader = self.reader, timeout = self.timeout
        let reply = try await channel.eventLoop.flatSubmit { reader.value.nextReply(timeout: timeout) }.get()
        logger.trace("S: \(reply.summary)")
        return reply
    }

    func write(_ bytes: ByteBuffer) async throws {
        let reader = self.reader, timeout = self.timeout
        try await channel.eventLoop.flatSubmit { reader.value.write(bytes, timeout: timeout) }.get()
    }

    /// Encodes the commands into one write (PIPELINING sends a group at once). A command that
    /// cannot be encoded (a CR in an address) throws before anything is sent.
    func send(_ commands: [SMTPCommand]) async throws {
        try await write(try encode(commands, log: true))
    }

    /// The commands' bytes; with `log`, each line is logged (credentials excepted).
    func encode(_ commands: [SMTPCommand], log: Bool = false) throws -> ByteBuffer {
        var buffer = channel.allocator.buffer(capacity: 256)
        for command in commands {
            var line = channel.allocator.buffer(capacity: 64)
            do {
                try command.encode(into: &line)
            } catch {
                throw SMTPError(kind: .rejected, isTemporary: false, description: "cannot send to \(server.host): \(error)")
            }
            if log {
                logger.debug("C: \(command.containsCredentials ? "(credentials, not logged)" : String(decoding: line.readableBytesView.dropLast(2), as: UTF8.self))")
            }
            buffer.writeBuffer(&line)
        }
        return buffer
    }

    /// Sends one command and waits for its reply.
    func command(_ command: SMTPCommand) async throws -> SMTPReply {
        try await send([command])
        return try await reply()
    }

    func startTLS(_ tls: NIOSSLContext) async throws {
        let reader = self.reader, timeout = self.timeout, name = server.sniName
        try await channel.eventLoop.flatSubmit { reader.value.startTLS(tls, serverHostname: name, timeout: timeout) }.get()
    }

    func close() async {
        try? await channel.close()
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let parts = duration.components
        self = .nanoseconds(parts.seconds * 1_000_000_000 + parts.attoseconds / 1_000_000_000)
    }
}
