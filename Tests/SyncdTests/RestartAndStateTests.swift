#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SyncIPC
import SyncProtocol
import TestSupport
import XCTest

/// What a restart, a reload and a damaged or shared state directory look like to a user.
final class RestartAndStateTests: XCTestCase {
    static let store = """
        [store.demo]
        provider = "synthetic"
        steps = 5
        rate = 100
        run_at_startup = false
        interval = "10m"
        """

    func testRestart_continuesTheSequenceWithoutAJump_andSaysItIsANewInstance() async throws {
        let daemon = try DaemonProcess(config: Self.store)
        try await daemon.start()
        var client = try await daemon.client()
        let first = client.welcome
        XCTAssertLessThan(first.seq, 100, "a new daemon's numbers start near 1, not past a million")
        let (_, updates) = try await client.subscribe()
        _ = try await client.send(.syncNow(store: "demo", flags: []))
        let seen = try await events(from: updates) { $0.isDone }
        await client.close()
        daemon.signal(SIGTERM)
        _ = try await daemon.waitForExit()

        try await daemon.start()
        client = try await daemon.client()
        XCTAssertNotEqual(client.welcome.instance, first.instance, "a restart is told apart from missed events")
        XCTAssertGreaterThanOrEqual(client.welcome.seq, seen.last!.seq, "numbers never go back")
        XCTAssertLessThan(client.welcome.seq - seen.last!.seq, 50, "after a clean stop the sequence continues where it was")
    }

    func testReload_appliesAChangedInterval_andCountsItChanged() async throws {
        let daemon = try DaemonProcess(config: Self.store)
        try await daemon.start()
        let client = try await daemon.client()
        let before = try await client.status().stores.first!.info.nextRun!
        try daemon.writeConfig(Self.store.replacingOccurrences(of: "interval = \"10m\"", with: "interval = \"1m\""))
        let reply = try await client.send(.reload)
        XCTAssertTrue(reply.message.hasSuffix("0 added, 0 removed, 1 changed"), reply.message)
        var after = before
        for _ in 0..<50 where after == before {
            try await Task.sleep(for: .milliseconds(20))
            after = try await client.status().stores.first!.info.nextRun!
        }
        let minutes = Double(Int64(after.rawValue) - Int64(Timestamp.now().rawValue)) / 60_000_000
        XCTAssertLessThan(minutes, 1.1, "the next run follows the new interval")
        XCTAssertGreaterThan(minutes, 0.5)
    }

    func testSecondDaemonOnOneStateDirectory_isRefusedNamingTheFirst() async throws {
        let daemon = try DaemonProcess(config: Self.store)
        let first = try await daemon.start()
        let second = try DaemonProcess(config: Self.store)
        let process = try second.launch(arguments: ["--config", second.configPath, "--socket", second.socket, "--state-dir", daemon.stateDirectory])
        let status = try await second.waitForExit()
        XCTAssertEqual(status, 78)
        XCTAssertFalse(process.isRunning)
        XCTAssertTrue(second.stderr.contains("another syncd (pid \(first.processIdentifier)) uses the state directory"), second.stderr)
    }

    func testDamagedCounters_areRefusedWithExit78() async throws {
        for (key, value) in [("nextRun", "18446744073709551615"), ("nextSeq", "18446744073709551615"), ("nextRun", "0")] {
            let daemon = try DaemonProcess(config: Self.store)
            try FileManager.default.createDirectory(atPath: daemon.stateDirectory, withIntermediateDirectories: true)
            let other = key == "nextRun" ? "\"nextSeq\": 1" : "\"nextRun\": 1"
            try "{\"version\": 1, \"\(key)\": \(value), \(other), \"stores\": {}}".write(
                toFile: daemon.stateDirectory + "/state.json", atomically: true, encoding: .utf8)
            _ = try daemon.launch()
            let status = try await daemon.waitForExit()
            XCTAssertEqual(status, 78, "\(key) = \(value): \(daemon.stderr)")
            XCTAssertTrue(daemon.stderr.contains("\(key) is \(value), outside 1...4611686018427387904"), daemon.stderr)
        }
    }

    func testMissingControlGroup_isAConfigError() async throws {
        let daemon = try DaemonProcess(config: "[daemon]\ncontrol_group = \"no-such-group-\(UInt16.random(in: 1000...9999))\"\n" + Self.store)
        _ = try daemon.launch(arguments: ["--check", "--config", daemon.configPath])
        let status = try await daemon.waitForExit()
        XCTAssertEqual(status, 78)
        XCTAssertTrue(daemon.stderr.contains("syncd.toml:2: daemon.control_group: no group named"), daemon.stderr)
    }

    func testErrorsRequest_namingOneStoreThousandsOfTimes_answersItOnce() async throws {
        let daemon = try DaemonProcess(config: """
            [store.flaky]
            provider = "synthetic"
            steps = 10
            rate = 200
            warn_every = 2
            run_at_startup = false
            """)
        try await daemon.start()
        let client = try await daemon.client()
        let (_, updates) = try await client.subscribe()
        _ = try await client.send(.syncNow(store: "flaky", flags: []))
        _ = try await events(from: updates) { $0.isDone }
        let once = try await client.errors(stores: ["flaky"])
        let many = try await client.errors(stores: Array(repeating: "flaky", count: 1000))
        XCTAssertEqual(once.count, 5)
        XCTAssertEqual(many, once)
    }

    func testSocketProblems_eachGetItsOwnMessage() async throws {
        let daemon = try DaemonProcess(config: Self.store)
        _ = try daemon.launch(arguments: ["--config", daemon.configPath, "--socket", daemon.directory + "/missing/s.sock", "--state-dir", daemon.stateDirectory])
        _ = try await daemon.waitForExit()
        XCTAssertTrue(daemon.stderr.contains("the directory \(daemon.directory)/missing does not exist"), daemon.stderr)
        XCTAssertFalse(daemon.stderr.contains("bind(descriptor"), "no NIO internals: \(daemon.stderr)")

        let file = daemon.directory + "/plain-file"
        XCTAssertTrue(FileManager.default.createFile(atPath: file, contents: Data()))
        _ = try daemon.launch(arguments: ["--config", daemon.configPath, "--socket", file, "--state-dir", daemon.stateDirectory])
        _ = try await daemon.waitForExit()
        XCTAssertTrue(daemon.stderr.contains("\(file) exists and is not a socket"), daemon.stderr)

        let live = try DaemonProcess(config: Self.store)
        try await live.start()
        _ = try daemon.launch(arguments: ["--config", daemon.configPath, "--socket", live.socket, "--state-dir", daemon.stateDirectory])
        _ = try await daemon.waitForExit()
        XCTAssertTrue(daemon.stderr.contains("another server is already listening on \(live.socket)"), daemon.stderr)
    }
}
