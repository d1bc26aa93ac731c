import NIOCore
import SyncProtocol
import XCTest
@testable import SyncIPC

/// Builds a batch of 10-byte "frames" whose first byte is a tag, for the queue and ring tests.
func batch(firstSeq: UInt64, _ items: [(tag: UInt8, progressOf: RunID?)]) -> EncodedBatch {
    var bytes = ByteBuffer()
    var events: [EncodedEvent] = []
    for (i, item) in items.enumerated() {
        events.append(EncodedEvent(
            seq: firstSeq + UInt64(i), store: "s", progressOf: item.progressOf, carriesStep: false,
            offset: bytes.writerIndex, length: 10))
        bytes.writeBytes([UInt8](repeating: item.tag, count: 10))
    }
    return EncodedBatch(bytes: bytes, events: events)
}

final class ViewerQueueTests: XCTestCase {
    private func drain(_ queue: inout ViewerQueue) -> [UInt8] {
        var tags: [UInt8] = []
        while let chunk = queue.popFirst() {
            tags += stride(from: 0, to: chunk.readableBytes, by: 10).map { chunk.getInteger(at: chunk.readerIndex + $0)! }
        }
        return tags
    }

    func testCompaction_dropsOnlySupersededProgress_keepingOrder() {
        var queue = ViewerQueue(maxBytes: 1000)
        let events = batch(firstSeq: 1, [(1, 7), (6, 7), (2, nil), (3, 8), (4, 7)])
        XCTAssertTrue(queue.append(.events(events, 0..<5)))
        XCTAssertTrue(queue.append(.frame(ByteBuffer(bytes: [UInt8](repeating: 5, count: 10)))))
        queue.compact()
        XCTAssertEqual(queue.bytes, 40)
        XCTAssertEqual(drain(&queue), [2, 3, 4, 5], "progress 1 and 6 of run 7 were superseded by 4")
        XCTAssertTrue(queue.isEmpty)
        XCTAssertEqual(queue.bytes, 0)
    }

    /// Real Progress frames: what a dropped one stood for is added to the one that superseded it.
    func testCompaction_foldsTheCallbacksOfDroppedProgressIntoTheirSurvivor() throws {
        var bytes = ByteBuffer()
        var events: [EncodedEvent] = []
        let published: [(RunID, String?, UInt32)] = [(7, "a", 2), (7, nil, 1), (8, nil, 5), (7, nil, 3), (7, "b", 1), (8, nil, 1)]
        for (i, (run, step, callbacks)) in published.enumerated() {
            let offset = bytes.writerIndex
            Frame.encode(SyncEvent(seq: UInt64(i + 1), time: Timestamp(rawValue: 1), store: "s", run: run,
                                   kind: .progress(step: step, index: UInt32(i), max: 9), callbacks: callbacks), into: &bytes)
            events.append(EncodedEvent(seq: UInt64(i + 1), store: "s", progressOf: run, carriesStep: step != nil,
                                       offset: offset, length: bytes.writerIndex - offset))
        }
        var queue = ViewerQueue(maxBytes: 10_000)
        XCTAssertTrue(queue.append(.events(EncodedBatch(bytes: bytes, events: events), 0..<events.count)))
        queue.compact()
        var out = ByteBuffer()
        while var chunk = queue.popFirst() { out.writeBuffer(&chunk) }
        var got: [SyncEvent] = []
        while case .event(let event)? = try Frame.decode(from: &out, limit: 1 << 20) { got.append(event) }
        XCTAssertEqual(got.map(\.seq), [5, 6], "run 7's newest and run 8's newest stay")
        XCTAssertEqual(got.map(\.callbacks), [2 + 1 + 3 + 1, 5 + 1], "every callback still counted")
    }

    func testCap_mustDeliverFramesBeyondItOverflow() {
        var queue = ViewerQueue(maxBytes: 30)
        XCTAssertTrue(queue.append(.events(batch(firstSeq: 1, [(1, nil), (2, nil)]), 0..<2)))
        XCTAssertTrue(queue.append(.events(batch(firstSeq: 3, [(3, 1)]), 0..<1)))
        XCTAssertTrue(queue.append(.events(batch(firstSeq: 4, [(4, 1)]), 0..<1)), "supersedes 3, so it fits")
        XCTAssertFalse(queue.append(.events(batch(firstSeq: 5, [(5, nil)]), 0..<1)), "errors never drop: full")
    }

    func testProgressFlood_staysSmall() {
        var queue = ViewerQueue(maxBytes: 64 * 1024)
        for i in 0..<20_000 {
            XCTAssertTrue(queue.append(.events(batch(firstSeq: UInt64(i), [(UInt8(i % 256), 1)]), 0..<1)))
        }
        XCTAssertLessThanOrEqual(queue.bytes, 64 * 1024)
        XCTAssertEqual(drain(&queue).last, UInt8(19_999 % 256), "the newest bar survives")
    }

    func testCompaction_thatWouldFreeLittle_leavesSharedBatchesAlone() {
        var queue = ViewerQueue(maxBytes: 1000)
        let events = batch(firstSeq: 1, [(1, 7), (2, nil), (3, nil), (4, nil), (5, 7)])
        XCTAssertTrue(queue.append(.events(events, 0..<5)))
        queue.compact()
        XCTAssertEqual(queue.bytes, 50, "dropping 10 of 50 bytes is not worth a copy")
        XCTAssertEqual(drain(&queue), [1, 2, 3, 4, 5])
    }

    func testPartialRanges_writeOnlyTheirFrames() {
        var queue = ViewerQueue(maxBytes: 1000)
        let events = batch(firstSeq: 1, [(1, nil), (2, nil), (3, nil)])
        XCTAssertTrue(queue.append(.events(events, 1..<3)))
        XCTAssertEqual(queue.bytes, 20)
        XCTAssertEqual(drain(&queue), [2, 3])
    }
}

final class EventRingTests: XCTestCase {
    func testEventsAfter_withinRing_andTooOld() {
        var ring = EventRing(capacity: 5)
        ring.append(batch(firstSeq: 1, [(1, nil), (2, nil), (3, nil)]))
        ring.append(batch(firstSeq: 4, [(4, nil), (5, nil)]))
        ring.append(batch(firstSeq: 6, [(6, nil), (7, nil), (8, nil)]))
        // Whole batches are dropped only while at least 5 events remain.
        XCTAssertEqual(ring.oldestSeq, 4)
        func seqs(after seq: UInt64) -> [UInt64]? {
            ring.events(after: seq, latest: 8)?.flatMap { batch, range in range.map { batch.events[$0].seq } }
        }
        XCTAssertEqual(seqs(after: 3), [4, 5, 6, 7, 8])
        XCTAssertEqual(seqs(after: 6), [7, 8])
        XCTAssertEqual(seqs(after: 8), [])
        XCTAssertNil(seqs(after: 2), "event 3 is gone")
        XCTAssertNil(seqs(after: 9), "from the future")
    }
}
