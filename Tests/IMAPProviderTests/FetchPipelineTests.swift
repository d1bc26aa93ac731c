import Foundation
import IMAPProtocol
import Logging
import MailServers
import Maildir
import NIOCore
import SyncIPC
import SyncProtocol
import XCTest
@testable import IMAPProvider
@testable import SyncDaemon

/// Pipelined `UID FETCH` answers, as a server may legally send them: interleaved, completed out of
/// order, with unsolicited FETCHes in between. Each message must land in the batch that asked for
/// it, into a real Maildir.
final class FetchPipelineTests: XCTestCase {
    var server: SyncServer!
    var root: String!

    override func setUp() async throws {
        root = "/tmp/fetch-pipeline-\(UInt32.random(in: 0...UInt32.max))"
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        server = SyncServer(configuration: .init(listener: .path(root + ".sock"), logger: logger))
        try await server.start()
    }

    override func tearDown() async throws {
        await server.stop()
        try? FileManager.default.removeItem(atPath: root)
    }

    /// A FETCH response with a body, in the order Dovecot sends its items (FLAGS before UID).
    private func message(_ seq: Int, uid: UInt32) -> String {
        let body = "Subject: message \(uid)\r\n\r\nbody \(uid)\r\n"
        return "* \(seq) FETCH (FLAGS (\\Seen) UID \(uid) BODY[] {\(body.utf8.count)}\r\n\(body))\r\n"
    }

    func testInterleavedAnswers_goToTheBatchThatAskedForEachMessage() throws {
        let store = try MaildirStore(root: root, layout: .maildirPlusPlus)
        try store.createFolder(.inbox)
        let folder = try store.openFolder(.inbox)
        _ = try folder.resetFolder(newUIDValidity: 7)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let callback = SyncCallback(reporter: server.reporter(store: "mail", run: 1), logger: logger)

        let batches: [[UInt32]] = [[1, 2, 3], [4, 5, 6]]
        var pipeline = FetchPipeline(batches: batches)
        for index in batches.indices {
            pipeline.open(index, FetchReceiver(batch: try folder.beginBatch(), callback: callback, mode: .whole))
        }
        // Both commands run at once: their data interleave, an unsolicited flag update (UID 99)
        // comes between, and the second command completes first.
        let transcript = message(1, uid: 1) + message(4, uid: 4) + message(2, uid: 2)
            + "* 50 FETCH (UID 99 FLAGS (\\Flagged))\r\n"
            + message(5, uid: 5) + message(6, uid: 6) + "A2 OK done\r\n"
            + message(3, uid: 3) + "A1 OK done\r\n"
        var parser = ResponseParser()
        var bytes = ByteBuffer(string: transcript)
        var completed: [String] = []
        while let event = try parser.next(&bytes) {
            if case .tagged(let tag, _) = event {
                completed.append(tag)
                continue
            }
            try pipeline.handle(event)
        }
        XCTAssertEqual(completed, ["A2", "A1"])
        let first = pipeline.close(0)!
        let second = pipeline.close(1)!
        XCTAssertEqual(first.missing(from: batches[0]), 0, "nothing vanished from the first batch")
        XCTAssertEqual(second.missing(from: batches[1]), 0, "nor from the second")
        XCTAssertEqual(try first.batch.commit(highestUID: 3).sorted(), [1, 2, 3])
        XCTAssertEqual(try second.batch.commit(highestUID: 6).sorted(), [4, 5, 6])
        for uid in 1...6 as ClosedRange<UInt32> {
            let path = try XCTUnwrap(folder.filePath(for: uid), "message \(uid) is in the Maildir")
            let text = try String(contentsOfFile: path, encoding: .utf8)
            XCTAssertTrue(text.contains("body \(uid)"), "file of \(uid) holds its own body")
        }
        XCTAssertFalse(folder.contains(99), "an unsolicited FETCH is not a download")
    }

    func testABodyBeforeItsUID_isAProtocolViolation() throws {
        var pipeline = FetchPipeline(batches: [[1]])
        var parser = ResponseParser()
        var bytes = ByteBuffer(string: "* 1 FETCH (BODY[] {2}\r\nhi UID 1)\r\n")
        XCTAssertThrowsError(try {
            while let event = try parser.next(&bytes) { try pipeline.handle(event) }
        }()) { error in
            XCTAssertTrue("\(error)".contains("before its UID"), "\(error)")
        }
    }

    func testBatchLookup_findsOnlyTheUIDsAskedFor() {
        let pipeline = FetchPipeline(batches: [[2, 4, 6], [7, 9], [20]])
        XCTAssertEqual(pipeline.batch(holding: 4), 0)
        XCTAssertEqual(pipeline.batch(holding: 9), 1)
        XCTAssertEqual(pipeline.batch(holding: 20), 2)
        XCTAssertNil(pipeline.batch(holding: 5), "inside a batch's range but not asked for")
        XCTAssertNil(pipeline.batch(holding: 1))
        XCTAssertNil(pipeline.batch(holding: 21))
    }
}
