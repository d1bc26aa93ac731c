#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TestSupport
import XCTest

/// syncd-desktop's KDE job view and launcher entry, against tests/desktop/jobview-peer.py: a
/// JobViewServer on the same private session bus that records the JobViewV2 calls (and the
/// LauncherEntry signals) and presses Cancel, which must cancel the real run.
final class JobViewTests: XCTestCase {
    static let stores = """
        [store.slow]
        provider = "synthetic"
        steps = 200
        rate = 20
        step_text = "message"
        run_at_startup = false

        [store.broken]
        provider = "exec"
        command = ["/bin/sh", "-c", "echo 'progress 1 4 connecting'; echo 'error network cannot reach imap.example.org'; sleep 0.5; exit 1"]
        run_at_startup = false
        """

    func testFailedRun_endsItsJobViewWithTheError() async throws {
        let session = try await DesktopSession()
        defer { session.stop() }
        let log = try await session.startJobViewPeer(cancelOnProgress: false)
        let daemon = try DaemonProcess(config: Self.stores)
        try await daemon.start()
        try session.startDesktop(socket: daemon.socket)
        try await session.waitForDesktop(connections: 1)

        XCTAssertEqual(try ctl(["sync", "--wait", "broken"], daemon), 3)
        try await session.waitUntil("the view's end") { try Self.calls(log).contains { $0.member == "terminate" } }
        let calls = try Self.calls(log)
        XCTAssertEqual(calls.last { $0.member == "terminate" }?.args.first as? String, "cannot reach imap.example.org")
        XCTAssertTrue(calls.contains { $0.member == "setDescriptionField" && $0.args.last as? String == "connecting" }, "\(calls.map(\.member))")
    }

    func testRunningSync_hasAJobView_whoseCancelCancelsTheRun() async throws {
        let session = try await DesktopSession()
        defer { session.stop() }
        let log = try await session.startJobViewPeer(cancelOnProgress: true)
        let daemon = try DaemonProcess(config: Self.stores)
        try await daemon.start()
        try session.startDesktop(socket: daemon.socket)
        try await session.waitForDesktop(connections: 1)

        // `sync --wait` follows the run to its Done: status 4 is "cancelled".
        XCTAssertEqual(try ctl(["sync", "--wait", "slow"], daemon), 4)
        try await session.waitUntil("the view's end") { try Self.calls(log).contains { $0.member == "terminate" } }
        let calls = try Self.calls(log)
        let members = calls.map(\.member)
        XCTAssertEqual(calls.first?.member, "requestView")
        XCTAssertEqual(calls.first?.args.first as? String, "syncd")
        XCTAssertEqual(calls.first?.args.last as? Int, 1, "killable: the view has a Cancel button")
        let view = calls.first { $0.member == "setInfoMessage" }
        XCTAssertEqual(view?.args.first as? String, "Syncing slow")
        XCTAssertEqual(view?.path, "/JobViewServer/JobView_1")
        XCTAssertTrue(members.contains("setTotalAmount") && members.contains("setProcessedAmount"), "\(members)")
        let percents = calls.filter { $0.member == "setPercent" }.compactMap { $0.args.first as? Int }
        XCTAssertTrue(percents.contains { $0 > 0 }, "\(percents)")
        XCTAssertTrue(percents.allSatisfy { $0 < 100 }, "cancelled before the end: \(percents)")
        let cancel = members.firstIndex(of: "cancelRequested")
        let end = members.lastIndex(of: "terminate")
        XCTAssertNotNil(cancel)
        XCTAssertTrue((cancel ?? .max) < (end ?? .min), "cancel came before the end: \(members)")
        XCTAssertEqual(calls.last { $0.member == "terminate" }?.args.first as? String, "", "a cancel is no error")
        XCTAssertEqual(members.filter { $0 == "requestView" }.count, 1)

        // The dock: progress shown while the run went, hidden after it.
        try await session.waitUntil("the launcher's progress hidden") {
            try Self.calls(log).last { $0.member == "Update" }.map { Self.progressVisible($0) == false } ?? false
        }
        let updates = try Self.calls(log).filter { $0.member == "Update" }
        XCTAssertEqual(updates.first?.args.first as? String, "application://syncd-desktop.desktop")
        XCTAssertTrue(updates.contains { Self.progressVisible($0) == true }, "\(updates.map(\.args))")
    }

    func testJobViewServerStartedMidRun_getsTheRunningSync() async throws {
        let session = try await DesktopSession()
        defer { session.stop() }
        let daemon = try DaemonProcess(config: Self.stores)
        try await daemon.start()
        try session.startDesktop(socket: daemon.socket)
        try await session.waitForDesktop(connections: 1)
        let client = try await daemon.client()
        let (_, updates) = try await client.subscribe(stores: ["slow"])
        XCTAssertEqual(try ctl(["sync", "slow"], daemon), 0)
        _ = try await events(from: updates) { $0.isProgress }

        let log = try await session.startJobViewPeer(cancelOnProgress: true)
        try await session.waitUntil("a view of the run in progress") { try Self.calls(log).contains { $0.member == "requestView" } }
        let done = try await events(from: updates) { $0.isDone }
        XCTAssertEqual(done.last?.doneResult, .cancelled, "the late view's Cancel works too")
        await client.close()
    }

    struct Call {
        var path: String
        var member: String
        var args: [Any]
    }

    static func calls(_ log: String) throws -> [Call] {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return try text.split(separator: "\n").map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
            return Call(path: object["path"] as? String ?? "", member: object["member"] as? String ?? "", args: object["args"] as? [Any] ?? [])
        }
    }

    static func progressVisible(_ update: Call) -> Bool? {
        (update.args.last as? [String: Any])?["progress-visible"] as? Bool
    }
}
