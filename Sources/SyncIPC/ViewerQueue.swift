import NIOCore
import SyncProtocol

/// The frames waiting for one viewer whose socket is full.
///
/// Bounded by bytes: Progress for a run replaces that run's older queued Progress (a viewer needs
/// only the latest bar), so a stalled viewer costs at most one Progress per active run plus the
/// frames that are never dropped (RunStarted, Error, Done, store changes, replies). Past the cap the
/// queue reports overflow and the viewer is disconnected with a notice.
struct ViewerQueue {
    private struct Entry {
        var frame: ByteBuffer?
        let run: RunID?
    }

    private var entries = CircularBuffer<Entry>(initialCapacity: 16)
    /// Absolute position of `entries.first`; positions never repeat.
    private var headPosition = 0
    /// Position of the newest queued Progress of each run.
    private var latestProgress: [RunID: Int] = [:]
    private var superseded = 0
    private(set) var bytes = 0
    let maxBytes: Int

    init(maxBytes: Int) { self.maxBytes = maxBytes }

    var isEmpty: Bool { entries.count == superseded }
    /// Frames waiting, not counting superseded ones.
    var count: Int { entries.count - superseded }

    /// Queues a frame. `progressOf` names the run when the frame is a Progress that a later
    /// Progress of the same run may replace.
    /// - Returns: false if the queue would exceed its cap (the frame is not queued).
    mutating func append(_ frame: ByteBuffer, progressOf run: RunID? = nil) -> Bool {
        var freed = 0
        var replaced: Int?
        if let run, let position = latestProgress[run] {
            replaced = position - headPosition
            freed = entries[entries.index(entries.startIndex, offsetBy: replaced!)].frame?.readableBytes ?? 0
        }
        guard bytes - freed + frame.readableBytes <= maxBytes else { return false }
        if let replaced {
            entries[entries.index(entries.startIndex, offsetBy: replaced)].frame = nil
            superseded += 1
            bytes -= freed
        }
        if let run { latestProgress[run] = headPosition + entries.count }
        entries.append(Entry(frame: frame, run: run))
        bytes += frame.readableBytes
        if superseded > 64 && superseded > entries.count / 2 { compact() }
        return true
    }

    /// Removes and returns the oldest frame still wanted.
    mutating func popFirst() -> ByteBuffer? {
        while let entry = entries.popFirst() {
            headPosition += 1
            guard let frame = entry.frame else {
                superseded -= 1
                continue
            }
            if let run = entry.run, latestProgress[run] == headPosition - 1 { latestProgress[run] = nil }
            bytes -= frame.readableBytes
            return frame
        }
        return nil
    }

    mutating func removeAll() {
        entries.removeAll()
        latestProgress.removeAll()
        superseded = 0
        bytes = 0
    }

    // Superseded entries keep their slots until popped; drop them when they are most of the queue,
    // so a viewer stalled under a Progress-only stream holds O(runs) entries, not O(events).
    private mutating func compact() {
        let live = entries.filter { $0.frame != nil }
        headPosition += entries.count
        entries.removeAll(keepingCapacity: true)
        latestProgress.removeAll(keepingCapacity: true)
        superseded = 0
        for entry in live {
            if let run = entry.run { latestProgress[run] = headPosition + entries.count }
            entries.append(entry)
        }
    }
}
