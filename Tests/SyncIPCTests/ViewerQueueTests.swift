import NIOCore
import XCTest
@testable import SyncIPC

final class ViewerQueueTests: XCTestCase {
    private func frame(_ tag: UInt8, size: Int = 10) -> ByteBuffer {
        ByteBuffer(bytes: [UInt8](repeating: tag, count: size))
    }

    private func drain(_ queue: inout ViewerQueue) -> [UInt8] {
        var tags: [UInt8] = []
        while let next = queue.popFirst() { tags.append(next.getInteger(at: next.readerIndex)!) }
        return tags
    }

    func testProgress_supersedesOlderProgressOfSameRun_keepingOrderOfTheRest() {
        var queue = ViewerQueue(maxBytes: 1000)
        XCTAssertTrue(queue.append(frame(1), progressOf: 7))
        XCTAssertTrue(queue.append(frame(2)))  // an Error: never dropped
        XCTAssertTrue(queue.append(frame(3), progressOf: 8))  // another run's progress stays
        XCTAssertTrue(queue.append(frame(4), progressOf: 7))
        XCTAssertEqual(queue.count, 3)
        XCTAssertEqual(queue.bytes, 30)
        XCTAssertEqual(drain(&queue), [2, 3, 4])
        XCTAssertTrue(queue.isEmpty)
        XCTAssertEqual(queue.bytes, 0)
    }

    func testCap_refusesMustDeliverFramesBeyondIt_butSupersedingProgressFits() {
        var queue = ViewerQueue(maxBytes: 30)
        XCTAssertTrue(queue.append(frame(1)))
        XCTAssertTrue(queue.append(frame(2)))
        XCTAssertTrue(queue.append(frame(3), progressOf: 1))
        XCTAssertFalse(queue.append(frame(4)), "full")
        XCTAssertTrue(queue.append(frame(5), progressOf: 1), "replaces 3, so it fits")
        XCTAssertEqual(drain(&queue), [1, 2, 5])
    }

    func testProgressFlood_keepsQueueSmall() {
        var queue = ViewerQueue(maxBytes: 1000)
        for i in 0..<100_000 { XCTAssertTrue(queue.append(frame(UInt8(i % 256)), progressOf: 1)) }
        XCTAssertEqual(queue.count, 1)
        XCTAssertEqual(drain(&queue), [UInt8(99_999 % 256)])
    }

    func testSupersedeAfterPartialDrain_stillFindsTheRightEntry() {
        var queue = ViewerQueue(maxBytes: 1000)
        XCTAssertTrue(queue.append(frame(1)))
        XCTAssertTrue(queue.append(frame(2), progressOf: 9))
        _ = queue.popFirst()
        XCTAssertTrue(queue.append(frame(3)))
        XCTAssertTrue(queue.append(frame(4), progressOf: 9))
        XCTAssertEqual(drain(&queue), [3, 4])
        // Once popped, a run's progress is no longer in the queue to supersede.
        XCTAssertTrue(queue.append(frame(5), progressOf: 9))
        XCTAssertEqual(drain(&queue), [5])
    }
}

final class EventRingTests: XCTestCase {
    private func event(_ seq: UInt64) -> EncodedEvent {
        EncodedEvent(seq: seq, store: "s", progressOf: nil, frame: ByteBuffer())
    }

    func testEventsAfter_withinRing_andTooOld() {
        var ring = EventRing(capacity: 5)
        for seq in 1...8 { ring.append(event(UInt64(seq))) }
        XCTAssertEqual(ring.oldestSeq, 4)
        XCTAssertEqual(ring.events(after: 3, latest: 8)?.map(\.seq), [4, 5, 6, 7, 8])
        XCTAssertEqual(ring.events(after: 6, latest: 8)?.map(\.seq), [7, 8])
        XCTAssertEqual(ring.events(after: 8, latest: 8)?.map(\.seq), [])
        XCTAssertNil(ring.events(after: 2, latest: 8), "event 3 is gone")
        XCTAssertNil(ring.events(after: 9, latest: 8), "from the future")
    }
}
