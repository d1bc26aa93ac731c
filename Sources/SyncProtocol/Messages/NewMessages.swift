import NIOCore

/// New mail a run delivered to one folder: how many, and who sent the first few and what about,
/// so a notifier can say "3 new messages from Alice" without reading the store.
public struct NewMessages: Hashable, Sendable {
    /// One new message, as its headers say (RFC 2047 encoded words decoded).
    public struct Summary: Hashable, Sendable {
        /// The `From:` header, e.g. `Alice Example <alice@example.org>`.
        public var from: String
        public var subject: String
        /// The `Date:` header; nil when missing or unreadable.
        public var date: Timestamp?

        public init(from: String, subject: String, date: Timestamp?) {
            self.from = from
            self.subject = subject
            self.date = date
        }
    }

    /// Most summaries one event carries; `count` still counts them all.
    public static let maxSummaries = 5

    public var folder: String
    public var count: UInt32
    /// The first few of the new messages (at most ``maxSummaries``), oldest first.
    public var summaries: [Summary]

    public init(folder: String, count: UInt32, summaries: [Summary]) {
        self.folder = folder
        self.count = count
        self.summaries = Array(summaries.prefix(Self.maxSummaries))
    }

    func write(to buffer: inout ByteBuffer) {
        buffer.writeWireString(folder)
        buffer.writeInteger(count)
        let shown = summaries.prefix(Self.maxSummaries)
        buffer.writeInteger(UInt8(shown.count))
        for summary in shown {
            buffer.writeWireString(summary.from)
            buffer.writeWireString(summary.subject)
            buffer.writeTimestamp(summary.date)
        }
    }

    static func read(from buffer: inout ByteBuffer) throws(ProtocolError) -> NewMessages {
        let folder = try buffer.readWireString()
        let count: UInt32 = try buffer.readWireInteger()
        let shown = Int(try buffer.readWireInteger(as: UInt8.self))
        // Each summary takes at least 12 bytes, so a lying count fails before allocating.
        guard shown <= buffer.readableBytes / 12 else { throw .truncatedPayload }
        var summaries: [Summary] = []
        for _ in 0..<shown {
            let from = try buffer.readWireString()
            let subject = try buffer.readWireString()
            summaries.append(Summary(from: from, subject: subject, date: try buffer.readOptionalTimestamp()))
        }
        return NewMessages(folder: folder, count: count, summaries: summaries)
    }
}
