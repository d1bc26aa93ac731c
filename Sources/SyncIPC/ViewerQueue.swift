import NIOCore
import SyncProtocol

/// The frames waiting for one viewer whose socket is full.
///
/// Live events are queued as ranges of the shared batches they were encoded in, so a lagging
/// viewer costs one entry per batch, not one per event. When the queue grows, it is compacted:
/// a Progress followed by a newer Progress of the same run is dropped (a viewer needs only the
/// latest bar; a step text goes only for a newer step text), and what remains is copied into one buffer. RunStarted, Error, Done, store
/// changes and replies are never dropped; if they alone exceed the cap, ``append`` reports
/// overflow and the viewer is disconnected with a notice.
struct ViewerQueue {
    enum Chunk {
        case events(EncodedBatch, Range<Int>)
        /// A reply, snapshot or other frame that is not an event.
        case frame(ByteBuffer)

        var byteCount: Int {
            switch self {
            case .events(let batch, let range): return batch.byteCount(range)
            case .frame(let frame): return frame.readableBytes
            }
        }

        var bytes: ByteBuffer {
            switch self {
            case .events(let batch, let range): return batch.frames(range)
            case .frame(let frame): return frame
            }
        }
    }

    private var chunks = CircularBuffer<Chunk>(initialCapacity: 16)
    private(set) var bytes = 0
    /// Compact when `bytes` passes this; it doubles after a compaction that freed little, so
    /// compaction costs O(1) per queued event over time.
    private var compactAt: Int
    let maxBytes: Int

    init(maxBytes: Int) {
        self.maxBytes = maxBytes
        self.compactAt = Swift.min(maxBytes, Self.firstCompaction)
    }

    static let firstCompaction = 256 * 1024

    var isEmpty: Bool { chunks.isEmpty }

    /// Queues events or a frame.
    /// - Returns: false if the queue exceeds its cap even after dropping stale Progress.
    mutating func append(_ chunk: Chunk) -> Bool {
        bytes += chunk.byteCount
        chunks.append(chunk)
        if bytes > compactAt {
            compact()
            compactAt = Swift.max(Swift.min(maxBytes, Self.firstCompaction), Swift.min(maxBytes, bytes * 2))
        }
        return bytes <= maxBytes
    }

    /// Removes and returns the oldest chunk's bytes: the next thing to write.
    mutating func popFirst() -> ByteBuffer? {
        guard let chunk = chunks.popFirst() else { return nil }
        bytes -= chunk.byteCount
        return chunk.bytes
    }

    /// The callbacks a queued Progress frame stands for: its last field.
    private static func callbacks(_ batch: EncodedBatch, _ index: Int) -> UInt32 {
        let event = batch.events[index]
        return batch.bytes.getInteger(at: batch.bytes.readerIndex + event.offset + event.length - 4, as: UInt32.self) ?? 1
    }

    mutating func removeAll() {
        chunks.removeAll()
        bytes = 0
    }

    /// Drops every Progress that a newer queued Progress of the same run supersedes, and copies
    /// the events that remain into one buffer (so old batches are not kept alive for a few frames).
    /// When that would free less than a quarter of the queue, it leaves the queue as it is: the
    /// shared batches cost this viewer nothing extra, a copy would.
    mutating func compact() {
        var newerProgress = Set<RunID>()
        var newerStep = Set<RunID>()
        var keep: [Bool] = []  // per event, newest first
        // A dropped Progress's callbacks go to the nearest newer Progress of its run that stays
        // (by its place in `keep`), so a viewer's count of callbacks stays whole.
        var survivor: [RunID: Int] = [:]
        var folded: [Int: UInt32] = [:]
        var freed = 0
        for chunk in chunks.reversed() {
            guard case .events(let batch, let range) = chunk else { continue }
            for index in range.reversed() {
                let event = batch.events[index]
                guard let run = event.progressOf else {
                    keep.append(true)
                    continue
                }
                let superseded = event.carriesStep ? !newerStep.insert(run).inserted : newerProgress.contains(run)
                newerProgress.insert(run)
                if superseded {
                    keep.append(false)
                    freed += event.length
                    if let place = survivor[run] {
                        let (sum, over) = folded[place, default: 0].addingReportingOverflow(Self.callbacks(batch, index))
                        folded[place] = over ? .max : sum
                    }
                } else {
                    survivor[run] = keep.count
                    keep.append(true)
                }
            }
        }
        guard freed * 4 >= bytes else { return }
        var place = keep.count  // counts down: `keep` is newest first, the copy goes oldest first
        var verdicts = keep.reversed().makeIterator()
        var compacted = CircularBuffer<Chunk>(initialCapacity: 4)
        var buffer = ByteBufferAllocator().buffer(capacity: 0)
        var events: [EncodedEvent] = []
        func flushEvents() {
            guard !events.isEmpty else { return }
            compacted.append(.events(EncodedBatch(bytes: buffer, events: events), 0..<events.count))
            buffer = ByteBufferAllocator().buffer(capacity: 0)
            events = []
        }
        for chunk in chunks {
            switch chunk {
            case .frame:
                flushEvents()
                compacted.append(chunk)
            case .events(let batch, let range):
                for index in range {
                    place -= 1
                    guard verdicts.next()! else { continue }
                    let event = batch.events[index]
                    events.append(EncodedEvent(
                        seq: event.seq, store: event.store, progressOf: event.progressOf,
                        carriesStep: event.carriesStep, offset: buffer.writerIndex, length: event.length))
                    var frame = batch.frames(index..<index + 1)
                    buffer.writeBuffer(&frame)
                    if let extra = folded[place] {
                        // Progress ends with its callbacks (docs/PROTOCOL.md §4.4).
                        let at = buffer.writerIndex - 4
                        let (sum, over) = buffer.getInteger(at: at, as: UInt32.self)!.addingReportingOverflow(extra)
                        buffer.setInteger(over ? .max : sum, at: at)
                    }
                }
            }
        }
        flushEvents()
        assert(place == 0)
        chunks = compacted
        bytes = chunks.reduce(0) { $0 + $1.byteCount }
    }
}
