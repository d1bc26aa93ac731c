#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A dbus-daemon of the test's own on a socket in a temporary directory (not the system bus),
/// on which a test emits the signals a daemon listens for, such as logind's PrepareForSleep.
public final class PrivateBus {
    public let directory: String
    public let address: String
    private let pid: pid_t

    public init() throws {
        directory = "/tmp/bus-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // Anyone may own, send and receive: it is the test's alone.
        try """
            <busconfig>
              <type>session</type>
              <listen>unix:path=\(directory)/bus</listen>
              <policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy>
            </busconfig>
            """.write(toFile: directory + "/bus.conf", atomically: true, encoding: .utf8)
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/dbus-daemon") else {
            throw TestError("dbus-daemon is not installed: run scripts/test (it installs dbus)")
        }
        guard let pid = startTool("/usr/bin/dbus-daemon", ["--config-file=\(directory)/bus.conf", "--nofork", "--print-address=1"],
                                  outputFile: directory + "/address") else {
            throw TestError("cannot start dbus-daemon")
        }
        self.pid = pid
        let deadline = ContinuousClock.now + .seconds(10)
        var printed = ""
        while ContinuousClock.now < deadline {
            printed = (try? String(contentsOfFile: directory + "/address", encoding: .utf8)) ?? ""
            if printed.hasSuffix("\n") { break }
            usleep(20_000)
        }
        guard let line = printed.split(separator: "\n").first, line.hasPrefix("unix:") else {
            kill(pid, SIGKILL)
            _ = waitForTool(pid)
            throw TestError("dbus-daemon did not start: \(printed)")
        }
        address = String(line)
    }

    deinit {
        kill(pid, SIGTERM)
        _ = waitForTool(pid)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Emits a signal with `dbus-send` (which registers on the bus first; `gdbus emit --address`
    /// does not, and the bus drops its signal); `arguments` as dbus-send takes them (`boolean:true`).
    public func emit(path: String, signal: String, _ arguments: [String]) throws {
        let (status, output) = runTool("/usr/bin/dbus-send", ["--bus=\(address)", "--type=signal", path, signal] + arguments,
                                       mergeStandardError: true)
        guard status == 0 else { throw TestError("dbus-send \(signal) failed (\(status)): \(output)") }
    }
}
