#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SyncIPC
import TestSupport
import XCTest

/// A user's own syncd, run without root and without flags, against a real syncd and syncctl:
/// its config, socket and state come from HOME and the XDG variables, and syncctl finds it.
final class UserDaemonTests: XCTestCase {
    /// Run as root (CI), the processes run as nobody: the user defaults are for non-root only.
    static var asUser: [String] {
        geteuid() == 0 ? ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : []
    }

    func testNoFlags_usesTheXDGDirectories_andSyncctlFindsTheUserSocket() async throws {
        let daemon = try DaemonProcess(config: "")
        let home = daemon.directory + "/home", runtime = daemon.directory + "/run"
        try FileManager.default.createDirectory(atPath: home + "/.config/syncd", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: runtime, withIntermediateDirectories: true)
        try """
            [store.mine]
            provider = "synthetic"
            steps = 2
            rate = 100
            run_at_startup = false
            """.write(toFile: home + "/.config/syncd/syncd.toml", atomically: true, encoding: .utf8)
        if geteuid() == 0 {
            for path in [daemon.directory, home, home + "/.config", home + "/.config/syncd", home + "/.config/syncd/syncd.toml", runtime] {
                XCTAssertEqual(chown(path, 65534, 65534), 0, path)
            }
            XCTAssertEqual(chmod(runtime, 0o700), 0)
        }
        // No XDG_CONFIG_HOME or XDG_STATE_HOME: ~/.config and ~/.local/state.
        let environment = ["HOME": home, "XDG_RUNTIME_DIR": runtime, "XDG_CONFIG_HOME": "", "XDG_STATE_HOME": "", "SYNCD_SOCKET": ""]
        let process = try daemon.launch(arguments: [], environment: environment, prefix: Self.asUser)
        let socket = runtime + "/syncd/syncd.sock"
        var info = stat()
        let deadline = ContinuousClock.now + .seconds(20)
        while stat(socket, &info) != 0 {
            guard process.isRunning, ContinuousClock.now < deadline else { return XCTFail("no socket at \(socket): \(daemon.stderr)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTAssertEqual(info.st_mode & 0o777, 0o600, "the user's socket is the user's alone")
        var directory = stat()
        XCTAssertEqual(stat(runtime + "/syncd", &directory), 0)
        XCTAssertEqual(directory.st_mode & 0o777, 0o700)

        let ctl: [String: String?] = ["HOME": home, "XDG_RUNTIME_DIR": runtime, "SYNCD_SOCKET": nil]
        let status = try await SyncctlMessagesTests.syncctl(["status"], socket: nil, prefix: Self.asUser, environment: ctl).output
        XCTAssertEqual(status.status, 0, status.stderr)
        let lines = status.stdout.split(separator: "\n")
        XCTAssertEqual(lines.first.map(String.init), "syncd (user): \(socket)", status.stdout)
        XCTAssertTrue(lines.count > 2 && lines[2].hasPrefix("mine "), status.stdout)
        let sync = try await SyncctlMessagesTests.syncctl(["sync", "--wait", "mine"], socket: nil, prefix: Self.asUser, environment: ctl).output
        XCTAssertEqual(sync.status, 0, sync.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: home + "/.local/state/syncd/state.json"), "state in ~/.local/state/syncd")
        // --user and --system pick the daemon; --system is not this one.
        let explicit = try await SyncctlMessagesTests.syncctl(["--user"], socket: nil, prefix: Self.asUser, environment: ctl).output
        XCTAssertTrue(explicit.stdout.hasPrefix("syncd (user): \(socket)\n"), explicit.stdout + explicit.stderr)
        let system = try await SyncctlMessagesTests.syncctl(["status", "--system"], socket: nil, prefix: Self.asUser, environment: ctl).output
        XCTAssertTrue(system.status != 0 || system.stdout.hasPrefix("syncd (system): /run/syncd/syncd.sock\n"), system.stdout)
        XCTAssertFalse(system.stdout.contains("mine"), system.stdout)
        let both = try await SyncctlMessagesTests.syncctl(["status", "--user", "--system"], socket: nil, environment: ctl).output
        XCTAssertEqual(both.status, 64, both.stderr)

        daemon.signal(SIGTERM)
        let exit = try await daemon.waitForExit()
        XCTAssertEqual(exit, 0, daemon.stderr)
    }

    func testNoConfig_saysWhereAUsersConfigGoes() async throws {
        let daemon = try DaemonProcess(config: "")
        if geteuid() == 0 { XCTAssertEqual(chown(daemon.directory, 65534, 65534), 0) }
        let home = daemon.directory
        _ = try daemon.launch(arguments: ["--check"], environment: ["HOME": home, "XDG_CONFIG_HOME": ""], prefix: Self.asUser)
        let status = try await daemon.waitForExit()
        XCTAssertEqual(status, 78)
        XCTAssertTrue(daemon.stderr.contains("no configuration at \(home)/.config/syncd/syncd.toml"), daemon.stderr)
    }
}
