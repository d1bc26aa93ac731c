import Logging
import NIOCore
import SyncProtocol
import XCTest
@testable import SyncIPC

/// Progress callbacks that come faster than the forwarder takes them are merged into one event:
/// what that event says, and how a viewer can tell.
final class ProgressMergeTests: XCTestCase {
    private func publisher() -> EventPublisher {
        EventPublisher(firstSeq: 1, reserver: nil, logger: Logger(label: "test")) {}
    }

    private func pending(_ publisher: EventPublisher) -> [SyncEvent] {
        var batch: [SyncEvent] = []
        publisher.take(into: &batch, limit: 1000)
        return batch
    }

    func testMergedProgress_countsItsCallbacks_keepsTheLatestNumbers() {
        let publisher = publisher()
        var slot: EventPublisher.Slot?
        for index in 1...5 as ClosedRange<UInt32> {
            publisher.publishProgress(store: "s", run: 1, .progress(step: "item \(index)", index: index, max: 9), slot: &slot)
        }
        let events = pending(publisher)
        XCTAssertEqual(events.count, 1)
        XCTAssertEqual(events[0].seq, 1)
        XCTAssertEqual(events[0].kind, .progress(step: "item 5", index: 5, max: 9))
        XCTAssertEqual(events[0].callbacks, 5)
    }

    func testMergedProgress_keepsTheStepTextALaterBarMoveLeavesOut() {
        let publisher = publisher()
        var slot: EventPublisher.Slot?
        publisher.publishProgress(store: "s", run: 1, .progress(step: "INBOX", index: 1, max: 9), slot: &slot)
        publisher.publishProgress(store: "s", run: 1, .progress(step: nil, index: 2, max: 9), slot: &slot)
        publisher.publishProgress(store: "s", run: 1, .progress(step: nil, index: 3, max: 9), slot: &slot)
        let events = pending(publisher)
        XCTAssertEqual(events.map(\.kind), [.progress(step: "INBOX", index: 3, max: 9)],
                       "a viewer that sees only the merged event still learns the step")
        XCTAssertEqual(events[0].callbacks, 3)
    }

    func testProgressAfterAnotherEvent_isNotMergedAcrossIt() {
        let publisher = publisher()
        var slot: EventPublisher.Slot?
        publisher.publishProgress(store: "s", run: 1, .progress(step: "a", index: 1, max: 9), slot: &slot)
        publisher.publish(store: "s", run: 1, .error(code: .network, message: "reset"))
        slot = nil  // RunReporter forgets the slot when it publishes anything else
        publisher.publishProgress(store: "s", run: 1, .progress(step: nil, index: 2, max: 9), slot: &slot)
        XCTAssertEqual(pending(publisher).map(\.callbacks), [1, 1, 1])
    }

    func testProgress_whileTheForwarderKeepsUp_isNotMerged_behindItIs() {
        // A backlog of 3: the first three calls wait as events of their own; from then on the
        // forwarder counts as behind, and the next calls merge into the third.
        let publisher = EventPublisher(firstSeq: 1, reserver: nil, logger: Logger(label: "test"), mergeBacklog: 3) {}
        var slot: EventPublisher.Slot?
        for index in 1...6 as ClosedRange<UInt32> {
            publisher.publishProgress(store: "s", run: 1, .progress(step: "item \(index)", index: index, max: 9), slot: &slot)
        }
        var events = pending(publisher)
        XCTAssertEqual(events.map(\.seq), [1, 2, 3])
        XCTAssertEqual(events.map(\.callbacks), [1, 1, 4])
        XCTAssertEqual(events.last?.kind, .progress(step: "item 6", index: 6, max: 9))
        // Taken, the backlog is gone: the next call is an event of its own again.
        publisher.publishProgress(store: "s", run: 1, .progress(step: nil, index: 7, max: 9), slot: &slot)
        publisher.publishProgress(store: "s", run: 1, .progress(step: nil, index: 8, max: 9), slot: &slot)
        events = pending(publisher)
        XCTAssertEqual(events.map(\.seq), [4, 5])
        XCTAssertEqual(events.map(\.callbacks), [1, 1])
    }

    func testSlowViewerQueue_keepsAStepTextThatOnlyBarMovesFollow() {
        // Tags: 1 Progress with step, 2 and 3 Progress without, 4 Progress with step, of run 7.
        var events: [EncodedEvent] = []
        var bytes = ByteBufferAllocator().buffer(capacity: 64)
        for (tag, step) in [(UInt8(1), true), (2, false), (3, false), (4, true), (5, false)] {
            events.append(EncodedEvent(
                seq: UInt64(tag), store: "s", progressOf: 7, carriesStep: step, offset: bytes.writerIndex, length: 10))
            bytes.writeBytes([UInt8](repeating: tag, count: 10))
        }
        var queue = ViewerQueue(maxBytes: 1000)
        XCTAssertTrue(queue.append(.events(EncodedBatch(bytes: bytes, events: events), 0..<5)))
        queue.compact()
        var tags: [UInt8] = []
        while let chunk = queue.popFirst() {
            tags += stride(from: 0, to: chunk.readableBytes, by: 10).map { chunk.getInteger(at: chunk.readerIndex + $0)! }
        }
        XCTAssertEqual(tags, [4, 5], "step 1 goes for step 4; the bar moves 2 and 3 go for 5")
    }
}
