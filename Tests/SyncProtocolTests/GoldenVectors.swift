import NIOCore
import SyncProtocol

/// The messages behind `docs/vectors/*.hex`, the byte-level examples of docs/PROTOCOL.md.
/// Each vector is checked both ways: encoding the message gives the file's bytes, and decoding
/// the file's bytes gives the message.
enum GoldenVectors {
    static let time = Timestamp(rawValue: 1_764_000_000_000_000)  // 2025-11-24T16:00:00Z

    static let all: [(name: String, message: Message)] = [
        ("hello", .hello(Hello(versions: 1...1, client: "viewer.py"))),
        ("welcome", .welcome(Welcome(version: 1, access: .watch, seq: 41, server: "syncd", instance: 0x5e11_c0de_2026))),
        ("goodbye", .goodbye(Goodbye(code: .tooSlow, message: "too slow"))),
        ("run-started", .event(SyncEvent(
            seq: 42, time: time, store: "mail", run: 7,
            kind: .runStarted(flags: [.downloadHierarchy, .downloadContents, .onDemand], trigger: .onDemand)))),
        ("progress", .event(SyncEvent(
            seq: 43, time: time, store: "mail", run: 7, kind: .progress(step: "INBOX", index: 40, max: 200)))),
        ("progress-no-step", .event(SyncEvent(
            seq: 44, time: time, store: "mail", run: 7, kind: .progress(step: nil, index: 41, max: 200)))),
        ("error", .event(SyncEvent(
            seq: 45, time: time, store: "mail", run: 7,
            kind: .error(code: .network, message: "connection reset")))),
        ("done", .event(SyncEvent(seq: 46, time: time, store: "mail", run: 7, kind: .done(result: .partial)))),
        ("store-changed", .event(SyncEvent(
            seq: 47, time: time, store: "mail", run: 0,
            kind: .storeChanged(StoreInfo(
                provider: "imap", paused: true, lastResult: .ok, lastRunEnded: time, lastSuccess: time,
                nextRun: nil))))),
        ("store-removed", .event(SyncEvent(seq: 48, time: time, store: "mail", run: 0, kind: .storeRemoved))),
        ("snapshot", .snapshot(Snapshot(seq: 43, stores: [
            StoreStatus(
                name: "mail", info: StoreInfo(provider: "imap"),
                run: RunStatus(
                    id: 7, flags: [.downloadContents], trigger: .schedule, started: time, step: "INBOX",
                    index: 40, max: 200, warnings: 1, errors: 0)),
            StoreStatus(name: "notes", info: StoreInfo(provider: "exec", lastResult: .ok, lastRunEnded: time, lastSuccess: time)),
        ]))),
        ("subscribe", .request(Request(id: 1, command: .subscribe(stores: [], since: nil)))),
        ("subscribe-since", .request(Request(id: 2, command: .subscribe(stores: ["mail"], since: 41)))),
        ("status", .request(Request(id: 3, command: .status(stores: ["mail"])))),
        ("sync-now", .request(Request(id: 4, command: .syncNow(store: "mail", flags: [.headersOnly])))),
        ("cancel", .request(Request(id: 5, command: .cancel(store: "mail")))),
        ("pause", .request(Request(id: 6, command: .pause(store: "mail")))),
        ("resume", .request(Request(id: 7, command: .resume(store: "mail")))),
        ("reload", .request(Request(id: 8, command: .reload))),
        ("errors", .request(Request(id: 9, command: .errors(stores: ["mail"])))),
        ("reply", .reply(Reply(requestID: 4, status: .permissionDenied, message: "permission denied"))),
        ("subscribed-snapshot", .subscribed(Subscribed(requestID: 1, start: .snapshot))),
        ("subscribed-replay", .subscribed(Subscribed(requestID: 2, start: .replay(since: 41)))),
        ("subscribed-resync", .subscribed(Subscribed(requestID: 2, start: .resync(since: 41, oldest: 100)))),
        ("status-reply", .statusReply(StatusReply(requestID: 3, snapshot: Snapshot(seq: 48, stores: [])))),
        ("error-history", .errorHistory(ErrorHistory(requestID: 9, entries: [
            ErrorEntry(store: "mail", run: 7, time: time, code: .network, message: "connection reset"),
        ]))),
    ]
}
