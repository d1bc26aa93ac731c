import NIOCore
import NIOSSL
import NIOTLS
import SMTPProtocol

/// The one handler of an SMTP connection: it parses the server's replies and hands them out in
/// order, writes what the client sends, and bounds every wait. The first failure (a timeout, the
/// connection lost, a TLS error, bytes that are not SMTP) is kept and given to every later wait:
/// after it the conversation is out of step for good, so the channel is closed.
///
/// Lives on the channel's event loop; ``SMTPWire`` reaches it only through that loop.
final class ReplyReader: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let host: String
    private let parser = ReplyParser()
    private var received = ByteBuffer()
    private var replies = CircularBuffer<SMTPReply>()
    private var waiting = CircularBuffer<EventLoopPromise<SMTPReply>>()
    private var context: ChannelHandlerContext?
    private var failure: SMTPError?
    /// Set while a TLS handshake is under way: a TLS error then means the server's certificate or
    /// TLS itself failed; after it, a TLS error is a connection that broke.
    private var handshake: EventLoopPromise<Void>?

    private let loop: EventLoop

    /// With `implicitTLS`, a TLS handler below this one is already shaking hands.
    init(host: String, eventLoop: EventLoop, implicitTLS: Bool) {
        self.host = host
        self.loop = eventLoop
        if implicitTLS { handshake = eventLoop.makePromise() }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        received.writeBuffer(&bytes)
        do {
            while let reply = try parser.parse(&received) {
                if let waiter = waiting.popFirst() { waiter.succeed(reply) } else { replies.append(reply) }
            }
            received.discardReadBytes()
        } catch {
            fail(SMTPError(kind: .protocolViolation, isTemporary: true, description: "\(host) sent something that is not SMTP: \(error)"))
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            handshake?.succeed()
            handshake = nil
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(SMTPError(kind: .connectionClosed, isTemporary: true, description: "\(host) closed the connection"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(smtpError(error))
    }

    /// The next reply, in the order the server sent them; fails after `timeout` of waiting.
    func nextReply(timeout: TimeAmount) -> EventLoopFuture<SMTPReply> {
        // Replies that came before the connection failed are still the server's word: a 421
        // followed by a close is read as the 421.
        if let reply = replies.popFirst() { return loop.makeSucceededFuture(reply) }
        guard context != nil, failure == nil else { return loop.makeFailedFuture(failure ?? closedError) }
        let promise = loop.makePromise(of: SMTPReply.self)
        waiting.append(promise)
        let timer = loop.assumeIsolated().scheduleTask(in: timeout) {
            self.fail(SMTPError(kind: .timeout, isTemporary: true,
                                description: "\(self.host) did not answer within \(Self.words(timeout))"))
        }
        promise.futureResult.whenComplete { _ in timer.cancel() }
        return promise.futureResult
    }

    /// Writes and flushes `bytes`; succeeds once they are handed to the kernel, so a sender that
    /// waits for each write holds one chunk at a time. Fails after `timeout` if the server does
    /// not take them (its window stays closed).
    func write(_ bytes: ByteBuffer, timeout: TimeAmount) -> EventLoopFuture<Void> {
        guard let context, failure == nil else { return loop.makeFailedFuture(failure ?? closedError) }
        let written = loop.makePromise(of: Void.self)
        let result = loop.makePromise(of: Void.self)
        let timer = loop.assumeIsolated().scheduleTask(in: timeout) {
            self.fail(SMTPError(kind: .timeout, isTemporary: true,
                                description: "\(self.host) did not take data for \(Self.words(timeout))"))
        }
        written.futureResult.assumeIsolated().whenComplete { outcome in
            timer.cancel()
            switch outcome {
            case .success: result.succeed()
            case .failure(let error):
                self.fail(self.smtpError(error))
                result.fail(self.failure ?? self.closedError)
            }
        }
        context.writeAndFlush(NIOAny(bytes), promise: written)
        return result.futureResult
    }

    /// Puts TLS under the conversation after the server's 220 to STARTTLS; succeeds when the
    /// handshake has. Anything the server sent after its 220 arrived in the clear, where an
    /// attacker could have added it (the STARTTLS injection of CVE-2011-0411): that ends the
    /// connection instead of being read as if it came through TLS.
    func startTLS(_ tls: NIOSSLContext, serverHostname: String?, timeout: TimeAmount) -> EventLoopFuture<Void> {
        guard let context, failure == nil else { return loop.makeFailedFuture(failure ?? closedError) }
        guard received.readableBytes == 0, replies.isEmpty else {
            fail(SMTPError(kind: .protocolViolation, isTemporary: false,
                           description: "\(host) sent more after agreeing to STARTTLS; the connection may have been tampered with"))
            return loop.makeFailedFuture(failure!)
        }
        let promise = loop.makePromise(of: Void.self)
        handshake = promise
        do {
            try context.pipeline.syncOperations.addHandler(
                try NIOSSLClientHandler(context: tls, serverHostname: serverHostname), position: .first)
        } catch {
            fail(smtpError(error))
            return promise.futureResult
        }
        let timer = loop.assumeIsolated().scheduleTask(in: timeout) {
            self.fail(SMTPError(kind: .timeout, isTemporary: true,
                                description: "\(self.host) did not complete the TLS handshake within \(Self.words(timeout))"))
        }
        promise.futureResult.whenComplete { _ in timer.cancel() }
        return promise.futureResult
    }

    /// Records the connection's end and closes it; every wait fails with the first reason.
    func fail(_ error: SMTPError) {
        guard failure == nil else { return }
        failure = error
        handshake?.fail(error)
        handshake = nil
        while let waiter = waiting.popFirst() { waiter.fail(error) }
        context?.close(promise: nil)
    }

    private func smtpError(_ error: Error) -> SMTPError {
        if let error = error as? SMTPError { return error }
        if handshake != nil, error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError {
            let text = "\(error)"
            let reason = if error is NIOSSLExtraError {
                "its certificate is not for \(host)"
            } else if text.contains("CERTIFICATE_VERIFY_FAILED") {
                "its certificate is not signed by a trusted CA"
            } else {
                "the handshake failed"
            }
            return SMTPError(kind: .tlsFailed, isTemporary: false, description: "TLS with \(host) failed: \(reason) (\(text))")
        }
        return SMTPError(kind: .connectionClosed, isTemporary: true, description: "the connection to \(host) was lost: \(error)")
    }

    private var closedError: SMTPError {
        SMTPError(kind: .connectionClosed, isTemporary: true, description: "the connection to \(host) is closed")
    }

    static func words(_ amount: TimeAmount) -> String {
        let seconds = Double(amount.nanoseconds) / 1e9
        return seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\(seconds) s"
    }
}
