import Foundation
import Logging
import Maildir
import NIOPosix
import Outbox
import SMTPClient
import SyncDaemon
import SyncProtocol

/// The send half of Send/Receive (`SYNC_OUTGOING_MAIL`): every message waiting in a store's
/// outbox goes through one SMTP connection, oldest first, each one durable in its state before
/// the next step (see ``Outbox``): taken into `sending/`, an attempt marked before MAIL FROM,
/// filed as sent only after the server's 250 to the data.
///
/// A message a crash left mid-send (an attempt begun, no outcome recorded) is looked for on the
/// server first when the server files sent mail itself (``alreadySent``), and sent again unless
/// found. The one window in which a message can go twice is between the server's 250 and the
/// rename that records it as sent: one fsync and a rename.
public struct OutboxSender: Sendable {
    /// The outbox, with the Failed folder refused messages go to.
    public var outbox: Outbox
    public var server: SMTPServer
    /// The local Sent folder sent copies are filed into, for the imap sync to upload; nil when
    /// the server files them (`save_sent = false`).
    public var sentFolder: FolderName?

    /// Whether the server has a message with this Message-ID in its Sent folder.
    public typealias Lookup = @Sendable (_ messageID: String) async throws -> Bool

    public struct Outcome: Sendable, Equatable {
        public var sent = 0
        /// Refused for good (5xx): now in the Failed folder.
        public var failed = 0
        /// Refused for now (4xx, a lost connection): still queued.
        public var deferred = 0
        /// The run's result as far as sending goes: ok; `busy` when messages wait for a retry
        /// (the scheduler retries with backoff); the failure that stopped it (auth, network).
        public var result: SyncStatus = .ok
        public init() {}
    }

    public init(outbox: Outbox, server: SMTPServer, sentFolder: FolderName?) {
        self.outbox = outbox
        self.server = server
        self.sentFolder = sentFolder
    }

    /// Sends what waits. Reports Progress ("sending 2/5: Re: quarterly report"), an Error per
    /// message refused, and the outbox depth before and after.
    public func send(login: SMTPLogin?, callback: SyncCallback, alreadySent: Lookup?) async throws -> Outcome {
        var outcome = Outcome()
        let batch = try outbox.take()
        for rejected in batch.rejected {
            outcome.failed += 1
            callback.error(.failed, "\(rejected.subject.isEmpty ? "a message" : "\"\(rejected.subject)\"") cannot be sent: \(rejected.reason); it is in the Failed folder")
        }
        reportDepth(callback)
        // Most runs find nothing waiting: one count of the outbox, and done.
        guard !batch.messages.isEmpty else { return outcome }
        defer { reportDepth(callback) }
        let messages = try await settleInterrupted(batch.messages, callback: callback, alreadySent: alreadySent)
        guard !messages.isEmpty else { return outcome }

        let connection: SMTPConnection
        do {
            connection = try await SMTPConnection.connect(
                to: server, login: login, group: MultiThreadedEventLoopGroup.singleton, logger: callback.logger)
        } catch let error as SMTPError {
            outcome.deferred = messages.count
            outcome.result = error.isTemporary ? .network : error.kind == .authenticationFailed ? .authFailed : .failed
            callback.error(outcome.result, "\(server.host): \(callback.redact(error.description)); \(Self.count(messages.count)) stay in the outbox")
            return outcome
        }
        defer { Task { await connection.quit() } }
        for (index, message) in messages.enumerated() {
            let step = "sending \(index + 1)/\(messages.count): \(message.subject.isEmpty ? "(no subject)" : message.subject)"
            if callback.progress(step: step, index: UInt32(index), max: UInt32(messages.count)) == .cancel || callback.isCancelled {
                outcome.deferred += messages.count - index
                throw CancellationError()
            }
            try outbox.beginAttempt(message)
            do {
                let delivery = try await connection.send(
                    SMTPEnvelope(from: message.envelope.from, recipients: message.envelope.recipients), messageFile: message.path)
                let retry = delivery.rejected.filter { $0.reply.isTransientFailure }.map(\.recipient)
                try outbox.sent(message, retry: retry, reason: delivery.rejected.first?.reply.summary, fileInto: sentFolder)
                outcome.sent += 1
                for (recipient, reply) in delivery.rejected {
                    let later = reply.isTransientFailure ? "; will retry it" : ""
                    callback.error(reply.isTransientFailure ? .warning : .failed, "\(Self.quoted(message)): \(recipient) refused: \(reply.summary)\(later)")
                }
                if !retry.isEmpty { outcome.deferred += 1 }
            } catch let error as SMTPError where error.isTemporary {
                try outbox.deferred(message, reason: error.description)
                outcome.deferred += 1
                callback.error(.warning, "\(Self.quoted(message)): \(error); it stays in the outbox for the next run")
                // A connection that is gone cannot send the rest: they wait for the retry too.
                if [.timeout, .connectionClosed, .connectFailed, .tlsFailed, .protocolViolation].contains(error.kind) {
                    outcome.deferred += messages.count - index - 1
                    break
                }
            } catch let error as SMTPError {
                try outbox.failed(message, reason: error.reply?.summary ?? error.description)
                outcome.failed += 1
                callback.error(.failed, "\(Self.quoted(message)) was not sent: \(error); it is in the Failed folder")
            }
        }
        callback.progress(step: "sent \(Self.count(outcome.sent))", index: UInt32(messages.count), max: UInt32(messages.count))
        if outcome.deferred > 0 { outcome.result = .busy }
        return outcome
    }

    /// Messages a crash left between MAIL FROM and their filing: those found sent are finished,
    /// the rest go out again.
    private func settleInterrupted(_ messages: [OutgoingMessage], callback: SyncCallback, alreadySent: Lookup?) async throws -> [OutgoingMessage] {
        var rest: [OutgoingMessage] = []
        for message in messages {
            guard message.state == .interrupted else {
                rest.append(message)
                continue
            }
            if let alreadySent, !message.messageID.isEmpty, try await alreadySent(message.messageID) {
                try outbox.sent(message, retry: [], fileInto: nil)
                callback.logger.notice("\(Self.quoted(message)) is on the server's Sent folder already; not sending it again")
                continue
            }
            let where_ = alreadySent == nil ? "" : ", and is not in the server's Sent folder"
            callback.error(.warning, "\(Self.quoted(message)) was being sent when syncd stopped, before the server's answer was recorded\(where_): sending it again (if the server took it then, its recipients get it twice)")
            rest.append(message)
        }
        return rest
    }

    private func reportDepth(_ callback: SyncCallback) {
        guard let depth = try? outbox.depth() else { return }
        callback.setOutbox(depth: UInt32(clamping: depth.count), oldest: depth.oldest.map { Timestamp(seconds: $0.timeIntervalSince1970) })
    }

    static func quoted(_ message: OutgoingMessage) -> String {
        message.subject.isEmpty ? "message \(message.messageID)" : "\"\(message.subject)\""
    }

    static func count(_ n: Int) -> String { n == 1 ? "1 message" : "\(n) messages" }
}
