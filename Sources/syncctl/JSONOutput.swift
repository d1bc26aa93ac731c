import Foundation
import SyncProtocol

/// The JSON documents `--json` prints (status, watch, errors, and the control subcommands'
/// replies). Field names are listed in each subcommand's `--help`; times are ISO 8601 UTC; absent
/// values are null.
enum JSONOutput {
    struct Result: Encodable {
        var code: String
        var name: String
        var text: String
        init(_ status: SyncStatus) {
            code = status.hex
            name = status.name
            text = status.text
        }
    }

    struct Run: Encodable {
        var id: UInt64
        var flags: [String]
        var trigger: String
        var started: String
        var step: String?
        var index: UInt32
        var max: UInt32
        var percent: Double?
        var warnings: UInt32
        var errors: UInt32
    }

    struct Store: Encodable {
        var name: String
        var provider: String
        var state: String
        var paused: Bool
        var stalled: Bool
        var auth_required: Bool
        var run: Run?
        var last_result: Result?
        var last_run_ended: String?
        var last_success: String?
        var next_run: String?
        var queue_place: UInt32
        var retry: UInt32
        var retry_reason: String?
        var interval: UInt32
        var flags: [String]
        var push: String
        var push_detail: String?
        var outbox_depth: UInt32
        var outbox_oldest: String?

        enum CodingKeys: CodingKey {
            case name, provider, state, paused, stalled, auth_required, run, last_result, last_run_ended, last_success, next_run
            case queue_place, retry, retry_reason, interval, flags, push, push_detail, outbox_depth, outbox_oldest
        }

        // Absent values are written as null (the synthesized encoder would leave the keys out),
        // so every document has the same fields.
        func encode(to encoder: Encoder) throws {
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

    struct Status: Encodable {
        var seq: UInt64
        var stores: [Store]
    }

    static func flags(_ flags: SyncFlags) -> [String] {
        SyncFlags.names.filter { flags.contains($0.flag) }.map(\.name)
    }

    static func store(_ store: StoreStatus) -> Store {
        Store(
            name: store.name, provider: store.info.provider, state: Format.state(store), paused: store.info.paused,
            stalled: store.info.stalled, auth_required: store.info.authRequired,
            run: store.run.map { run in
                Run(id: run.id, flags: flags(run.flags), trigger: run.trigger.description, started: Format.iso(run.started),
                    step: run.step, index: run.index, max: run.max,
                    percent: run.fraction.map { ($0 * 1000).rounded() / 10 }, warnings: run.warnings, errors: run.errors)
            },
            last_result: store.info.lastResult.map(Result.init), last_run_ended: store.info.lastRunEnded.map(Format.iso),
            last_success: store.info.lastSuccess.map(Format.iso), next_run: store.info.nextRun.map(Format.iso),
            queue_place: store.info.queuePlace, retry: store.info.retry, retry_reason: store.info.retryReason,
            interval: store.info.interval, flags: flags(store.info.flags), push: store.info.push.description,
            push_detail: store.info.pushDetail, outbox_depth: store.info.outboxDepth,
            outbox_oldest: store.info.outboxOldest.map(Format.iso))
    }

    static func status(_ snapshot: Snapshot) -> Status {
        Status(seq: snapshot.seq, stores: snapshot.stores.map(store))
    }

    /// One event as a flat object: type, store, run, seq, time and the event's own fields.
    static func event(_ event: SyncEvent) -> [String: Any] {
        var object: [String: Any] = [
            "store": event.store, "run": event.run, "seq": event.seq, "time": Format.iso(event.time),
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
            object["next_run"] = info.nextRun.map(Format.iso) ?? NSNull()
            object["push"] = info.push.description
            object["push_detail"] = info.pushDetail ?? NSNull()
            object["outbox_depth"] = info.outboxDepth
            object["outbox_oldest"] = info.outboxOldest.map(Format.iso) ?? NSNull()
        case .storeRemoved:
            object["type"] = "store-removed"
        case .newMessages(let news):
            object["type"] = "new-messages"
            object["folder"] = news.folder
            object["count"] = news.count
            object["messages"] = news.summaries.map { summary -> [String: Any] in
                ["from": summary.from, "subject": summary.subject, "date": summary.date.map(Format.iso) ?? NSNull()]
            }
        }
        return object
    }

    /// The shape of ``reply(_:message:for:)``, for the subcommands' help.
    static let replyShape = #"{"command" (sync, cancel, pause, resume, reload), "store", "status": {"code", "name", "text"}, "message"}"#

    /// A control request's answer: what was asked, of which store, and what the daemon said.
    static func reply(_ reply: Reply, message: String, for command: Request.Command) -> [String: Any] {
        ["command": userVerb(command), "store": storeName(command) ?? NSNull(),
         "status": ["code": reply.status.hex, "name": reply.status.name, "text": reply.status.text], "message": message]
    }

    static func entry(_ entry: ErrorEntry) -> [String: Any] {
        ["store": entry.store, "run": entry.run, "time": Format.iso(entry.time), "code": entry.code.hex,
         "name": entry.code.name, "severity": entry.code.isFailure ? "error" : "warning", "message": entry.message]
    }

    static func print<T: Encodable>(_ value: T) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let data = try! encoder.encode(value)
        Output.write(data + Data("\n".utf8))
    }

    /// One compact line (for streams: one object per line).
    static func printLine(_ object: [String: Any]) {
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        Output.write(data + Data("\n".utf8))
    }
}
