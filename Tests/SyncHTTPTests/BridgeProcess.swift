#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TestSupport

/// A real syncd-http process attached to a test's daemon, on a loopback port of its choice.
final class BridgeProcess {
    let log: String
    let url: String
    let port: Int
    private var pid: pid_t?

    /// Starts syncd-http on `daemon`'s socket and waits until it listens.
    init(daemon: DaemonProcess, arguments: [String] = []) async throws {
        log = daemon.directory + "/syncd-http-\(UInt32.random(in: 0...UInt32.max)).log"
        guard let pid = startTool(try builtProduct("syncd-http"), ["--socket", daemon.socket, "--listen", "127.0.0.1:0"] + arguments,
                                  outputFile: log) else { throw TestError("could not start syncd-http") }
        self.pid = pid
        let deadline = ContinuousClock.now + .seconds(20)
        var found: Int?
        while found == nil {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("syncd-http: listening on http://127.0.0.1:") }) {
                found = Int(line.split(separator: ":").last!.trimmingCharacters(in: CharacterSet(charactersIn: "/")))
            } else if waitpid(pid, nil, WNOHANG) == pid {
                self.pid = nil
                throw TestError("syncd-http exited: \(text)")
            } else if ContinuousClock.now > deadline {
                throw TestError("syncd-http did not listen within 20 s: \(text)")
            } else {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        port = found!
        url = "http://127.0.0.1:\(port)"
    }

    deinit { _ = stop() }

    /// SIGTERM and its exit status; SIGKILL if it has not exited after 10 s (the status then says so).
    @discardableResult
    func stop() -> Int32? {
        guard let pid else { return nil }
        self.pid = nil
        kill(pid, SIGTERM)
        for _ in 0..<1000 {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f) }
            usleep(10_000)
        }
        kill(pid, SIGKILL)
        return waitForTool(pid)
    }

    var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    /// Waits until it is attached to the daemon (its /metrics says `syncd_up 1`).
    func untilAttached() async throws {
        try await until("syncd-http to attach") { http(url + "/metrics").body.contains("syncd_up 1") }
    }
}

/// An HTTP request through curl: the status and body.
func http(_ url: String, method: String = "GET", headers: [String] = [], maxTime: Int = 10) -> (status: Int, body: String) {
    let (_, output) = runTool("/usr/bin/curl", ["-s", "-X", method, "--max-time", "\(maxTime)", "-w", "\n%{http_code}"]
                                + headers.flatMap { ["-H", $0] } + [url])
    var lines = output.split(separator: "\n", omittingEmptySubsequences: false)
    let status = Int(lines.popLast() ?? "") ?? 0
    return (status, lines.joined(separator: "\n"))
}
