#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TestSupport

/// A throwaway desktop session, as /work/shared/notes/session-dbus-notifications.md describes:
/// a private session dbus-daemon (its own config: no service activation), Xvfb, dunst as the
/// notification server, and dbus-monitor recording every Notify call. Everything it starts it
/// stops, by pid.
final class DesktopSession {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let directory: String
    private(set) var busAddress = ""
    private(set) var display = ""
    /// Everything started, in order; stopped in reverse.
    private var pids: [pid_t] = []
    var monitorLog: String { directory + "/monitor.log" }

    init() async throws {
        directory = "/tmp/desk-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for tool in ["/usr/bin/dbus-daemon", "/usr/bin/Xvfb", "/usr/bin/dunst", "/usr/bin/dunstctl", "/usr/bin/dbus-monitor"] {
            guard FileManager.default.isExecutableFile(atPath: tool) else {
                throw TestError("\(tool) is missing: scripts/test installs dbus dunst xvfb libnotify-bin")
            }
        }
        try """
            <busconfig>
              <type>session</type>
              <listen>unix:tmpdir=/tmp</listen>
              <policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy>
            </busconfig>
            """.write(toFile: directory + "/bus.conf", atomically: true, encoding: .utf8)
        // Nothing expires on its own, so what a test reads back does not depend on how fast it runs.
        try """
            [global]
                history_length = 100
                markup = full
            [urgency_low]
                timeout = 0
            [urgency_normal]
                timeout = 0
            [urgency_critical]
                timeout = 0
            """.write(toFile: directory + "/dunstrc", atomically: true, encoding: .utf8)
        do {
            // The tools write where they are ready on fd 3; `exec` keeps the pid the one we wait for.
            try start("/bin/sh", ["-c", "exec dbus-daemon --config-file=\(directory)/bus.conf --nofork --address=unix:path=\(directory)/bus --print-address=3 3>\(directory)/bus.addr"], log: "dbus.log")
            try start("/bin/sh", ["-c", "exec Xvfb -displayfd 3 -screen 0 1024x768x24 -nolisten tcp 3>\(directory)/display"], log: "xvfb.log")
            busAddress = try await firstLine(of: "bus.addr")
            display = ":" + (try await firstLine(of: "display"))
            try start("/usr/bin/env", environment + ["dbus-monitor", "interface='org.freedesktop.Notifications'"], log: "monitor.log")
            try start("/usr/bin/env", environment + ["dunst", "-config", directory + "/dunstrc"], log: "dunst.log")
            try await waitForName("org.freedesktop.Notifications")
        } catch {
            stop()
            throw error
        }
    }

    deinit { stop() }

    /// `VAR=value` words for /usr/bin/env: the session's bus and display.
    var environment: [String] { ["DBUS_SESSION_BUS_ADDRESS=\(busAddress)", "DISPLAY=\(display)"] }

    /// Starts `path` in the session (output appended to `log` in the session's directory) and
    /// keeps its pid for ``stop()``.
    @discardableResult
    func start(_ path: String, _ arguments: [String], log: String) throws -> pid_t {
        guard let pid = startTool(path, arguments, outputFile: directory + "/" + log) else { throw TestError("cannot start \(path)") }
        pids.append(pid)
        return pid
    }

    /// Runs a tool with the session's environment to its end.
    func run(_ tool: String, _ arguments: [String]) -> (status: Int32, stdout: String) {
        runTool("/usr/bin/env", environment + [tool] + arguments)
    }

    /// Starts syncd-desktop on `socket`.
    @discardableResult
    func startDesktop(socket: String, arguments: [String] = []) throws -> pid_t {
        try start("/usr/bin/env", environment + [try builtProduct("syncd-desktop"), "--socket", socket] + arguments, log: "desktop.log")
    }

    /// Waits until syncd-desktop has subscribed `connections` times (it says so when it has).
    func waitForDesktop(connections: Int) async throws {
        try await waitUntil("syncd-desktop to subscribe (\(connections))") {
            file("desktop.log").components(separatedBy: "syncd-desktop: connected to").count - 1 >= connections
        }
    }

    /// Starts tests/desktop/jobview-peer.py and waits until it owns org.kde.JobViewServer.
    func startJobViewPeer(cancelOnProgress: Bool) async throws -> String {
        let log = directory + "/jobview.jsonl"
        try start("/usr/bin/env", environment + ["/usr/bin/python3", Self.repository.path + "/tests/desktop/jobview-peer.py", log]
                  + (cancelOnProgress ? ["--cancel-on-progress"] : []), log: "jobview.log")
        try await waitForName("org.kde.JobViewServer")
        return log
    }

    /// Stops the pid and waits for it (SIGTERM).
    func stop(_ pid: pid_t) {
        guard let index = pids.firstIndex(of: pid) else { return }
        pids.remove(at: index)
        kill(pid, SIGTERM)
        _ = waitForTool(pid)
    }

    /// Stops everything started, newest first.
    func stop() {
        for pid in pids.reversed() {
            kill(pid, SIGTERM)
            _ = waitForTool(pid)
        }
        pids.removeAll()
        try? FileManager.default.removeItem(atPath: directory)
    }

    func file(_ name: String) -> String { (try? String(contentsOfFile: directory + "/" + name, encoding: .utf8)) ?? "" }

    // MARK: what dunst received

    /// The notifications dunst shows now and has shown (closing the shown ones puts them into
    /// its history, which is the only list dunstctl prints), newest first: (summary, body).
    func closeAllAndReadHistory() throws -> [(summary: String, body: String)] {
        _ = run("dunstctl", ["close-all"])
        let output = run("dunstctl", ["history"])
        guard output.status == 0, let data = output.stdout.data(using: .utf8),
              let json = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let lists = json["data"] as? [[[String: Any]]] else {
            throw TestError("dunstctl history: status \(output.status): \(output.stdout)")
        }
        return (lists.first ?? []).map { entry in
            let field = { (name: String) in (entry[name] as? [String: Any])?["data"] as? String ?? "" }
            return (field("summary"), field("body"))
        }
    }

    /// How many notifications dunst shows now.
    var displayed: Int { Int(run("dunstctl", ["count", "displayed"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1 }

    /// How many Notify calls whose summary starts with `summary` went over the bus (dbus-monitor
    /// prints the arguments of each call, the summary fourth).
    func notifyCalls(summaryPrefix: String) -> Int {
        let lines = file("monitor.log").components(separatedBy: "\n")
        var count = 0
        for (index, line) in lines.enumerated() where line.contains("member=Notify") {
            let strings = lines[(index + 1)...].prefix(8).filter { $0.trimmingCharacters(in: .whitespaces).hasPrefix("string \"") }
            if strings.count >= 3, strings[2].contains("string \"\(summaryPrefix)") { count += 1 }
        }
        return count
    }

    /// Waits until `condition` holds, polling.
    func waitUntil(_ what: String, timeout: Duration = .seconds(15), _ condition: () throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try !condition() {
            guard ContinuousClock.now < deadline else {
                throw TestError("timed out waiting for \(what); syncd-desktop said: \(file("desktop.log"))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    private func firstLine(of name: String) async throws -> String {
        var line = ""
        try await waitUntil(name, timeout: .seconds(10)) {
            line = file(name).components(separatedBy: "\n").first ?? ""
            return file(name).contains("\n")
        }
        return line
    }

    private func waitForName(_ name: String) async throws {
        try await waitUntil("\(name) on the bus", timeout: .seconds(10)) {
            run("gdbus", ["call", "--session", "--dest", "org.freedesktop.DBus", "--object-path", "/org/freedesktop/DBus",
                          "--method", "org.freedesktop.DBus.NameHasOwner", name]).stdout.contains("true")
        }
    }
}
