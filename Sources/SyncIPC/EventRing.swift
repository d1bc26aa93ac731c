import NIOCore
import SyncProtocol

/// An event already encoded as a frame, with what a viewer's filter and queue need to know.
struct EncodedEvent {
    let seq: UInt64
    let store: String
    /// Set for Progress, which a newer Progress of the same run may supersede in a slow viewer's queue.
    let progressOf: RunID?
    /// The frame's bytes: a slice of the batch it was encoded in, shared by every viewer.
    let frame: ByteBuffer
}

/// The most recent events, for viewers that reconnect with "since seq".
struct EventRing {
    private var events: CircularBuffer<EncodedEvent>
    let capacity: Int

    init(capacity: Int) {
        self.capacity = Swift.max(1, capacity)
        self.events = CircularBuffer(initialCapacity: Swift.min(self.capacity, 1024))
    }

    mutating func append(_ event: EncodedEvent) {
        if events.count == capacity { events.removeFirst() }
        events.append(event)
    }

    /// The oldest sequence number still held, nil when empty.
    var oldestSeq: UInt64? { events.first?.seq }

    /// The events after `seq`, or nil if some of them were already dropped (or never existed).
    /// `latest` is the newest sequence number the server has applied.
    func events(after seq: UInt64, latest: UInt64) -> ArraySlice<EncodedEvent>? {
        if seq == latest { return [] }
        guard seq < latest, let oldest = oldestSeq, seq + 1 >= oldest else { return nil }
        // Sequence numbers in the ring are consecutive, so the start is found by arithmetic.
        let start = events.index(events.startIndex, offsetBy: Int(seq + 1 - oldest))
        return ArraySlice(events[start...])
    }
}
