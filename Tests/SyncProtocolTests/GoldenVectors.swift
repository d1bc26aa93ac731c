import NIOCore
import SyncProtocol

/// The messages behind `docs/vectors/*.hex`, the byte-level examples of docs/PROTOCOL.md.
/// Each vector is checked both ways: encoding the message gives the file's bytes, and decoding
/// the file's bytes gives the message.
///
/// Together they tell one story (docs/vectors/README.md): someone ran `syncctl sync mail`; a
/// watch-only viewer connects while that run 7 is syncing INBOX, follows it to its Done, asks
/// what it may and is refused what it may not, and reconnects after being dropped as too slow.
enum GoldenVectors {
    static let time = Timestamp(rawValue: 1_764_000_000_000_000)  // 2025-11-24T16:00:00Z, run 7 starts
    static let ended = Timestamp(rawValue: 1_764_000_012_000_000)  // 12 s later, run 7 is done
    static let nextRun = Timestamp(rawValue: 1_764_000_912_000_000)  // interval 15m after that
    static let lastRun = Timestamp(rawValue: 1_763_999_100_000_000)  // the run before, 15 min earlier

    /// What `syncctl sync mail` asks for on a store with the default download flags.
    static let runFlags: SyncFlags = [.downloadHierarchy, .downloadContents, .onDemand]

    /// The configuration of both stores: every 15 minutes, downloads only.
    static let interval: UInt32 = 900
    static let download: SyncFlags = [.downloadHierarchy, .downloadContents]

    static let mailBefore = StoreInfo(
        provider: "imap", lastResult: .ok, lastRunEnded: lastRun, lastSuccess: lastRun, interval: interval, flags: download,
        push: .listening, pushDetail: "IDLE, 3 folders")
    /// Later: a message arrives in INBOX at 16:20:00 and IDLE reports it.
    static let pushed = Timestamp(rawValue: 1_764_001_200_000_000)
    static let sent = Timestamp(rawValue: 1_764_001_140_000_000)  // its Date: a minute before
    /// Waiting for a free slot (`max_concurrent_runs = 1`) while mail syncs.
    static let notes = StoreInfo(provider: "exec", lastResult: .ok, lastRunEnded: lastRun, lastSuccess: lastRun, queuePlace: 1,
                                 interval: interval, flags: download)

    static let all: [(name: String, message: Message)] = [
        // Events 42 and 43 happened before the viewer connected.
        ("run-started", .event(SyncEvent(
            seq: 42, time: time, store: "mail", run: 7, kind: .runStarted(flags: runFlags, trigger: .onDemand)))),
        ("store-changed-running", .event(SyncEvent(seq: 43, time: time, store: "mail", run: 0, kind: .storeChanged(mailBefore)))),
        ("progress", .event(SyncEvent(
            seq: 44, time: time, store: "mail", run: 7, kind: .progress(step: "INBOX", index: 40, max: 200), callbacks: 3))),
        // The viewer connects.
        ("hello", .hello(Hello(versions: 1...1, client: "viewer.py"))),
        ("welcome", .welcome(Welcome(version: 1, access: .watch, seq: 44, server: "syncd 0.2.0", instance: 0x5e11_c0de_2026))),
        ("subscribe", .request(Request(id: 1, command: .subscribe(stores: [], since: nil)))),
        ("subscribed-snapshot", .subscribed(Subscribed(requestID: 1, start: .snapshot))),
        ("snapshot", .snapshot(Snapshot(seq: 44, stores: [
            StoreStatus(
                name: "mail", info: mailBefore,
                run: RunStatus(id: 7, flags: runFlags, trigger: .onDemand, started: time, step: "INBOX", index: 40, max: 200)),
            StoreStatus(name: "notes", info: notes),
        ]))),
        // Live events.
        ("progress-no-step", .event(SyncEvent(
            seq: 45, time: time, store: "mail", run: 7, kind: .progress(step: nil, index: 41, max: 200)))),
        ("error", .event(SyncEvent(
            seq: 46, time: time, store: "mail", run: 7, kind: .error(code: .network, message: "connection reset")))),
        ("status", .request(Request(id: 3, command: .status(stores: ["mail"])))),
        ("status-reply", .statusReply(StatusReply(requestID: 3, snapshot: Snapshot(seq: 46, stores: [
            StoreStatus(
                name: "mail", info: mailBefore,
                run: RunStatus(id: 7, flags: runFlags, trigger: .onDemand, started: time, step: "INBOX", index: 41, max: 200,
                               errors: 1)),
        ]), viewers: ViewerCounts(watching: 2, droppedAsTooSlow: 1)))),
        ("done", .event(SyncEvent(seq: 47, time: ended, store: "mail", run: 7, kind: .done(result: .partial)))),
        ("store-changed", .event(SyncEvent(
            seq: 48, time: ended, store: "mail", run: 0,
            kind: .storeChanged(StoreInfo(
                provider: "imap", lastResult: .partial, lastRunEnded: ended, lastSuccess: ended, nextRun: nextRun,
                interval: interval, flags: download, push: .listening, pushDetail: "IDLE, 3 folders"))))),
        ("store-removed", .event(SyncEvent(seq: 49, time: ended, store: "notes", run: 0, kind: .storeRemoved))),
        // What a watch-only viewer may ask, and what it may not.
        ("errors", .request(Request(id: 9, command: .errors(stores: ["mail"])))),
        ("error-history", .errorHistory(ErrorHistory(requestID: 9, entries: [
            ErrorEntry(store: "mail", run: 7, time: time, code: .network, message: "connection reset"),
        ]))),
        ("runs", .request(Request(id: 10, command: .runs(stores: ["mail"])))),
        ("run-history", .runHistory(RunHistory(requestID: 10, runs: [
            RunRecord(store: "mail", run: 7, flags: runFlags, trigger: .onDemand, started: time, ended: ended,
                      result: .partial, errors: 1),
        ]))),
        ("ping", .request(Request(id: 11, command: .ping))),
        ("reply-pong", .reply(Reply(requestID: 11, status: .ok, message: "pong"))),
        ("sync-now", .request(Request(id: 4, command: .syncNow(store: "mail", flags: [])))),
        ("reply", .reply(Reply(requestID: 4, status: .permissionDenied, message: "permission denied"))),
        ("cancel", .request(Request(id: 5, command: .cancel(store: "mail")))),
        ("pause", .request(Request(id: 6, command: .pause(store: "mail")))),
        ("resume", .request(Request(id: 7, command: .resume(store: "mail")))),
        ("reload", .request(Request(id: 8, command: .reload))),
        ("login", .request(Request(id: 12, command: .login(store: "mail")))),
        // Dropped as too slow after event 45, the viewer reconnects and asks for what followed.
        ("goodbye", .goodbye(Goodbye(code: .tooSlow, message: "too slow"))),
        ("subscribe-since", .request(Request(id: 2, command: .subscribe(stores: ["mail"], since: 45)))),
        ("subscribed-replay", .subscribed(Subscribed(requestID: 2, start: .replay(since: 45)))),
        // The answer had the server no longer held event 46: a snapshot follows.
        ("subscribed-resync", .subscribed(Subscribed(requestID: 2, start: .resync(since: 45, oldest: 47)))),
        // Added in 0.4: a message arrives; IDLE sees it and asks for a run of INBOX.
        ("run-started-push", .event(SyncEvent(
            seq: 60, time: pushed, store: "mail", run: 8, kind: .runStarted(flags: download, trigger: .push)))),
        ("new-messages", .event(SyncEvent(
            seq: 63, time: pushed, store: "mail", run: 8,
            kind: .newMessages(NewMessages(folder: "INBOX", count: 1, summaries: [
                .init(from: "Alice Example <alice@example.org>", subject: "Lunch?", date: sent),
            ]))))),
        // Then the server restarts: the listener waits 20 s to reconnect.
        ("store-changed-reconnecting", .event(SyncEvent(
            seq: 64, time: pushed, store: "mail", run: 0,
            kind: .storeChanged(StoreInfo(
                provider: "imap", lastResult: .ok, lastRunEnded: pushed, lastSuccess: pushed, nextRun: nextRun,
                interval: interval, flags: download, push: .reconnecting, pushDetail: "in 20s: connection reset"))))),
    ]
}
