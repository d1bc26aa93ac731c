import NIOCore
import SyncProtocol

/// What a viewer's filter and queue need to know of one encoded event.
struct EncodedEvent {
    let seq: UInt64
    let store: String
    /// Set for Progress, which a newer Progress of the same run may supersede in a slow viewer's queue.
    let progressOf: RunID?
    /// A Progress with step text, which only a newer Progress with step text may supersede: the
    /// step a viewer shows is never lost to a "just move the bar" Progress.
    let carriesStep: Bool
    /// Where its frame lies in the batch's bytes.
    let offset: Int
    let length: Int
}

/// Events encoded once, back to back in one buffer, and shared by every viewer, the replay ring
/// and slow viewers' queues. Sharing a batch costs one reference, not a copy per viewer.
final class EncodedBatch {
    let bytes: ByteBuffer
    let events: [EncodedEvent]

    init(bytes: ByteBuffer, events: [EncodedEvent]) {
        self.bytes = bytes
        self.events = events
    }

    /// The frames of `range` (consecutive events), as one slice of the shared bytes.
    func frames(_ range: Range<Int>) -> ByteBuffer {
        let start = events[range.lowerBound].offset
        let end = events[range.upperBound - 1].offset + events[range.upperBound - 1].length
        return bytes.getSlice(at: bytes.readerIndex + start, length: end - start)!
    }

    func byteCount(_ range: Range<Int>) -> Int {
        events[range.upperBound - 1].offset + events[range.upperBound - 1].length - events[range.lowerBound].offset
    }
}

/// The most recent events (at least `capacity` of them, kept as whole batches), for viewers that
/// reconnect with "since seq".
struct EventRing {
    private var batches = CircularBuffer<EncodedBatch>()
    private var count = 0
    let capacity: Int

    init(capacity: Int) {
        self.capacity = Swift.max(1, capacity)
    }

    mutating func append(_ batch: EncodedBatch) {
        guard !batch.events.isEmpty else { return }
        batches.append(batch)
        count += batch.events.count
        while let oldest = batches.first, count - oldest.events.count >= capacity {
            count -= oldest.events.count
            batches.removeFirst()
        }
    }

    /// The oldest sequence number still held, nil when empty.
    var oldestSeq: UInt64? { batches.first?.events.first?.seq }

    /// The events after `seq` as batch ranges, or nil if some of them were already dropped (or
    /// never existed). `latest` is the newest sequence number the server has applied.
    func events(after seq: UInt64, latest: UInt64) -> [(EncodedBatch, Range<Int>)]? {
        if seq == latest { return [] }
        guard seq < latest, let oldest = oldestSeq, seq + 1 >= oldest else { return nil }
        var result: [(EncodedBatch, Range<Int>)] = []
        for batch in batches {
            guard let last = batch.events.last?.seq, last > seq else { continue }
            // Sequence numbers within and across batches are consecutive.
            let start = seq + 1 > batch.events[0].seq ? Int(seq + 1 - batch.events[0].seq) : 0
            result.append((batch, start..<batch.events.count))
        }
        return result
    }
}
