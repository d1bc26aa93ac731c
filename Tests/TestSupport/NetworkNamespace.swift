#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A network namespace of the test's own (`ip netns add`), so that a test can take the default
/// route away and give it back without touching the host's: two veth pairs inside it (both ends
/// in the namespace, so nothing appears on the host), `uplink` addressed 10.200.0.2/24 and
/// `other` 10.201.0.2/24, loopback up, and a default route via 10.200.0.1 on `uplink`.
///
/// A process runs in it behind ``prefix`` (`ip netns exec NAME`, which execs the command, so
/// the pid stays the command's). Deleted when released: the test stops what it started inside
/// first (a process still inside keeps the namespace alive, unnamed, until it ends).
public final class NetworkNamespace {
    /// `syncd-test-<run>-<random>`: scripts/test finds what a run left by its name.
    public let name: String
    /// iproute2's `ip`.
    public static let ip = "/usr/bin/ip"
    /// The link the default route starts on, and its gateway.
    public static let uplink = "uplink0"
    public static let gateway = "10.200.0.1"
    /// A second link and gateway, for a default route that moves (a new Wi-Fi).
    public static let other = "other0"
    public static let otherGateway = "10.201.0.1"

    /// Why a test that needs one cannot have one here (not root, no iproute2, no netns support);
    /// a test skips with it.
    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
    }

    public init() throws {
        guard getuid() == 0 else { throw Unavailable(description: "network namespaces need root") }
        guard FileManager.default.isExecutableFile(atPath: Self.ip) else {
            throw Unavailable(description: "\(Self.ip) is missing: install iproute2")
        }
        let run = ProcessInfo.processInfo.environment["SYNCD_TEST_RUN"].map { $0 + "-" } ?? ""
        name = "syncd-test-\(run)\(UInt32.random(in: 0...UInt32.max))"
        let (status, output) = runTool(Self.ip, ["netns", "add", name], mergeStandardError: true)
        guard status == 0 else { throw Unavailable(description: "ip netns add failed (\(status)): \(output)") }
        do {
            try ip("link", "set", "lo", "up")
            for (end, peer, address) in [(Self.uplink, "uplink1", "10.200.0.2/24"), (Self.other, "other1", "10.201.0.2/24")] {
                try ip("link", "add", end, "type", "veth", "peer", "name", peer)
                try ip("link", "set", end, "up")
                try ip("link", "set", peer, "up")
                try ip("address", "add", address, "dev", end)
            }
            try ip("route", "add", "default", "via", Self.gateway, "dev", Self.uplink)
        } catch {
            _ = runTool(Self.ip, ["netns", "delete", name], captureOutput: false)
            throw Unavailable(description: "cannot set up the namespace's links: \(error)")
        }
    }

    deinit {
        _ = runTool(Self.ip, ["netns", "delete", name], captureOutput: false)
    }

    /// `ip -n NAME arguments...`, throwing with its output if it fails.
    public func ip(_ arguments: String...) throws { try ip(arguments) }

    /// `ip -n NAME arguments...` with the arguments as an array.
    public func ip(_ arguments: [String]) throws {
        let (status, output) = runTool(Self.ip, ["-n", name] + arguments, mergeStandardError: true)
        guard status == 0 else { throw TestError("ip -n \(name) \(arguments.joined(separator: " ")) failed (\(status)): \(output)") }
    }

    /// Runs a command inside the namespace: put it before the command's path and arguments.
    public var prefix: [String] { [Self.ip, "netns", "exec", name] }
}
