import Foundation
import SyncProtocol

/// The JSON documents viewers print or serve: `syncctl --json` (status, watch, errors) and
/// syncd-http's `/api/status`, `/api/errors` and `/events`, so a script reads one shape from both.
/// Field names are listed in each syncctl subcommand's `--help`; times are ISO 8601 UTC; absent
/// values are null.
public enum JSONOutput {
    public struct Result: Encodable {
        public var code: String
        public var name: String
        public var text: String
        public init(_ status: SyncStatus) {
            code = status.hex
            name = status.name
            text = status.text
        }
    }

    public struct Run: Encodable {
        public var id: UInt64
        public var flags: [String]
        public var trigger: String
        public var started: String
        public var step: String?
        public var index: UInt32
        public var max: UInt32
        public var percent: Double?
        public var warnings: UInt32
        public var errors: UInt32
    }

    public struct Store: Encodable {
        public var name: String
        public var provider: String
        public var state: String
        public var paused: Bool
        public var stalled: Bool
        public var auth_required: Bool
        public var run: Run?
        public var last_result: Result?
        public var last_run_ended: String?
        public var last_success: String?
        public var next_run: String?
        public var queue_place: UInt32
        public var retry: UInt32
        public var retry_reason: String?
        public var interval: UInt32
        public var flags: [String]
        public var push: String
        public var push_detail: String?
        public var outbox_depth: UInt32
        public var outbox_oldest: String?

        enum CodingKeys: CodingKey {
            case name, provider, state, paused, stalled, auth_required, run, last_result, last_run_ended, last_success, next_run
            case queue_place, retry, retry_reason, interval, flags, push, push_detail, outbox_depth, outbox_oldest
        }

        // Absent values are written as null (the synthesized encoder would leave the keys out),
        // so every document has the same fields.
        public func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(name, forKey: .name)
            try container.encode(provider, forKey: .provider)
            try container.encode(state, forKey: .state)
            try container.encode(paused, forKey: .paused)
            try container.encode(stalled, forKey: .stalled)
            try container.encode(auth_required, forKey: .auth_required)
            try container.encode(run, forKey: .run)
            try container.encode(last_result, forKey: .last_result)
            try container.encode(last_run_ended, forKey: .last_run_ended)
            try container.encode(last_success, forKey: .last_success)
            try container.encode(next_run, forKey: .next_run)
            try container.encode(queue_place, forKey: .queue_place)
            try container.encode(retry, forKey: .retry)
            try container.encode(retry_reason, forKey: .retry_reason)
            try container.encode(interval, forKey: .interval)
            try container.encode(flags, forKey: .flags)
            try container.encode(push, forKey: .push)
            try container.encode(push_detail, forKey: .push_detail)
            try container.encode(outbox_depth, forKey: .outbox_depth)
            try container.encode(outbox_oldest, forKey: .outbox_oldest)
        }
    }

    public struct Status: Encodable {
        public var seq: UInt64
        public var stores: [Store]
        /// Only where the answer carried them (a StatusReply from a 0.5 daemon); left out otherwise.
        public var viewers: Viewers?
    }

    public struct Viewers: Encodable {
        public var watching: UInt32
        public var dropped_too_slow: UInt64
    }

    public static func flags(_ flags: SyncFlags) -> [String] {
        SyncFlags.names.filter { flags.contains($0.flag) }.map(\.name)
    }

    public static func store(_ store: StoreStatus) -> Store {
        Store(
            name: store.name, provider: store.info.provider, state: StoreWords.state(store), paused: store.info.paused,
            stalled: store.info.stalled, auth_required: store.info.authRequired,
            run: store.run.map { run in
                Run(id: run.id, flags: flags(run.flags), trigger: run.trigger.description, started: StoreWords.iso(run.started),
                    step: run.step, index: run.index, max: run.max,
                    percent: run.fraction.map { ($0 * 1000).rounded() / 10 }, warnings: run.warnings, errors: run.errors)
            },
            last_result: store.info.lastResult.map(Result.init), last_run_ended: store.info.lastRunEnded.map(StoreWords.iso),
            last_success: store.info.lastSuccess.map(StoreWords.iso), next_run: store.info.nextRun.map(StoreWords.iso),
            queue_place: store.info.queuePlace, retry: store.info.retry, retry_reason: store.info.retryReason,
            interval: store.info.interval, flags: flags(store.info.flags), push: store.info.push.description,
            push_detail: store.info.pushDetail, outbox_depth: store.info.outboxDepth,
            outbox_oldest: store.info.outboxOldest.map(StoreWords.iso))
    }

    public static func status(_ snapshot: Snapshot, viewers: ViewerCounts? = nil) -> Status {
        Status(seq: snapshot.seq, stores: snapshot.stores.map(store),
               viewers: viewers.map { Viewers(watching: $0.watching, dropped_too_slow: $0.droppedAsTooSlow) })
    }

    /// One event as a flat object: type, store, run, seq, time and the event's own fields.
    public static func event(_ event: SyncEvent) -> [String: Any] {
        var object: [String: Any] = [
            "store": event.store, "run": event.run, "seq": event.seq, "time": StoreWords.iso(event.time),
        ]
        switch event.kind {
        case .runStarted(let runFlags, let trigger):
            object["type"] = "run-started"
            object["flags"] = flags(runFlags)
            object["trigger"] = trigger.description
        case .progress(let step, let index, let max):
            object["type"] = "progress"
            object["step"] = step ?? NSNull()
            object["index"] = index
            object["max"] = max
            object["callbacks"] = event.callbacks
        case .error(let code, let message):
            object["type"] = code.isFailure ? "error" : "warning"
            object["code"] = code.hex
            object["name"] = code.name
            object["message"] = message
        case .done(let result):
            object["type"] = "done"
            object["result"] = ["code": result.hex, "name": result.name, "text": result.text]
        case .storeChanged(let info):
            object["type"] = "store-changed"
            object["provider"] = info.provider
            object["paused"] = info.paused
            object["stalled"] = info.stalled
            object["auth_required"] = info.authRequired
            object["queue_place"] = info.queuePlace
            object["retry"] = info.retry
            object["retry_reason"] = info.retryReason ?? NSNull()
            object["next_run"] = info.nextRun.map(StoreWords.iso) ?? NSNull()
            object["push"] = info.push.description
            object["push_detail"] = info.pushDetail ?? NSNull()
            object["outbox_depth"] = info.outboxDepth
            object["outbox_oldest"] = info.outboxOldest.map(StoreWords.iso) ?? NSNull()
        case .storeRemoved:
            object["type"] = "store-removed"
        case .newMessages(let news):
            object["type"] = "new-messages"
            object["folder"] = news.folder
            object["count"] = news.count
            object["messages"] = news.summaries.map { summary -> [String: Any] in
                ["from": summary.from, "subject": summary.subject, "date": summary.date.map(StoreWords.iso) ?? NSNull()]
            }
        }
        return object
    }
}

extension JSONOutput {
    /// One remembered error or warning, as `syncctl errors --json` and `/api/errors` give it.
    public static func entry(_ entry: ErrorEntry) -> [String: Any] {
        ["store": entry.store, "run": entry.run, "time": StoreWords.iso(entry.time), "code": entry.code.hex,
         "name": entry.code.name, "severity": entry.code.isFailure ? "error" : "warning", "message": entry.message]
    }

    /// One finished run, as `syncctl show --json` and `/api/runs` give it.
    public static func run(_ run: RunRecord) -> [String: Any] {
        [
            "run": run.run, "flags": flags(run.flags), "trigger": run.trigger.description,
            "started": StoreWords.iso(run.started), "ended": StoreWords.iso(run.ended), "seconds": run.duration,
            "result": ["code": run.result.hex, "name": run.result.name, "text": run.result.text],
            "warnings": run.warnings, "errors": run.errors,
        ]
    }
}

extension JSONOutput {
    /// A control request's answer: what was asked, of which store, and what the daemon said.
    public static func reply(_ reply: Reply, message: String, for command: Request.Command) -> [String: Any] {
        ["command": verb(command), "store": store(of: command) ?? NSNull(),
         "status": ["code": reply.status.hex, "name": reply.status.name, "text": reply.status.text], "message": message]
    }

    /// The user's word for a control request: "sync" for sync-now, else its protocol name.
    public static func verb(_ command: Request.Command) -> String {
        switch command {
        case .syncNow: return "sync"
        default: return command.name
        }
    }

    /// The store a control request names, nil for reload.
    public static func store(of command: Request.Command) -> String? {
        switch command {
        case .syncNow(let store, _), .cancel(let store), .pause(let store), .resume(let store), .login(let store): return store
        default: return nil
        }
    }
}
