import Foundation

/// A message of the outbox, prepared for sending: its file in `sending/` is what goes on the
/// wire (no Bcc, a Message-ID), its envelope beside it.
public struct OutgoingMessage: Sendable, Hashable {
    /// Where the message is in its life.
    public enum State: String, Sendable, Hashable {
        /// Never tried.
        case new
        /// Tried, and refused for now (4xx): attempts and the last error say more.
        case deferred
        /// An attempt began and its outcome was never recorded (syncd stopped mid-send): the
        /// server may have it already; look for ``OutgoingMessage/messageID`` in Sent first.
        case interrupted
    }

    /// The message's name in `sending/` (a Maildir unique name); the Sent copy takes it too.
    public let name: String
    /// The prepared file: stream this as DATA.
    public let path: String
    public let envelope: Envelope
    /// The `Message-ID:` field's value, with its angle brackets.
    public let messageID: String
    /// The Subject, encoded words decoded, for progress text ("sending 2/5: Re: quarterly report").
    public let subject: String
    /// The prepared file's size in bytes (for SIZE).
    public let size: Int
    public let queuedAt: Date
    /// Attempts that ended deferred.
    public let attempts: Int
    public let lastError: String?
    public let lastAttemptAt: Date?
    /// Its Sent copy is filed already: some recipients got it, the envelope holds the others.
    public let sentCopyFiled: Bool
    public let state: State

    init(name: String, path: String, sidecar: Sidecar) {
        self.name = name
        self.path = path
        envelope = Envelope(from: sidecar.from, recipients: sidecar.recipients)
        messageID = sidecar.messageID
        subject = sidecar.subject
        size = sidecar.size
        queuedAt = Date(timeIntervalSince1970: sidecar.queuedAt)
        attempts = sidecar.attempts
        lastError = sidecar.lastError
        lastAttemptAt = sidecar.lastAttemptAt.map(Date.init(timeIntervalSince1970:))
        sentCopyFiled = sidecar.sentCopyFiled
        state = sidecar.attemptBegunAt != nil ? .interrupted : sidecar.attempts > 0 ? .deferred : .new
    }
}

/// A queued message the outbox could not even prepare (no recipient, no sender, a header without
/// end): already filed into the Failed folder, for the run to report.
public struct RejectedMessage: Sendable, Hashable {
    public let subject: String
    public let reason: String
    /// Its copy in the Failed folder (`cur/NAME:2,`).
    public let failedPath: String
}

/// What ``Outbox/take()`` found.
public struct OutboxBatch: Sendable {
    /// Interrupted first, then deferred, then new; oldest first within each.
    public var messages: [OutgoingMessage]
    public var rejected: [RejectedMessage]
}

enum OutboxMessage {
    /// The field a Failed copy carries the reason in; removed when a message is sent again.
    static let errorFieldName = "x-syncd-send-error"
    static let errorField = "X-Syncd-Send-Error"
}
