#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SyncIPC
import SyncProtocol
import TestSupport
import XCTest

/// A run that waits for a free slot, and a store waiting to retry, say so (pkcon's "Waiting in
/// queue"), instead of looking idle.
final class QueueAndRetryTests: XCTestCase {
    func testRunsWaitingForASlot_showTheirPlaceInLine_andMoveUp() async throws {
        let slow = """
            provider = "synthetic"
            steps = 1000
            rate = 20
            run_at_startup = false
            """
        let daemon = try DaemonProcess(config: """
            [daemon]
            max_concurrent_runs = 1

            [store.a]
            \(slow)

            [store.b]
            \(slow)

            [store.c]
            \(slow)
            """)
        try await daemon.start()
        let client = try await daemon.client()
        for store in ["a", "b", "c"] {
            let reply = try await client.send(.syncNow(store: store, flags: []))
            XCTAssertEqual(reply.status, .ok, reply.message)
        }
        func places() async throws -> [String: UInt32] {
            let snapshot = try await client.status()
            return Dictionary(uniqueKeysWithValues: snapshot.stores.map { ($0.name, $0.info.queuePlace) })
        }
        try await eventually { try await places() == ["a": 0, "b": 1, "c": 2] }
        let reply = try await client.send(.syncNow(store: "c", flags: []))
        XCTAssertEqual(reply.message, "a sync of 'c' is already queued")

        _ = try await client.send(.cancel(store: "a"))
        try await eventually { try await places() == ["a": 0, "b": 0, "c": 1] }
        let snapshot = try await client.status(stores: ["b"])
        XCTAssertNotNil(snapshot.stores[0].run, "b runs once a's slot is free")
        await client.close()
    }

    func testAFailedRun_showsWhichRetryIsNextAndWhy() async throws {
        let daemon = try DaemonProcess(config: """
            [daemon]
            retry_after = "30s"

            [store.flaky]
            provider = "synthetic"
            steps = 1
            rate = 100
            error_every = 1
            step_text = "INBOX"
            result = "network"
            interval = "1h"
            run_at_startup = false
            """)
        try await daemon.start()
        let client = try await daemon.client()
        let (_, updates) = try await client.subscribe()
        for attempt in 1...2 as ClosedRange<UInt32> {
            _ = try await client.send(.syncNow(store: "flaky", flags: []))
            let seen = try await events(from: updates) { event in
                if case .storeChanged(let info) = event.kind { return info.retry == attempt }
                return false
            }
            guard case .storeChanged(let info) = seen.last!.kind else { return XCTFail() }
            XCTAssertEqual(info.retryReason, "network error: INBOX 1: failed (synthetic error)")
            let wait = Double(info.nextRun!.rawValue) / 1e6 - Date().timeIntervalSince1970
            let backoff = 30.0 * Double(1 << (attempt - 1))
            XCTAssertGreaterThan(wait, backoff * 0.8 - 2, "retry \(attempt) after about \(backoff)s")
            XCTAssertLessThan(wait, backoff * 1.2 + 1)
        }
        await client.close()
    }

    private func eventually(_ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        XCTFail("condition not met within 20 s")
    }
}
