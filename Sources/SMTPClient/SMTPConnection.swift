import Logging
import NIOCore
import SMTPProtocol

/// A logged-in submission session (RFC 6409) over TLS: connect once, send any number of messages,
/// quit. Messages are sent one at a time; concurrent calls of ``send(_:messageFile:)`` wait their
/// turn. After a timeout or a lost connection every later call fails the same way: connect anew.
public actor SMTPConnection {
    /// What the server offers after TLS (and so what the messages are sent with).
    public nonisolated let capabilities: ServerCapabilities
    private let wire: SMTPWire
    private var busy = false
    private var turns: [CheckedContinuation<Void, Never>] = []

    private init(wire: SMTPWire, capabilities: ServerCapabilities) {
        self.wire = wire
        self.capabilities = capabilities
    }

    deinit {
        wire.channel.close(promise: nil)
    }

    /// Connects, reads the greeting, says EHLO, starts TLS (``SMTPServer/Security``) and says EHLO
    /// again, then logs in when `login` is given. Throws ``SMTPError``: `.tlsUnavailable` when a
    /// STARTTLS server does not offer it (nothing is ever sent in the clear), `.tlsFailed` for a
    /// certificate not trusted, `.authenticationFailed`, `.timeout`, `.connectFailed`.
    public static func connect(
        to server: SMTPServer, login: SMTPLogin?, group: any EventLoopGroup, logger: Logger
    ) async throws -> SMTPConnection {
        let wire = try await SMTPWire.open(server, group: group, logger: logger)
        do {
            let greeting = try await wire.reply()
            guard greeting.code == 220 else { throw SMTPError.refused("\(server.host) does not take mail now", greeting) }
            var capabilities = try await hello(wire)
            if server.security == .starttls {
                guard capabilities.startTLS else {
                    throw SMTPError(kind: .tlsUnavailable, isTemporary: false,
                                    description: "\(server.host) does not offer STARTTLS, and mail is never sent to it in the clear")
                }
                let reply = try await wire.command(.startTLS)
                guard reply.code == 220 else { throw SMTPError.refused("\(server.host) refused STARTTLS", reply, kind: .tlsUnavailable) }
                try await wire.startTLS(try SMTPWire.tlsContext(server))
                // RFC 3207 §4.2: what was learnt before TLS is forgotten, and asked again.
                capabilities = try await hello(wire)
            }
            if let login { try await authenticate(login, wire: wire, capabilities: capabilities) }
            wire.logger.debug("ready", metadata: ["smtp.capabilities": "\(capabilities)"])
            return SMTPConnection(wire: wire, capabilities: capabilities)
        } catch {
            await wire.close()
            throw error
        }
    }

    /// EHLO; HELO (and no extensions) from a server that does not know EHLO.
    private static func hello(_ wire: SMTPWire) async throws -> ServerCapabilities {
        let reply = try await wire.command(.ehlo(domain: wire.server.heloName))
        if reply.code == 250 { return ServerCapabilities(ehlo: reply) }
        guard reply.isPermanentFailure else { throw SMTPError.refused("\(wire.server.host) refused EHLO", reply) }
        let helo = try await wire.command(.helo(domain: wire.server.heloName))
        guard helo.code == 250 else { throw SMTPError.refused("\(wire.server.host) refused HELO", helo) }
        return ServerCapabilities()
    }

    /// Sends one message: MAIL FROM (with SIZE=, BODY=8BITMIME and SMTPUTF8 as the server offers
    /// and the envelope needs), RCPT TO for each recipient, DATA, then the file streamed in chunks,
    /// its line ends made CRLF and its lines dot-stuffed, and the final ".". MAIL and the RCPTs go
    /// in one write when the server offers PIPELINING.
    ///
    /// Returns once the server has taken the message (250 after the data) for at least one
    /// recipient; the others are in ``SMTPDelivery/rejected``. Throws ``SMTPError``: `.tooLarge`
    /// before MAIL FROM when the file is larger than the server's SIZE limit; `.rejected` when the
    /// server refuses the sender, every recipient (temporary if any refusal was a 4xx), DATA or
    /// the message; `.timeout`, `.connectionClosed` (temporary: the message was not taken). After
    /// a refusal the transaction is reset (RSET) and the connection can send the next message.
    public func send(_ envelope: SMTPEnvelope, messageFile: String) async throws -> SMTPDelivery {
        await takeTurn()
        defer { passTurn() }
        return try await Transaction(wire: wire, capabilities: capabilities, envelope: envelope).run(messageFile: messageFile)
    }

    /// Says QUIT, waits for the server's answer (at most the timeout) and closes the connection.
    public func quit() async {
        await takeTurn()
        defer { passTurn() }
        do {
            _ = try await wire.command(.quit)
            await wire.close()
        } catch {
            // A connection that failed is closed already, or closing: waiting for the TLS
            // shutdown of a server that stopped answering would only add its timeout.
            wire.channel.close(promise: nil)
        }
    }

    private func takeTurn() async {
        if busy {
            await withCheckedContinuation { turns.append($0) }
        } else {
            busy = true
        }
    }

    private func passTurn() {
        if turns.isEmpty { busy = false } else { turns.removeFirst().resume() }
    }
}
