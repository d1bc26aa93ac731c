import ArgumentParser
import Foundation
import SyncIPC
import SyncJSON
import SyncProtocol

extension Syncctl {
    /// `syncctl show STORE`, as `systemctl status UNIT`: one store, all that is known about it.
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one store in full: state, configuration, recent runs, recent errors, its journal lines.",
            discussion: """
                Journal lines (what syncd logged about the store, including an exec command's stderr) are read from the local journal, as journalctl would; they need read access to it (root, or groups systemd-journal or adm), and there are none for a syncd run by hand, which logs to stderr.

                --json prints one document: {"store": (as in status --json), "runs": [{"run", "flags", "trigger", "started", "ended", "seconds", "result", "warnings", "errors"}], "errors": (as errors --json), "journal": [{"time", "level", "message"}] or null}.
                """)

        @OptionGroup var socket: SocketOption
        @Argument(help: "The store to show.", completion: Completion.stores) var store: String
        @Option(name: [.short, .customLong("lines")], help: "How many runs, errors and journal lines to show.") var lines = 10
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let client = try await socket.connect()
            let snapshot = await request { try await client.status(stores: [store]) }
            let runs = await request { try await client.runs(stores: [store]) }.suffix(lines)
            let errors = await request { try await client.errors(stores: [store]) }.suffix(lines)
            await client.close()
            let journal = Journal.entries(store: store, limit: lines)
            guard let status = snapshot.stores.first else { fail("no store named '\(store)'", status: Exit.refused) }
            if json {
                let document: [String: Any] = [
                    "store": try JSONOutput.object(JSONOutput.store(status)),
                    "runs": runs.map(JSONOutput.run),
                    "errors": errors.map(JSONOutput.entry),
                    "journal": journal.map { $0.map(JSONOutput.journal) } ?? NSNull(),
                ]
                let data = try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .withoutEscapingSlashes])
                Output.write(data + Data("\n".utf8))
                return
            }
            Output.write(Self.text(status, runs: Array(runs), errors: Array(errors), journal: journal))
        }

        static func text(_ store: StoreStatus, runs: [RunRecord], errors: [ErrorEntry], journal: [Journal.Entry]?) -> String {
            let info = store.info
            var out = "\(store.name) (\(info.provider)): \(Format.state(store))\n"
            func field(_ name: String, _ value: String) {
                out += name.padding(toLength: 10, withPad: " ", startingAt: 0) + value + "\n"
            }
            if let run = store.run {
                var now = "run \(run.id) (\(run.trigger)) since \(clock(run.started)), \(Format.duration(Date().timeIntervalSince1970 - run.started.seconds))"
                let progress = Format.progress(run)
                if !progress.isEmpty { now += ": \(progress)" }
                if run.warnings > 0 { now += ", \(run.warnings) warning\(run.warnings == 1 ? "" : "s")" }
                if run.errors > 0 { now += ", \(run.errors) error\(run.errors == 1 ? "" : "s")" }
                field("Running:", now)
            }
            field("Schedule:", "\(Format.interval(info.interval)); \(Format.flags(info.flags))")
            if let result = info.lastResult {
                field("Last run:", "\(result.name) \(Format.age(info.lastRunEnded)); last success \(Format.age(info.lastSuccess))")
            } else {
                field("Last run:", "never")
            }
            field("Next run:", Format.next(info) + (info.retry > 0 ? " after: \(info.retryReason ?? "a failure")" : ""))
            if info.authRequired { field("Login:", "required: run syncctl login \(store.name)") }
            if info.push != .notConfigured { field("Push:", Format.push(info)) }
            if info.outboxDepth > 0 { field("Outbox:", "\(info.outboxDepth) waiting, oldest \(Format.age(info.outboxOldest))") }
            out += "\nRecent runs:\n"
            if runs.isEmpty { out += "  none yet\n" }
            for run in runs.reversed() {
                var counts: [String] = []
                if run.warnings > 0 { counts.append("\(run.warnings) warning\(run.warnings == 1 ? "" : "s")") }
                if run.errors > 0 { counts.append("\(run.errors) error\(run.errors == 1 ? "" : "s")") }
                out += "  run \(run.run)  \(date(run.started))  \(Format.duration(run.duration).padding(toLength: 6, withPad: " ", startingAt: 0))"
                    + "  \(run.result.name)\(counts.isEmpty ? "" : " (" + counts.joined(separator: ", ") + ")")  \(run.trigger)\n"
            }
            out += "\nRecent errors and warnings:\n"
            if errors.isEmpty { out += "  none\n" }
            for entry in errors.reversed() {
                out += "  \(date(entry.time))  run \(entry.run)  \(entry.code.isFailure ? "error" : "warning") \(entry.code.name): \(entry.message)\n"
            }
            out += "\nJournal:\n"
            switch journal {
            case nil:
                out += "  no journal on this machine\n"
            case let entries? where entries.isEmpty:
                out += "  no entries for this store (a syncd run by hand logs to stderr; reading syncd's entries needs root or group systemd-journal or adm)\n"
            case let entries?:
                for entry in entries { out += "  \(date(entry.time)) \(entry.level): \(entry.message)\n" }
            }
            return out
        }

        /// "2026-12-02 16:00:05" in UTC, as the other tables.
        private static func date(_ time: Timestamp) -> String {
            String(Format.iso(time).prefix(19)).replacingOccurrences(of: "T", with: " ")
        }

        private static func clock(_ time: Timestamp) -> String {
            String(Format.iso(time).dropFirst(11).prefix(8))
        }
    }
}

extension JSONOutput {
    static func journal(_ entry: Journal.Entry) -> [String: Any] {
        ["time": Format.iso(entry.time), "level": entry.level, "message": entry.message]
    }
}
