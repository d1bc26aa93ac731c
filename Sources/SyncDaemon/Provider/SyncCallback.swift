#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import Synchronization
import SyncIPC
import SyncProtocol

/// The callback a provider reports through during one run: MAPI's `IMAPISyncProgressCallback`.
///
/// Safe and cheap to call from any thread or task. Besides forwarding to viewers, it records when
/// the provider last said anything, which is how the host notices a stalled run.
public final class SyncCallback: Sendable {
    public let store: String
    public let run: RunID
    /// Tagged with the store and run, for the journal (`STORE=`, `RUN=`).
    public let logger: Logger
    let reporter: RunReporter
    private let lastActivity: Atomic<UInt64>
    private let counts = Mutex(Counts())
    /// Values of the store's secrets read in this run, cut out of every text it reports.
    private let secrets = Mutex<[String]>([])
    /// What the run changed, and the new mail it delivered (sent to viewers after its Done).
    private let changes = Mutex(RunChanges())
    private let outboxSink: (@Sendable (UInt32, Timestamp?) -> Void)?

    struct Counts {
        var warnings = 0
        var errors = 0
        /// The latest errors and warnings, for the durable history (capped at ``historyLimit``).
        var records: [DurableState.ErrorRecord] = []
    }

    static let historyLimit = 1000

    init(reporter: RunReporter, logger: Logger, outbox: (@Sendable (UInt32, Timestamp?) -> Void)? = nil) {
        self.outboxSink = outbox
        self.store = reporter.store
        self.run = reporter.run
        self.reporter = reporter
        self.logger = logger
        self.lastActivity = Atomic(monotonicNanoseconds())
    }

    /// Reports progress: `index` of `max` done (`max` 0 if unknown); a nil `step` keeps the
    /// previous text. Answers `.cancel` once the host wants the run to stop.
    @discardableResult
    public func progress(step: String? = nil, index: UInt32, max: UInt32) -> RunReporter.Verdict {
        touch()
        return reporter.progress(step: step.map(redact), index: index, max: max)
    }

    /// Reads one of the store's secrets. Its value is from then on replaced by `[secret]` in
    /// every text this run reports or logs through ``redact(_:)``: watch-only viewers read error
    /// texts, and a command may echo what it was given.
    public func secret(_ source: SecretSource) throws -> String {
        let value = try source.resolve()
        // Very short values would blank out ordinary words; they are no secret worth the name.
        if value.count >= Self.shortestRedacted {
            secrets.withLock { $0.append(value) }
        }
        return value
    }

    static let shortestRedacted = 4

    /// Treats `value` as a secret of this run from now on, as if read by ``secret(_:)``: for
    /// secrets the provider obtains itself (an OAuth2 access token it refreshed).
    public func keepSecret(_ value: String) {
        if value.count >= Self.shortestRedacted {
            secrets.withLock { $0.append(value) }
        }
    }

    /// `text` with every secret read in this run replaced by `[secret]`.
    public func redact(_ text: String) -> String {
        let values = secrets.withLock { $0 }
        guard !values.isEmpty else { return text }
        var text = text
        for value in values where text.contains(value) {
            text = text.replacingOccurrences(of: value, with: "[secret]")
        }
        return text
    }

    /// Reports an error (severity bit set in `code`) or a warning (clear); the run may go on.
    public func error(_ code: SyncStatus, _ message: String) {
        let message = redact(message)
        touch()
        let record = DurableState.ErrorRecord(time: Timestamp.now().rawValue, run: run, code: code.rawValue, message: message)
        counts.withLock { counts in
            if code.isFailure { counts.errors += 1 } else { counts.warnings += 1 }
            counts.records.append(record)
            if counts.records.count > Self.historyLimit { counts.records.removeFirst() }
        }
        logger.log(level: code.isFailure ? .error : .warning, "\(message)", metadata: ["code": "\(code.name)"])
        reporter.error(code, message)
    }

    /// Reports the final result now. Later calls, and the value `synchronize` returns, are ignored.
    public func done(_ result: SyncStatus) {
        done(result, logging: nil)
    }

    /// ``done(_:)`` for the host, which may say in the journal why it ended the run (`message`).
    /// A cancelled run is an outcome, not an error: it is logged at notice level.
    func done(_ result: SyncStatus, logging message: String?) {
        guard reporter.done(result) else { return }
        let level: Logger.Level = result == .cancelled ? .notice : result.isFailure ? .error : .info
        logger.log(level: level, "\(message ?? "run finished: \(result.text)")", metadata: ["code": "\(result.name)"])
    }

    /// Reports new messages delivered to `folder` (durably: on disk), with the headers of the first
    /// few; may be called several times per folder. The host sends one NewMessages event per
    /// folder after the run's Done, and counts them as changes (the `after_sync` hook's
    /// `SYNCD_NEW`).
    public func newMessages(folder: String, count: Int, summaries: [NewMessages.Summary]) {
        guard count > 0 else { return }
        changes.withLock { changes in
            changes.new += count
            if let index = changes.news.firstIndex(where: { $0.folder == folder }) {
                changes.news[index].count &+= UInt32(clamping: count)
                let room = NewMessages.maxSummaries - changes.news[index].summaries.count
                changes.news[index].summaries += summaries.prefix(max(0, room))
            } else {
                changes.news.append(NewMessages(folder: folder, count: UInt32(clamping: count), summaries: summaries))
            }
        }
    }

    /// Reports other changes the run made (uploads, flag changes either way, deletions, moves,
    /// messages sent from the outbox), added up over the run: whether anything changed decides
    /// whether the store's `after_sync` hook runs.
    public func changed(uploaded: Int = 0, flagsChanged: Int = 0, deleted: Int = 0, moved: Int = 0, sent: Int = 0) {
        changes.withLock { changes in
            changes.sent += sent
            changes.uploaded += uploaded
            changes.flagsChanged += flagsChanged
            changes.deleted += deleted
            changes.moved += moved
        }
    }

    /// Reports the store's outbox: how many messages wait, and since when the oldest (nil when
    /// none). Viewers see it in the store's StoreChanged (`status` shows it); it stays until the
    /// next report, from a run or the store's listener (``ListenerHost/setOutbox(depth:oldest:)``).
    public func setOutbox(depth: UInt32, oldest: Timestamp?) {
        outboxSink?(depth, oldest)
    }

    var runChanges: RunChanges { changes.withLock { $0 } }

    /// True once the host asked the run to stop.
    public var isCancelled: Bool { reporter.isCancelRequested }

    /// True while the daemon has more events waiting for its viewers than it forwards at once,
    /// so that Progress reported now would be merged: a provider whose reports are their own
    /// purpose (the synthetic one, a load generator) should pause rather than take the CPU the
    /// forwarder needs.
    public var isForwarderBehind: Bool { reporter.isForwarderBehind }

    var isDone: Bool { reporter.isFinished }
    var errorCounts: Counts { counts.withLock { $0 } }

    /// Time since the provider last reported anything.
    var silence: Duration {
        .nanoseconds(Int64(bitPattern: monotonicNanoseconds() &- lastActivity.load(ordering: .relaxed)))
    }

    private func touch() {
        lastActivity.store(monotonicNanoseconds(), ordering: .relaxed)
    }
}

/// What one run changed, as its provider reported it.
struct RunChanges: Sendable {
    var new = 0
    var uploaded = 0
    var flagsChanged = 0
    var deleted = 0
    var moved = 0
    var sent = 0
    /// Per folder, in the order first reported.
    var news: [NewMessages] = []

    var any: Bool { new + uploaded + flagsChanged + deleted + moved + sent > 0 }
}

/// Nanoseconds of `CLOCK_MONOTONIC`: cheap, and storable in an atomic.
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
