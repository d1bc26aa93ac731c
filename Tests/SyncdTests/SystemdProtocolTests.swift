#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SyncIPC
import SyncProtocol
import TestSupport
import XCTest

/// What systemd sees of syncd, without systemd: the notify datagrams and an fd-3 listening socket.
/// (packaging/ and tests/systemd/run.sh prove the same against a real systemd.)
final class SystemdProtocolTests: XCTestCase {
    /// A datagram socket standing in for systemd's `$NOTIFY_SOCKET`.
    final class NotifySocket {
        let path = "/tmp/notify-\(UInt32.random(in: 0...UInt32.max)).sock"
        let fd: CInt

        init() throws {
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard bound == 0 else { throw TestError("bind \(path): \(errno)") }
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        deinit {
            close(fd)
            unlink(path)
        }

        /// The next datagram, or nil after 10 s.
        func next() -> String? {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = recv(fd, &buffer, buffer.count, 0)
            return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : nil
        }

        /// Datagrams until one contains `text`.
        func wait(for text: String) -> [String] {
            var seen: [String] = []
            while let message = next() {
                seen.append(message)
                if message.contains(text) { return seen }
            }
            XCTFail("no notification containing \(text); got \(seen)")
            return seen
        }
    }

    func testNotify_readyWithStatus_watchdogPings_stopping() async throws {
        let notify = try NotifySocket()
        let daemon = try DaemonProcess(config: DaemonTests.quickStore)
        try await daemon.start(environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000"])
        let ready = notify.wait(for: "READY=1")
        XCTAssertTrue(ready.last!.contains("STATUS=1 stores, 0 syncing, "), ready.last!)
        let started = ContinuousClock.now
        _ = notify.wait(for: "WATCHDOG=1")
        _ = notify.wait(for: "WATCHDOG=1")
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(2), "pings at least every WatchdogSec/2")
        // A reload is bracketed by RELOADING=1 and READY=1, or systemd waits for it forever.
        daemon.signal(SIGHUP)
        _ = notify.wait(for: "RELOADING=1")
        _ = notify.wait(for: "READY=1")
        daemon.signal(SIGTERM)
        _ = notify.wait(for: "STOPPING=1")
        let status = try await daemon.waitForExit()
        XCTAssertEqual(status, 0)
    }

    func testSocketActivation_adoptsFD3_andIgnoresConfiguredPath() async throws {
        let daemon = try DaemonProcess(config: DaemonTests.quickStore)
        let activated = daemon.directory + "/activated.sock"
        let listener = try bindListeningSocket(activated)
        defer { close(listener) }
        // As systemd does: the socket is fd 3, LISTEN_PID is the daemon's own pid.
        let pid = try spawn(
            "/bin/sh", ["-c", "LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\" \"$@\"", try builtProduct("syncd"),
                        "--config", daemon.configPath, "--state-dir", daemon.stateDirectory],
            fd3: listener)
        defer { kill(pid, SIGKILL); var status: Int32 = 0; waitpid(pid, &status, 0) }
        var client: SyncClient?
        for _ in 0..<500 where client == nil {
            client = try? await SyncClient.connect(to: activated, clientName: "test")
            if client == nil { try await Task.sleep(for: .milliseconds(20)) }
        }
        let connected = try XCTUnwrap(client, "syncd answers on the socket it was handed")
        let stores = try await connected.status().stores.map(\.name)
        XCTAssertEqual(stores, ["quick"])
        kill(pid, SIGTERM)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        XCTAssertEqual(status, 0, "clean exit")
    }

    /// posix_spawn with `fd3` duplicated onto descriptor 3, as systemd passes sockets.
    private func spawn(_ path: String, _ arguments: [String], fd3: CInt) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fd3, 3)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var environment = ProcessInfo.processInfo.environment
        environment["JOURNAL_STREAM"] = nil
        environment["NOTIFY_SOCKET"] = nil
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, nil, argv, envp)
        guard rc == 0 else { throw TestError("posix_spawn: \(rc)") }
        return pid
    }
}
