#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest
@testable import Maildir

/// Real crashes: a child process (this test bundle again, running only ``testChildProcessEntry``)
/// syncs into a store and is killed with SIGKILL — by itself at an exact step, or by the parent at a
/// random moment. The parent then opens the store as the next run would and checks that every
/// message is there exactly once, or can be downloaded again without duplicating anything.
final class ChildProcessCrashTests: XCTestCase {
    private static let rootKey = "MAILDIR_TEST_CHILD_ROOT"
    private static let folder = try! FolderName(["Archive"])

    // MARK: The child

    /// Does nothing in a normal test run; in a child, runs the scenario its environment names and
    /// never returns normally.
    func testChildProcessEntry() throws {
        let environment = ProcessInfo.processInfo.environment
        guard let root = environment[Self.rootKey] else { return }
        let status = open(environment["MAILDIR_TEST_CHILD_STATUS"]!, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        func report(_ line: String) {
            let bytes = Array((line + "\n").utf8)
            _ = bytes.withUnsafeBytes { write(status, $0.baseAddress, $0.count) }
        }
        do {
            let layout: MaildirLayout = environment["MAILDIR_TEST_CHILD_LAYOUT"] == "nested" ? .nested : .maildirPlusPlus
            let store = try MaildirStore(root: root, layout: layout, options: .init(hostname: "child"))
            let folder = try store.prepare(Self.folder)
            if let name = environment["MAILDIR_TEST_CHILD_CRASH_AT"] {
                let point = CrashPoint(rawValue: name)!
                let occurrence = Int(environment["MAILDIR_TEST_CHILD_OCCURRENCE"] ?? "1")!
                var seen = 0
                folder.crashHook = { reached in
                    guard reached == point else { return }
                    seen += 1
                    if seen == occurrence { kill(getpid(), SIGKILL) }
                }
                switch environment["MAILDIR_TEST_CHILD_OPERATION"] {
                case "deliver": try folder.deliver(4...8, flags: { $0 % 2 == 0 ? [.seen] : [] })
                case "expunge": try folder.expunge([2, 3])
                case "flags": try folder.setFlags([1: [.seen], 3: [.flagged]])
                default: report("unknown operation")
                }
                report("not reached")
                _exit(3)
            }
            // Endless batches of 10 until killed.
            var next = folder.highestUID + 1
            while true {
                report("begin \(next) \(next + 9)")
                try folder.deliver(next...(next + 9), flags: { $0 % 3 == 0 ? [.seen] : [] }, chunk: 700)
                report("durable \(next) \(next + 9)")
                next += 10
            }
        } catch {
            report("error \(error)")
            _exit(4)
        }
    }

    // MARK: The parent

    private struct Child {
        let process: Process
        let status: String

        func lines() -> [Substring] {
            (try? String(contentsOfFile: status, encoding: .utf8))?.split(separator: "\n") ?? []
        }
    }

    private func startChild(root: String, layout: MaildirLayout, environment extra: [String: String] = [:]) throws -> Child {
        let status = root + ".status"
        _ = unlink(status)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        process.arguments = ["MaildirTests.ChildProcessCrashTests/testChildProcessEntry"]
        var environment = ProcessInfo.processInfo.environment
        environment[Self.rootKey] = root
        environment["MAILDIR_TEST_CHILD_STATUS"] = status
        environment["MAILDIR_TEST_CHILD_LAYOUT"] = layout == .nested ? "nested" : "plusplus"
        environment.merge(extra) { $1 }
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return Child(process: process, status: status)
    }

    private func waitForExit(_ child: Child, timeout: Duration = .seconds(120)) throws {
        let deadline = ContinuousClock.now + timeout
        while child.process.isRunning {
            if ContinuousClock.now > deadline {
                kill(child.process.processIdentifier, SIGKILL)
                child.process.waitUntilExit()
                throw TestFailure("child did not finish in time: \(child.lines())")
            }
            usleep(2000)
        }
        child.process.waitUntilExit()
    }

    private func assertKilled(_ child: Child, _ context: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(child.process.terminationReason, .uncaughtSignal, "\(context): \(child.lines())", file: file, line: line)
        XCTAssertEqual(child.process.terminationStatus, SIGKILL, "\(context): \(child.lines())", file: file, line: line)
    }

    func testChildKilledAtEachStep_nextRunEndsWithEveryMessageExactlyOnce() throws {
        let scenarios: [(operation: String, point: CrashPoint, occurrence: Int)] = [
            ("deliver", .deliveryFilesSynced, 1), ("deliver", .deliveryFirstRenamed, 1), ("deliver", .deliveryRenamed, 1),
            ("deliver", .deliveryDirectoriesSynced, 1), ("deliver", .mapTemporaryWritten, 1), ("deliver", .mapRenamed, 1),
            ("expunge", .mapRenamed, 1), ("expunge", .expungeFirstUnlinked, 1), ("expunge", .mapTemporaryWritten, 2),
            ("flags", .flagsIntentCommitted, 1), ("flags", .flagsFirstRenamed, 1), ("flags", .mapTemporaryWritten, 2),
        ]
        for layout in [MaildirLayout.maildirPlusPlus, .nested] {
            for scenario in scenarios {
                let context = "\(layout) \(scenario)"
                let directory = try TemporaryDirectory()
                let root = directory.path + "/mail"
                do {
                    let store = try MaildirStore(root: root, layout: layout, options: .init(hostname: "parent"))
                    try store.prepare(Self.folder).deliver(1...3)
                }
                let child = try startChild(root: root, layout: layout, environment: [
                    "MAILDIR_TEST_CHILD_CRASH_AT": scenario.point.rawValue,
                    "MAILDIR_TEST_CHILD_OCCURRENCE": String(scenario.occurrence),
                    "MAILDIR_TEST_CHILD_OPERATION": scenario.operation,
                ])
                try waitForExit(child)
                assertKilled(child, context)

                let store = try MaildirStore(root: root, layout: layout, options: .init(hostname: "parent"))
                let folder = try store.openFolder(Self.folder)
                XCTAssertEqual(folder.lastRecovery.quarantined, [], context)
                let changes = try folder.scanLocalChanges()
                XCTAssertTrue(changes.isEmpty, "\(context): \(changes)")
                let present = try assertConsistent(folder)
                switch scenario.operation {
                case "deliver":
                    // The next run downloads whatever is missing.
                    try folder.deliver(Set(UInt32(1)...8).subtracting(present).sorted(), flags: { $0 % 2 == 0 ? [.seen] : [] })
                    try assertConsistent(folder, expected: Set(1...8))
                case "expunge":
                    XCTAssertEqual(present, [1], "\(context): the intent was committed, so recovery finished it")
                case "flags":
                    XCTAssertEqual(folder.map[1]?.flags, [.seen], context)
                    XCTAssertEqual(folder.map[3]?.flags, [.flagged], context)
                    XCTAssertTrue(folder.filePath(for: 3)!.hasSuffix(":2,F"), context)
                default:
                    XCTFail(context)
                }
            }
        }
    }

    func testChildKilledAtRandomMoments_rerunsEndWithEveryMessageExactlyOnce() throws {
        let directory = try TemporaryDirectory()
        let root = directory.path + "/mail"
        var expected = Set<UInt32>()
        var generator = SystemRandomNumberGenerator()
        for round in 0..<6 {
            let layout: MaildirLayout = .maildirPlusPlus
            let child = try startChild(root: root, layout: layout)
            // Wait until it is delivering, then kill it somewhere in the middle of a batch or commit.
            let started = ContinuousClock.now
            while !child.lines().contains(where: { $0.hasPrefix("begin") }) {
                guard child.process.isRunning, ContinuousClock.now - started < .seconds(60) else {
                    throw TestFailure("round \(round): child never started delivering: \(child.lines())")
                }
                usleep(1000)
            }
            usleep(UInt32.random(in: 1_000...120_000, using: &generator))
            kill(child.process.processIdentifier, SIGKILL)
            try waitForExit(child)
            assertKilled(child, "round \(round)")

            var begun: UInt32 = 0
            var durable = Set<UInt32>()
            for line in child.lines() {
                let parts = line.split(separator: " ")
                guard parts.count == 3, let low = UInt32(parts[1]), let high = UInt32(parts[2]) else { continue }
                if parts[0] == "begin" { begun = max(begun, high) }
                if parts[0] == "durable" { durable.formUnion(low...high) }
            }
            expected.formUnion(1...max(begun, 1))

            let store = try MaildirStore(root: root, layout: layout, options: .init(hostname: "parent"))
            let folder = try store.openFolder(Self.folder)
            let present = try assertConsistent(folder)
            XCTAssertTrue(durable.isSubset(of: present), "round \(round): a commit reported durable was lost")
            XCTAssertTrue(present.isSubset(of: expected), "round \(round)")
            XCTAssertEqual(folder.lastRecovery.quarantined, [], "round \(round)")
            // What the next run does: download exactly what is missing.
            try folder.deliver(expected.subtracting(present).sorted(), flags: { $0 % 3 == 0 ? [.seen] : [] })
            try assertConsistent(folder, expected: expected)
            XCTAssertTrue(try folder.scanLocalChanges().isEmpty, "round \(round)")
            print("round \(round): killed after \(durable.count) durable, \(present.count - durable.intersection(present).count) adopted or extra, \(expected.count) total")
        }
        XCTAssertGreaterThan(expected.count, 20)
    }
}
