import NIOCore

/// The SSE frames of the last events the bridge saw, so a browser that reconnects with
/// `Last-Event-ID` gets what it missed from here instead of a fresh snapshot. Like the daemon's
/// own ring, one step further out: syncd-http follows the daemon with "since seq", and the
/// browsers follow syncd-http with the same numbers.
struct FrameRing {
    let capacity: Int
    /// Every frame the bridge saw after this seq is held.
    private(set) var base: UInt64 = 0
    private var frames: [(seq: UInt64, frame: ByteBuffer)] = []
    private var head = 0

    init(capacity: Int) { self.capacity = capacity }

    /// Forgets everything: after a snapshot, the ring starts again at its seq.
    mutating func reset(base: UInt64) {
        self.base = base
        frames.removeAll(keepingCapacity: true)
        head = 0
    }

    mutating func append(seq: UInt64, _ frame: ByteBuffer) {
        frames.append((seq, frame))
        if frames.count - head > capacity {
            base = frames[head].seq
            head += 1
            // Drop the consumed front in one go now and then, not one element per event.
            if head >= capacity {
                frames.removeFirst(head)
                head = 0
            }
        }
    }

    /// The frames after `seq`, or nil when the ring cannot tell (older than it holds, or a number
    /// it never handed out, as from before a daemon's state was wiped).
    func frames(after seq: UInt64) -> [ByteBuffer]? {
        let last = frames.last?.seq ?? base
        guard seq >= base, seq <= last else { return nil }
        return frames[head...].filter { $0.seq > seq }.map(\.frame)
    }
}
