import Foundation
import TestSupport
import XCTest
@testable import SyncDaemon

final class StateStoreTests: XCTestCase {
    func testSaveThenLoad_roundTrips_andLeavesNoTempFile() throws {
        let directory = NSTemporaryDirectory() + "state-\(UInt32.random(in: 0...UInt32.max))"
        let store = StateStore(directory: directory)
        try store.prepare()
        XCTAssertEqual(try store.load(), DurableState(), "a missing file is a fresh start")
        var state = DurableState()
        state.nextRun = 42
        state.stores["mail"] = .init(lastResult: 0, lastRunEnded: 5, lastSuccess: 5, runs: 3, failedRuns: 1, paused: true,
                                     errors: [.init(time: 4, run: 41, code: 0x8004_0115, message: "reset")])
        try store.save(state)
        XCTAssertEqual(try store.load(), state)
        XCTAssertFalse(FileManager.default.fileExists(atPath: store.path + ".tmp"))
    }

    func testCorruptFile_isAClearError() throws {
        let directory = NSTemporaryDirectory() + "state-\(UInt32.random(in: 0...UInt32.max))"
        let store = StateStore(directory: directory)
        try store.prepare()
        try "{ not json".write(toFile: store.path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try store.load()) { error in
            XCTAssertTrue("\(error)".contains("move it aside to start fresh"), "\(error)")
        }
    }
}
