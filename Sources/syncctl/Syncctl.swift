import ArgumentParser
import Foundation
import SyncIPC
import SyncJSON
import SyncProtocol

@main
struct Syncctl: AsyncParsableCommand {
    /// What `--version` prints.
    static let version = "0.2.0"

    static let configuration = CommandConfiguration(
        commandName: "syncctl",
        abstract: "Query and drive syncd, the background sync daemon.",
        usage: "syncctl [--user | --system | --socket <socket>] [<subcommand>] [<arguments>...]",
        discussion: """
            Without a subcommand, syncctl shows the status table. --socket, --user and --system may come before or after the subcommand; default: $SYNCD_SOCKET, else the user's own daemon ($XDG_RUNTIME_DIR/syncd/syncd.sock) if its socket exists, else the system's (/run/syncd/syncd.sock).

            \(Exit.help)
            """,
        version: version,
        subcommands: [Status.self, Show.self, Watch.self, Wait.self, Sync.self, Cancel.self, Pause.self, Resume.self, Login.self, Errors.self, Reload.self, Add.self],
        defaultSubcommand: Status.self)

    static func main() async {
        Output.ignoreSIGPIPE()
        await main(globalOptionsAfterSubcommand(Array(CommandLine.arguments.dropFirst())))
    }

    /// Options every subcommand takes (`--socket`), moved from before the subcommand's name to
    /// after it, where the subcommand parses them: `syncctl --socket P status` is
    /// `syncctl status --socket P`. Without a subcommand, the status table's.
    static func globalOptionsAfterSubcommand(_ arguments: [String]) -> [String] {
        var global: [String] = []
        var rest = arguments[...]
        while let first = rest.first {
            if first == "--user" || first == "--system" {
                global.append(first)
                rest = rest.dropFirst()
            } else if first == "--socket", rest.count >= 2 {
                global += rest.prefix(2)
                rest = rest.dropFirst(2)
            } else if first.hasPrefix("--socket=") {
                global.append(first)
                rest = rest.dropFirst()
            } else {
                break
            }
        }
        guard !global.isEmpty else { return arguments }
        let names = Set(configuration.subcommands.map { $0._commandName })
        guard let next = rest.first else { return [Status._commandName] + global }
        // A group's options come after its subcommand: `syncctl --system add imap` is `add imap --system`.
        // Its --user is the login name; the user's own daemon is its default anyway.
        if next == Add._commandName, rest.count >= 2 {
            return [next, rest[rest.startIndex + 1]] + global.filter { $0 != "--user" } + rest.dropFirst(2)
        }
        if names.contains(next) { return [next] + global + rest.dropFirst() }
        // `syncctl --socket P --help` and the like: the root command's own flags.
        if ["help", "-h", "--help", "-help", "--version", "--generate-completion-script"].contains(next) { return Array(rest) }
        return [Status._commandName] + global + rest
    }
}

extension Syncctl {
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show every store (or the named ones): state, progress, last result, next run.",
            discussion: """
                A run waiting for a free slot (max_concurrent_runs) shows as queued with its place in line; a store whose last run failed shows which retry comes when, and why, below the table.

                --json prints one document: {"seq", "stores": [{"name", "provider", "state" (idle, syncing, stalled, paused, login-required, queued, retrying, error), "paused", "stalled", "auth_required", "run": {"id", "flags", "trigger", "started", "step", "index", "max", "percent", "warnings", "errors"} or null, "last_result": {"code", "name", "text"} or null, "last_run_ended", "last_success", "next_run", "queue_place" (0: not waiting), "retry" (0: none), "retry_reason", "interval" (seconds, 0: on demand only), "flags"}], "viewers": {"watching", "dropped_too_slow"}}. Times are ISO 8601 UTC or null.
                """)

        @OptionGroup var socket: SocketOption
        @Argument(help: "Stores to show (default: all).", completion: Completion.stores) var stores: [String] = []
        @Flag(help: "Print JSON instead of a table.") var json = false

        func run() async throws {
            let client = try await socket.connect()
            let reply = await request { try await client.statusReply(stores: stores) }
            let snapshot = reply.snapshot
            if json {
                JSONOutput.print(JSONOutput.status(snapshot, viewers: reply.viewers))
                return
            }
            if let header = socket.header { Output.line(header) }
            if snapshot.stores.isEmpty {
                Output.line("no stores are configured")
                return
            }
            let rows = snapshot.stores.map { store in
                [store.name, store.info.provider, Format.state(store), Format.progress(store.run),
                 Format.result(store.info.lastResult), Format.age(store.info.lastSuccess), Format.next(store.info)]
            }
            printTable(header: ["STORE", "PROVIDER", "STATE", "PROGRESS", "LAST RESULT", "LAST SUCCESS", "NEXT RUN"], rows: rows)
            // What to do about a store waiting for a login, and why a store retries, do not fit a column.
            for store in snapshot.stores where store.info.authRequired {
                Output.line("\(store.name): needs a login: run syncctl login \(store.name)")
            }
            for store in snapshot.stores where store.info.retry > 0 && store.run == nil {
                Output.line("\(store.name): retry \(store.info.retry) \(Format.when(store.info)) after: \(store.info.retryReason ?? Format.result(store.info.lastResult))")
            }
            for store in snapshot.stores where store.info.push != .notConfigured {
                Output.line("\(store.name): push: \(Format.push(store.info))")
            }
            for store in snapshot.stores where store.info.outboxDepth > 0 {
                Output.line("\(store.name): outbox: \(store.info.outboxDepth) waiting, oldest \(Format.age(store.info.outboxOldest))")
            }
            if let viewers = reply.viewers { Output.line(Format.viewers(viewers)) }
        }
    }

    struct Watch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show syncs live: a bar per store, errors and warnings as they arrive.",
            discussion: """
                Attaching mid-run shows the current state at once. If syncd restarts, watch reconnects and says so, and replays what it missed. Not on a terminal, it prints plain lines; --json prints one JSON object per line: {"type", "store", "run", "seq", "time", ...the event's fields} with type run-started, progress, warning, error, done, store-changed, store-removed, new-messages ({"folder", "count", "messages": [{"from", "subject", "date"}]}), snapshot or notice.

                --format prints one update per change for a status bar, at most 4 a second and only when it differs from the last: waybar (a custom module with "return-type": "json": {"text", "alt", "tooltip", "class", "percentage"} per line; class and alt are syncing, error, auth-required, paused, idle or disconnected), i3bar (the i3bar protocol, for i3bar's or swaybar's status_command), i3blocks (a block with interval=persist and format=json: {"full_text", "short_text", "color", "name", "instance"} per line) or line (a plain line). While syncd is down it shows "syncd down" (class disconnected) and keeps reconnecting; it ends quietly when the bar goes away.
                """)

        @OptionGroup var socket: SocketOption
        @Argument(help: "Stores to watch (default: all).", completion: Completion.stores) var stores: [String] = []
        @Flag(help: "One JSON object per event.") var json = false
        @Option(help: "One update per change for a status bar: waybar, i3bar, i3blocks or line.") var format: BarFormat?
        @Flag(name: .customLong("until-done"), help: "Exit once no watched store is syncing.") var untilDone = false
        @Option(help: "Seconds without a frame after which watch pings syncd; no answer within as long means it hangs, and watch says so and reconnects.")
        var heartbeat: Double = 10

        func validate() throws {
            if json, format != nil { throw ValidationError("--json and --format exclude each other") }
        }

        func run() async throws {
            let heartbeat = Duration.milliseconds(Int64(max(0.1, heartbeat) * 1000))
            if let format {
                // A bar may start before syncd: no probe that fails, only one that catches a
                // misspelled store while syncd is there to say so.
                if let probe = try? await SyncClient.connect(to: socket.path, clientName: "syncctl") {
                    _ = await request { try await probe.status(stores: stores) }
                    await probe.close()
                }
                let status = await BarSession(socket: socket.path, stores: stores, format: format, untilDone: untilDone, heartbeat: heartbeat).run()
                throw ExitCode(status)
            }
            // Fail fast, with a reason, when syncd is not there or a store is misspelled.
            let probe = try await socket.connect()
            _ = await request { try await probe.status(stores: stores) }
            await probe.close()
            let status = await WatchSession(
                socket: socket.path, stores: stores, json: json, untilDone: untilDone, heartbeat: heartbeat).run()
            throw ExitCode(status)
        }
    }

    struct Sync: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sync stores now, before scheduled runs.",
            discussion: """
                With --wait, shows progress like watch and exits with how the runs went: 0 only if every run completed without warnings or errors (the exit statuses are listed in syncctl --help).

                --json prints one JSON object per line per store whose sync was accepted: \(JSONOutput.replyShape); with --wait, what watch --json prints. Refusals go to stderr either way.
                """)

        @OptionGroup var socket: SocketOption
        @Argument(help: "Stores to sync.", completion: Completion.stores) var stores: [String] = []
        @Flag(help: "Sync every configured store.") var all = false
        @Flag(help: "Wait for the runs to finish, showing their progress.") var wait = false
        @Flag(name: .customLong("headers-only"), help: "Headers only; bodies come with a later full run.") var headersOnly = false
        @Flag(name: .customLong("download-only"), help: "Only download (hierarchy and contents).") var downloadOnly = false
        @Flag(name: .customLong("upload-only"), help: "Only upload (hierarchy, contents, outgoing mail).") var uploadOnly = false
        @Flag(help: "Print JSON: the replies, or with --wait one object per event.") var json = false
        @Flag(name: .customLong("allow-mass-delete"), help: "Confirm deletions a store refused as too many (e.g. after the local copy was emptied).")
        var allowMassDelete = false

        func validate() throws {
            guard !stores.isEmpty || all else { throw ValidationError("name at least one store to sync, or --all") }
            guard stores.isEmpty || !all else { throw ValidationError("name stores or --all, not both") }
            guard !(downloadOnly && uploadOnly) else { throw ValidationError("--download-only and --upload-only exclude each other") }
        }

        var flags: SyncFlags {
            var flags: SyncFlags = []
            if downloadOnly { flags = [.downloadHierarchy, .downloadContents] }
            if uploadOnly { flags = [.uploadHierarchy, .uploadContents, .outgoingMail] }
            if headersOnly { flags.formUnion(flags.isEmpty ? SyncFlags.full.union(.headersOnly) : .headersOnly) }
            if allowMassDelete { flags.formUnion(flags.isEmpty ? SyncFlags.full.union(.allowMassDelete) : .allowMassDelete) }
            return flags
        }

        func run() async throws {
            let client = try await socket.connect()
            var stores = self.stores
            if all {
                stores = await request { try await client.status() }.stores.map(\.name)
                if stores.isEmpty {
                    // Not on stdout with --json: a reader there expects JSON.
                    if json { complain("no stores are configured") } else { Output.line("no stores are configured") }
                    return
                }
            }
            guard wait else {
                var worst = Exit.ok
                for store in stores {
                    worst = max(worst, await say(client, .syncNow(store: store, flags: flags), json: json))
                }
                throw ExitCode(worst)
            }
            let code = await SyncWait(client: client, stores: stores, flags: flags, json: json).run()
            throw ExitCode(code)
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cancel the stores' running syncs.",
            discussion: "--json prints one JSON object per line per store: \(JSONOutput.replyShape). Refusals go to stderr.")
        @OptionGroup var socket: SocketOption
        @Argument(help: "The stores.", completion: Completion.stores) var stores: [String]
        @Flag(help: "Print the replies as JSON.") var json = false
        func run() async throws { try await each(socket, stores, json: json) { .cancel(store: $0) } }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pause stores: no scheduled runs; a running sync is cancelled.",
            discussion: "--json prints one JSON object per line per store: \(JSONOutput.replyShape). Refusals go to stderr.")
        @OptionGroup var socket: SocketOption
        @Argument(help: "The stores.", completion: Completion.stores) var stores: [String]
        @Flag(help: "Print the replies as JSON.") var json = false
        func run() async throws { try await each(socket, stores, json: json) { .pause(store: $0) } }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Resume paused stores.",
            discussion: "--json prints one JSON object per line per store: \(JSONOutput.replyShape). Refusals go to stderr.")
        @OptionGroup var socket: SocketOption
        @Argument(help: "The stores.", completion: Completion.stores) var stores: [String]
        @Flag(help: "Print the replies as JSON.") var json = false
        func run() async throws { try await each(socket, stores, json: json) { .resume(store: $0) } }
    }

    struct Reload: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-read syncd's configuration; a broken one is rejected and the old one kept.",
            discussion: "--json prints the reply as one JSON object: \(JSONOutput.replyShape), store null. A rejected configuration goes to stderr.")
        @OptionGroup var socket: SocketOption
        @Flag(help: "Print the reply as JSON.") var json = false
        func run() async throws { try await simple(socket, .reload, json: json) }
    }

    struct Errors: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the remembered errors and warnings (kept across restarts), oldest first.",
            discussion: """
                --json prints an array of {"store", "run", "time", "code", "name", "severity", "message"}.
                """)
        @OptionGroup var socket: SocketOption
        @Argument(help: "Stores (default: all).", completion: Completion.stores) var stores: [String] = []
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let client = try await socket.connect()
            let entries = await request { try await client.errors(stores: stores) }
            if json {
                let data = try JSONSerialization.data(
                    withJSONObject: entries.map(JSONOutput.entry), options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
                Output.write(data + Data("\n".utf8))
                return
            }
            if entries.isEmpty {
                Output.line("no errors or warnings recorded")
                return
            }
            printTable(header: ["TIME", "STORE", "RUN", "CODE", "MESSAGE"], rows: entries.map { entry in
                [String(Format.iso(entry.time).prefix(19)).replacingOccurrences(of: "T", with: " "), entry.store,
                 "\(entry.run)", entry.code.name, entry.message]
            })
        }
    }
}

/// Sends one control request, prints the daemon's answer, exits with its status.
func simple(_ socket: SocketOption, _ command: Request.Command, json: Bool) async throws {
    let client = try await socket.connect()
    throw ExitCode(await say(client, command, json: json))
}

/// Sends a control request per store, printing each answer; exits with the worst status.
func each(_ socket: SocketOption, _ stores: [String], json: Bool, _ command: (String) -> Request.Command) async throws {
    let client = try await socket.connect()
    var worst = Exit.ok
    for store in stores {
        worst = max(worst, await say(client, command(store), json: json))
    }
    throw ExitCode(worst)
}

/// Sends one control request and prints the daemon's answer: on stdout if it was done (with
/// `json`, as a JSON object on a line of its own), on stderr (`syncctl: ...`) if it was refused.
/// Returns the exit status it deserves.
func say(_ client: SyncClient, _ command: Request.Command, json: Bool) async -> Int32 {
    let reply = await request { try await client.send(command) }
    let code = status(for: reply)
    let message = userWords(reply.message, for: command)
    if code != Exit.ok {
        complain(message)
    } else if json {
        JSONOutput.printLine(JSONOutput.reply(reply, message: message, for: command))
    } else {
        Output.line(message)
    }
    return code
}

/// Left-aligned columns, two spaces apart; the last column is not padded.
func printTable(header: [String], rows: [[String]]) {
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    for row in all {
        let cells = row.enumerated().map { column, cell in
            column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
        }
        Output.line(cells.joined(separator: "  "))
    }
}
