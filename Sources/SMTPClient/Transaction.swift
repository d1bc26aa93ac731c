import NIOCore
import SMTPProtocol

/// One mail transaction (RFC 5321 §3.3): envelope, data, and the reset after a refusal.
struct Transaction {
    let wire: SMTPWire
    let capabilities: ServerCapabilities
    let envelope: SMTPEnvelope
    /// Chunks read from the file and written after dot-stuffing: the most of a message in memory.
    static let chunkSize = 64 * 1024

    func run(messageFile path: String) async throws -> SMTPDelivery {
        let host = wire.server.host
        guard !envelope.recipients.isEmpty else {
            throw SMTPError(kind: .rejected, isTemporary: false, description: "a message needs at least one recipient")
        }
        let file = try MessageFile(path: path)
        defer { file.close() }
        // RFC 1870 asks for an estimate; the file's size is one (its LF line ends may become CRLF).
        guard capabilities.accepts(size: file.size) else {
            let limit = capabilities.sizeLimit ?? 0
            throw SMTPError(kind: .tooLarge, isTemporary: false, sizeLimit: limit,
                            description: "the message is \(Self.bytes(file.size)), more than the \(Self.bytes(limit)) \(host) accepts")
        }
        let utf8 = envelope.needsSMTPUTF8
        if utf8, !capabilities.smtpUTF8 {
            throw SMTPError(kind: .rejected, isTemporary: false,
                            description: "\(host) does not take addresses with non-ASCII characters (no SMTPUTF8): \(([envelope.from] + envelope.recipients).joined(separator: ", "))")
        }
        let parameters = MailParameters(
            size: capabilities.sizeLimit != nil ? file.size : nil, eightBitMIME: capabilities.eightBitMIME, smtpUTF8: utf8)
        let mail = SMTPCommand.mailFrom(address: envelope.from, parameters: parameters)
        let recipients = envelope.recipients.map { SMTPCommand.rcptTo(address: $0) }

        let mailReply: SMTPReply
        var recipientReplies: [SMTPReply] = []
        if capabilities.pipelining {
            try await wire.send([mail] + recipients)
            mailReply = try await wire.reply()
            for _ in recipients { recipientReplies.append(try await wire.reply()) }
        } else {
            // Checks every address before the first command goes out.
            _ = try wire.encode([mail] + recipients)
            mailReply = try await wire.command(mail)
            if mailReply.isPositiveCompletion {
                for recipient in recipients { recipientReplies.append(try await wire.command(recipient)) }
            }
        }
        guard mailReply.isPositiveCompletion else {
            await reset()
            throw SMTPError.refused("\(host) refused the sender <\(envelope.from)>", mailReply,
                                    kind: mailReply.code == 552 ? .tooLarge : .rejected)
        }
        var accepted: [String] = []
        var rejected: [(recipient: String, reply: SMTPReply)] = []
        for (recipient, reply) in zip(envelope.recipients, recipientReplies) {
            if reply.isPositiveCompletion { accepted.append(recipient) } else { rejected.append((recipient, reply)) }
        }
        guard !accepted.isEmpty else {
            await reset()
            let first = rejected.first(where: { $0.reply.isTransientFailure }) ?? rejected[0]
            throw SMTPError(kind: .rejected, isTemporary: first.reply.isTransientFailure, reply: first.reply,
                            description: "\(host) refused every recipient: " + rejected.map { "<\($0.recipient)> \($0.reply.summary)" }.joined(separator: "; "))
        }
        let data = try await wire.command(.data)
        guard data.code == 354 else {
            await reset()
            throw SMTPError.refused("\(host) refused to take the message (DATA)", data)
        }
        try await stream(file)
        let final = try await wire.reply()
        guard final.isPositiveCompletion else {
            // The server's answer to the data ends the transaction: nothing to reset.
            throw SMTPError.refused("\(host) refused the message", final, kind: final.code == 552 ? .tooLarge : .rejected)
        }
        return SMTPDelivery(reply: final, accepted: accepted, rejected: rejected)
    }

    /// The file as DATA content and the final ".", one chunk at a time: each write is waited for
    /// before the next chunk is read.
    private func stream(_ file: MessageFile) async throws {
        var stuffer = DotStuffer()
        let allocator = wire.channel.allocator
        var out = allocator.buffer(capacity: Self.chunkSize + Self.chunkSize / 32)
        while true {
            let chunk: ByteBuffer
            do {
                chunk = try await file.read(upTo: Self.chunkSize, allocator: allocator)
            } catch {
                // Sending "." now would deliver a truncated message: drop the connection instead,
                // which makes the server discard the transaction.
                await wire.close()
                throw error
            }
            if chunk.readableBytes == 0 { break }
            out.clear()
            stuffer.stuff(chunk, into: &out)
            try await wire.write(out)
        }
        out.clear()
        stuffer.finish(into: &out)
        try await wire.write(out)
    }

    /// RSET after a refusal, so the connection can carry the next message. A server that does not
    /// say OK to it is out of step: that ends the connection (the refusal is still what is thrown).
    private func reset() async {
        if let reply = try? await wire.command(.rset), reply.isPositiveCompletion { return }
        await wire.close()
    }

    static func bytes(_ count: Int) -> String {
        count >= 1 << 20 ? "\(count / (1 << 20)) MB (\(count) bytes)" : count >= 1 << 10 ? "\(count / (1 << 10)) KB (\(count) bytes)" : "\(count) bytes"
    }
}
