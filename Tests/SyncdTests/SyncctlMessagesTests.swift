#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SyncIPC
import SyncProtocol
import TestSupport
import XCTest

/// What `syncctl` tells a new user, against a real `syncd`: why it cannot reach the socket and
/// who decides, shell completion of store names, `--json` everywhere, and bars that say each
/// number once and how fast the run goes.
final class SyncctlMessagesTests: XCTestCase {
    typealias Output = SyncctlTests.Output

    static let stores = SyncctlTests.stores

    /// Runs syncctl with `environment` changes (nil removes a variable), behind `prefix`
    /// (`runuser -u USER --`, `setpriv ...`) when given.
    static func syncctl(
        _ arguments: [String], socket: String?, prefix: [String] = [], environment changes: [String: String?] = [:]
    ) async throws -> (output: Output, seconds: Double) {
        let process = Process()
        let binary = try builtProduct("syncctl")
        if let first = prefix.first {
            process.executableURL = URL(fileURLWithPath: first)
            process.arguments = Array(prefix.dropFirst()) + [binary] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = arguments
        }
        var environment = ProcessInfo.processInfo.environment
        environment["SYNCD_SOCKET"] = socket
        for (key, value) in changes { environment[key] = value }
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let start = ContinuousClock.now
        try process.run()
        async let stdout = SyncctlTests.readToEnd(out.fileHandleForReading)
        async let stderr = SyncctlTests.readToEnd(err.fileHandleForReading)
        let (o, e) = await (stdout, stderr)
        process.waitUntilExit()
        let took = ContinuousClock.now - start
        return (Output(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                       stderr: String(decoding: e, as: UTF8.self)),
                Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18)
    }

    func syncctl(_ arguments: [String], socket: String?, prefix: [String] = [], environment: [String: String?] = [:]) async throws -> Output {
        try await Self.syncctl(arguments, socket: socket, prefix: prefix, environment: environment).output
    }

    // MARK: 1. Permission advice names the group that decides

    /// A throw-away user (with its own group, as useradd makes one) and a throw-away group.
    struct Accounts {
        let user: String
        let group: String
        let owner: String  // a second user, to own a socket with its private group

        init() throws {
            let tag = UInt16.random(in: 1000...9999)
            user = "sctlmsg\(tag)"
            group = "sctlgrp\(tag)"
            owner = "sctlown\(tag)"
            for name in [user, owner] {
                guard shell("/usr/sbin/useradd", ["--system", "--user-group", "--no-create-home", name]) == 0 else {
                    throw TestError("useradd \(name) failed")
                }
            }
            guard shell("/usr/sbin/groupadd", ["--system", group]) == 0 else { throw TestError("groupadd \(group) failed") }
        }

        func remove() {
            _ = shell("/usr/sbin/userdel", [user])
            _ = shell("/usr/sbin/userdel", [owner])
            _ = shell("/usr/sbin/groupdel", [group])
            _ = shell("/usr/sbin/groupdel", [user])
            _ = shell("/usr/sbin/groupdel", [owner])
        }

        var asUser: [String] { ["/usr/sbin/runuser", "-u", user, "--"] }
    }

    func testSocketPermissionDenied_namesTheGroupThatDecides() async throws {
        try XCTSkipUnless(getuid() == 0, "creating users needs root")
        let accounts = try Accounts()
        defer { accounts.remove() }
        let daemon = try DaemonProcess(config: Self.stores)
        try await daemon.start()
        let socket = daemon.socket

        // A daemon run by root by hand: the socket is root:root, 0660. Joining root is no advice.
        XCTAssertEqual(chmod(socket, 0o660), 0)
        let rootOwned = try await syncctl(["status"], socket: socket, prefix: accounts.asUser)
        XCTAssertEqual(rootOwned.status, 77)
        XCTAssertEqual(rootOwned.stderr, """
            syncctl: permission denied on \(socket) (mode 0660, owner root, group root): only root and group root may open it (not a group to join for this); \
            whoever runs syncd decides who else may: its socket_mode ("0666" lets anyone watch, and its control_group decides who may control), \
            or SocketMode=/SocketGroup= in syncd.socket

            """)
        XCTAssertFalse(rootOwned.stderr.contains("usermod"), rootOwned.stderr)

        // The socket's group is a shared one: join it.
        XCTAssertEqual(shell("/usr/bin/chgrp", [accounts.group, socket]), 0)
        let shared = try await syncctl(["status"], socket: socket, prefix: accounts.asUser)
        XCTAssertEqual(shared.status, 77)
        XCTAssertEqual(shared.stderr, """
            syncctl: permission denied on \(socket) (mode 0660, group \(accounts.group)): add yourself to group '\(accounts.group)' \
            (sudo usermod -aG \(accounts.group) $USER, then log in again)

            """)

        // ... unless the mode gives that group nothing.
        XCTAssertEqual(chmod(socket, 0o600), 0)
        let ownerOnly = try await syncctl(["status"], socket: socket, prefix: accounts.asUser)
        XCTAssertEqual(ownerOnly.status, 77)
        XCTAssertTrue(ownerOnly.stderr.hasPrefix(
            "syncctl: permission denied on \(socket) (mode 0600, owner root, group \(accounts.group)): only root may open it; whoever runs syncd decides"),
            ownerOnly.stderr)

        // A daemon run by hand by another user: the socket's group is that user's own.
        XCTAssertEqual(chmod(socket, 0o660), 0)
        XCTAssertEqual(shell("/usr/bin/chown", ["\(accounts.owner):\(accounts.owner)", socket]), 0)
        let personal = try await syncctl(["status"], socket: socket, prefix: accounts.asUser)
        XCTAssertEqual(personal.status, 77)
        XCTAssertTrue(personal.stderr.hasPrefix(
            "syncctl: permission denied on \(socket) (mode 0660, owner \(accounts.owner), group \(accounts.owner)): only \(accounts.owner) may open it (group \(accounts.owner) is \(accounts.owner)'s own); "),
            personal.stderr)
        XCTAssertFalse(personal.stderr.contains("usermod"), personal.stderr)

        // Added to the group, but this session began before: log in again.
        XCTAssertEqual(shell("/usr/bin/chown", ["root:\(accounts.group)", socket]), 0)
        XCTAssertEqual(shell("/usr/sbin/usermod", ["-aG", accounts.group, accounts.user]), 0)
        let stale = try await syncctl(["status"], socket: socket, prefix: [
            "/usr/bin/setpriv", "--reuid", accounts.user, "--regid", accounts.user, "--clear-groups", "--"])
        XCTAssertEqual(stale.status, 77)
        XCTAssertEqual(stale.stderr, """
            syncctl: permission denied on \(socket) (mode 0660, group \(accounts.group)): you were added to group '\(accounts.group)' \
            after this session began; log in again (or run `newgrp \(accounts.group)`)

            """)
        let loggedInAgain = try await syncctl(["status", "ok"], socket: socket, prefix: accounts.asUser)
        XCTAssertEqual(loggedInAgain.status, 0, loggedInAgain.stderr)
    }

    func testDirectoryPermissionDenied_namesTheDirectory() async throws {
        try XCTSkipUnless(getuid() == 0, "creating users needs root")
        let accounts = try Accounts()
        defer { accounts.remove() }
        let daemon = try DaemonProcess(config: Self.stores)
        try await daemon.start()
        let socket = daemon.socket
        let directory = daemon.directory
        XCTAssertEqual(chmod(socket, 0o666), 0)

        XCTAssertEqual(chmod(directory, 0o700), 0)
        let closed = try await syncctl(["status"], socket: socket, prefix: accounts.asUser)
        XCTAssertEqual(closed.status, 77)
        XCTAssertEqual(closed.stderr, """
            syncctl: permission denied on directory \(directory) (mode 0700, owner root, group root), on the way to \(socket): \
            only root may enter it; whoever runs syncd decides where its socket lives (--socket, or socket in its config): \
            ask them, or use a socket you can reach

            """)

        XCTAssertEqual(chmod(directory, 0o750), 0)
        XCTAssertEqual(shell("/usr/bin/chgrp", [accounts.group, directory]), 0)
        let grouped = try await syncctl(["status"], socket: socket, prefix: accounts.asUser)
        XCTAssertEqual(grouped.status, 77)
        XCTAssertEqual(grouped.stderr, """
            syncctl: permission denied on directory \(directory) (mode 0750, group \(accounts.group)), on the way to \(socket): \
            add yourself to group '\(accounts.group)' (sudo usermod -aG \(accounts.group) $USER, then log in again)

            """)
        XCTAssertEqual(chmod(directory, 0o755), 0)
    }

    /// A watch-only user's control request: the daemon says which group controls (its
    /// control_group, not necessarily 'syncd'); syncctl shows exactly that, in its own words, on
    /// stderr, with or without --json.
    func testControlRefusal_showsTheDaemonsAdvice() async throws {
        try XCTSkipUnless(getuid() == 0, "creating users needs root")
        let accounts = try Accounts()
        defer { accounts.remove() }
        let daemon = try DaemonProcess(config: "[daemon]\nsocket_mode = \"0666\"\ncontrol_group = \"\(accounts.group)\"\n" + Self.stores)
        try await daemon.start()
        let advice = "control needs root or membership in group '\(accounts.group)' (sudo usermod -aG \(accounts.group) $USER, then log in again)"
        for (arguments, verb) in [(["sync", "ok"], "sync"), (["sync", "ok", "--json"], "sync"), (["sync", "ok", "--wait"], "sync"),
                                  (["cancel", "ok", "--json"], "cancel"), (["pause", "ok", "--json"], "pause"),
                                  (["resume", "ok"], "resume"), (["reload", "--json"], "reload")] {
            let denied = try await syncctl(arguments, socket: daemon.socket, prefix: accounts.asUser)
            XCTAssertEqual(denied.status, 77, "\(arguments): \(denied.stderr)")
            XCTAssertEqual(denied.stdout, "", "\(arguments): a refusal goes to stderr")
            XCTAssertEqual(denied.stderr, "syncctl: permission denied: \(verb) — \(advice)\n", "\(arguments)")
        }
    }

    // MARK: 2. Each socket problem gets its own message

    func testSocketErrors_sayWhatThePathIs() async throws {
        let daemon = try DaemonProcess(config: Self.stores)
        let directory = daemon.directory

        let missing = directory + "/nothing.sock"
        let noSocket = try await syncctl(["status"], socket: missing)
        XCTAssertEqual(noSocket.status, 69)
        XCTAssertEqual(noSocket.stderr, "syncctl: no socket at \(missing) (is syncd running with --socket \(missing)? Else point --socket or $SYNCD_SOCKET at the socket it listens on)\n")

        let noDirectory = try await syncctl(["status", "--socket", directory + "/gone/s.sock"], socket: nil)
        XCTAssertEqual(noDirectory.status, 69)
        XCTAssertTrue(noDirectory.stderr.hasPrefix("syncctl: no socket at \(directory)/gone/s.sock: its directory \(directory)/gone does not exist either ("),
                      noDirectory.stderr)

        let file = try await syncctl(["status", "--socket", daemon.configPath], socket: nil)
        XCTAssertEqual(file.status, 69)
        XCTAssertEqual(file.stderr, "syncctl: \(daemon.configPath) is a regular file, not a socket: --socket takes the socket syncd listens on (the path given to syncd --socket, or socket in its config)\n")

        let underFile = try await syncctl(["status", "--socket", daemon.configPath + "/s.sock"], socket: nil)
        XCTAssertEqual(underFile.status, 69)
        XCTAssertEqual(underFile.stderr, "syncctl: no socket at \(daemon.configPath)/s.sock: \(daemon.configPath) is not a directory\n")

        let long = directory + "/" + String(repeating: "x", count: 120) + ".sock"
        let tooLong = try await syncctl(["status", "--socket", long], socket: nil)
        XCTAssertEqual(tooLong.status, 69)
        XCTAssertEqual(tooLong.stderr, "syncctl: socket path is too long (\(long.utf8.count) bytes; a Unix socket's path has at most 107): \(long)\n")

        try await daemon.start()
        let isDirectory = try await syncctl(["watch", "--socket", directory], socket: nil)
        XCTAssertEqual(isDirectory.status, 69)
        XCTAssertEqual(isDirectory.stderr, "syncctl: \(directory) is a directory, not a socket: --socket takes the socket file itself, such as \(daemon.socket)\n")

        // syncd crashed: its socket file is left behind, and nobody listens on it.
        daemon.signal(SIGKILL)
        _ = try await daemon.waitForExit()
        let stale = try await syncctl(["sync", "ok"], socket: daemon.socket)
        XCTAssertEqual(stale.status, 69)
        XCTAssertEqual(stale.stderr, "syncctl: syncd is not running: nothing listens on \(daemon.socket), a socket left behind by a syncd that stopped or crashed (start syncd again with --socket \(daemon.socket): it replaces the stale socket)\n")

        for result in [noSocket, noDirectory, file, underFile, tooLong, isDirectory, stale] {
            XCTAssertFalse(result.stderr.contains("systemctl"), "systemd hints are for the system socket only: \(result.stderr)")
        }
    }

    /// The systemd hint comes with the system socket, /run/syncd/syncd.sock.
    func testSystemSocket_missing_hintsAtSystemd() async throws {
        var info = stat()
        try XCTSkipIf(stat("/run/syncd/syncd.sock", &info) == 0, "a system syncd socket exists here")
        let result = try await syncctl(["status"], socket: nil)
        XCTAssertEqual(result.status, 69)
        let directoryNote = stat("/run/syncd", &info) == 0 ? "" : ": its directory /run/syncd does not exist either"
        XCTAssertEqual(result.stderr, "syncctl: syncd is not running: no socket at /run/syncd/syncd.sock\(directoryNote) (start it with `sudo systemctl start syncd.socket`; if it does not start, `journalctl -u syncd` says why)\n")
    }

    // MARK: 3. Shell completion of store names

    /// argument-parser's scripts call `syncctl ---completion SUBCOMMAND -- positional@0 WORD-INDEX
    /// CURSOR-INDEX WORDS...` (the shell's words, the command's name first).
    static func complete(_ words: [String], socket: String?) async throws -> (output: Output, seconds: Double) {
        let subcommand = words[1]
        let index = words.count - 1
        return try await syncctl(["---completion", subcommand, "--", "positional@0", "\(index)", "\(words[index].count)"] + words,
                                 socket: socket)
    }

    func testCompletion_offersStoreNamesFromTheDaemon() async throws {
        let daemon = try DaemonProcess(config: Self.stores)
        try await daemon.start()
        let script = runTool(try builtProduct("syncctl"), ["--generate-completion-script", "bash"]).stdout
        XCTAssertTrue(script.contains("---completion sync -- positional@0"), "the shell calls back the way this test does")

        for subcommand in ["sync", "cancel", "pause", "resume", "status", "errors", "watch"] {
            let (all, _) = try await Self.complete(["syncctl", subcommand, ""], socket: daemon.socket)
            XCTAssertEqual(all.status, 0, "\(subcommand): \(all.stderr)")
            XCTAssertEqual(all.stdout.split(separator: "\n"), ["fails", "ok", "slow", "warns"], subcommand)
        }
        let (prefixed, _) = try await Self.complete(["syncctl", "sync", "s"], socket: daemon.socket)
        XCTAssertEqual(prefixed.stdout.split(separator: "\n"), ["slow"])
        let (others, _) = try await Self.complete(["syncctl", "cancel", "ok", "slow", ""], socket: daemon.socket)
        XCTAssertEqual(others.stdout.split(separator: "\n"), ["fails", "warns"], "stores already named are not offered again")

        // --socket on the line being completed wins over $SYNCD_SOCKET, however the shell split it.
        let elsewhere = daemon.directory + "/not-here.sock"
        for words in [["syncctl", "sync", "--socket", daemon.socket, "w"], ["syncctl", "sync", "--socket=\(daemon.socket)", "w"],
                      ["syncctl", "sync", "--socket", "=", daemon.socket, "w"]] {
            let (named, _) = try await Self.complete(words, socket: elsewhere)
            XCTAssertEqual(named.stdout.split(separator: "\n"), ["warns"], "\(words)")
        }
    }

    func testCompletion_withoutADaemon_offersNothingQuickly() async throws {
        let daemon = try DaemonProcess(config: Self.stores)
        let (none, seconds) = try await Self.complete(["syncctl", "sync", ""], socket: daemon.socket)
        XCTAssertEqual(none.status, 0, none.stderr)
        XCTAssertEqual(none.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "")
        XCTAssertLessThan(seconds, 2)

        // Something listens but never answers (a hung daemon): the shell waits at most about a second.
        let hung = daemon.directory + "/hung.sock"
        let fd = try bindListeningSocket(hung)
        defer { close(fd) }
        let (silent, waited) = try await Self.complete(["syncctl", "pause", "--socket", hung, ""], socket: daemon.socket)
        XCTAssertEqual(silent.status, 0, silent.stderr)
        XCTAssertEqual(silent.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "")
        XCTAssertLessThan(waited, 2, "gives up on a silent daemon within about a second")
    }

    // MARK: 4. --json for every subcommand that prints

    func testJSON_forEveryControlSubcommand() async throws {
        let daemon = try DaemonProcess(config: Self.stores)
        try await daemon.start()
        let socket = daemon.socket
        func lines(_ output: Output) -> [[String: Any]] {
            output.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }

        let paused = try await syncctl(["pause", "ok", "--json"], socket: socket)
        XCTAssertEqual(paused.status, 0, paused.stderr)
        XCTAssertEqual(lines(paused).count, 1, paused.stdout)
        let pause = try XCTUnwrap(lines(paused).first)
        XCTAssertEqual(pause["command"] as? String, "pause")
        XCTAssertEqual(pause["store"] as? String, "ok")
        XCTAssertEqual(pause["message"] as? String, "paused 'ok'")
        XCTAssertEqual((pause["status"] as? [String: String])?["name"], "ok")
        XCTAssertEqual((pause["status"] as? [String: String])?["code"], "0x00000000")

        let resumed = try await syncctl(["resume", "ok", "nope", "--json"], socket: socket)
        XCTAssertEqual(resumed.status, 1, "one was refused")
        XCTAssertEqual(lines(resumed).map { $0["store"] as? String }, ["ok"], "only what was done goes to stdout: \(resumed.stdout)")
        XCTAssertTrue(resumed.stderr.hasPrefix("syncctl: no store named 'nope'; "), resumed.stderr)

        let started = try await syncctl(["sync", "slow", "--json"], socket: socket)
        XCTAssertEqual(started.status, 0, started.stderr)
        let sync = try XCTUnwrap(lines(started).first, started.stdout)
        XCTAssertEqual(sync["command"] as? String, "sync", "the user's word, not the wire's sync-now")
        XCTAssertEqual(sync["store"] as? String, "slow")
        XCTAssertTrue((sync["message"] as? String)?.hasPrefix("sync of 'slow' started (run ") ?? false, "\(sync)")

        let busy = try await syncctl(["sync", "slow", "--json"], socket: socket)
        XCTAssertEqual(busy.status, 1)
        XCTAssertEqual(busy.stdout, "")
        XCTAssertTrue(busy.stderr.hasPrefix("syncctl: 'slow' is already syncing (run "), busy.stderr)

        let cancelled = try await syncctl(["cancel", "slow", "--json"], socket: socket)
        XCTAssertEqual(cancelled.status, 0, cancelled.stderr)
        XCTAssertEqual(lines(cancelled).first?["command"] as? String, "cancel")
        XCTAssertTrue((lines(cancelled).first?["message"] as? String)?.hasPrefix("cancelling run ") ?? false, cancelled.stdout)

        let reloaded = try await syncctl(["reload", "--json"], socket: socket)
        XCTAssertEqual(reloaded.status, 0, reloaded.stderr)
        let reload = try XCTUnwrap(lines(reloaded).first, reloaded.stdout)
        XCTAssertEqual(reload["command"] as? String, "reload")
        XCTAssertTrue(reload["store"] is NSNull, "\(reload)")
        XCTAssertEqual(reload["message"] as? String, "reloaded \(daemon.configPath): 0 added, 0 removed, 0 changed")

        // Every subcommand that prints takes --json and says what it prints.
        for subcommand in ["status", "watch", "sync", "cancel", "pause", "resume", "errors", "reload"] {
            let help = runTool(try builtProduct("syncctl"), [subcommand, "--help"]).stdout
                .split(whereSeparator: \.isWhitespace).joined(separator: " ")
            XCTAssertTrue(help.contains("--json prints"), "\(subcommand): \(help)")
        }
    }

    func testSyncAllJSON_withNoStores_keepsStdoutJSON() async throws {
        let daemon = try DaemonProcess(config: "")
        try await daemon.start()
        let none = try await syncctl(["sync", "--all", "--json"], socket: daemon.socket)
        XCTAssertEqual(none.status, 0, none.stderr)
        XCTAssertEqual(none.stdout, "")
        XCTAssertEqual(none.stderr, "syncctl: no stores are configured\n")
    }

    // MARK: 5. Bars say each number once, and how fast

    static let counted = """
        [store.counted]
        provider = "synthetic"
        steps = 120
        rate = 40
        step_text = "message"
        run_at_startup = false
        """

    func testPlainProgress_showsRateAndETA() async throws {
        let daemon = try DaemonProcess(config: Self.counted)
        try await daemon.start()
        let socket = daemon.socket
        let watch = try await syncctl(["sync", "counted", "--wait"], socket: socket)
        XCTAssertEqual(watch.status, 0, watch.stderr)
        let progress = watch.stdout.split(separator: "\n").map { String($0.dropFirst(9)) }.filter { $0.hasPrefix("counted: ") && $0.contains("% message ") }
        XCTAssertGreaterThanOrEqual(progress.count, 2, watch.stdout)
        XCTAssertFalse(progress[0].contains("/s"), "no rate from a single sample: \(progress)")
        let paced = progress.dropFirst().filter { $0.range(of: #"^counted: \d+% message \d+, \d+/s, ETA \d+s$"#, options: .regularExpression) != nil }
        XCTAssertFalse(paced.isEmpty, "after a second of progress, the rate and the time left: \(progress)")
        for line in paced {
            let rate = Int(line.components(separatedBy: ", ")[1].dropLast(2)) ?? 0
            XCTAssertTrue((20...60).contains(rate), "about 40 a second: \(line)")
        }
    }

    func testTerminalBar_saysTheCounterOnce_withRateAndETA() async throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux"), "needs tmux")
        let daemon = try DaemonProcess(config: Self.counted.replacingOccurrences(of: "steps = 120", with: "steps = 200"))
        try await daemon.start()
        let session = "syncctlmsg\(UInt16.random(in: 1000...9999))"
        let command = "SYNCD_SOCKET=\(daemon.socket) \(try builtProduct("syncctl")) watch; sleep 60"
        XCTAssertEqual(shell("/usr/bin/tmux", ["new-session", "-d", "-s", session, "-x", "120", "-y", "10", command]), 0)
        defer { _ = shell("/usr/bin/tmux", ["kill-session", "-t", session]) }
        try await Task.sleep(for: .milliseconds(500))
        _ = try await syncctl(["sync", "counted"], socket: daemon.socket)
        // The run takes 5 s; the rate shows once it has reported for a second.
        let pattern = #"%  message \d+/200  \d+/s  ETA \d+s$"#
        var bar = ""
        let deadline = ContinuousClock.now + .seconds(4)
        repeat {
            try await Task.sleep(for: .milliseconds(250))
            let (_, output) = runTool("/usr/bin/tmux", ["capture-pane", "-p", "-t", session])
            let screen = output.split(separator: "\n").map { String($0).trimmingCharacters(in: .whitespaces) }
            bar = screen.first { $0.hasPrefix("counted") } ?? "\(screen)"
        } while bar.range(of: pattern, options: .regularExpression) == nil && ContinuousClock.now < deadline
        XCTAssertNotNil(bar.range(of: pattern, options: .regularExpression),
                        "the step's number and the counter once, then rate and time left: \(bar)")
        XCTAssertNil(bar.range(of: #"message (\d+)  \1/"#, options: .regularExpression), bar)
    }
}

@discardableResult
private func shell(_ path: String, _ arguments: [String]) -> Int32 {
    runTool(path, arguments, captureOutput: false).status
}
