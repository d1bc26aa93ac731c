import IMAPProtocol
import Maildir

/// The responses of several pipelined `UID FETCH` commands, each message routed by its UID to the
/// batch that asked for it.
///
/// A server may run pipelined FETCH commands at once and interleave their data, and may send one
/// command's tagged OK after the next one's messages (RFC 9051 §5.5): counting responses against
/// batches by order would put one batch's messages into another. So every FETCH response waits
/// for its UID (attributes that come before it are held), then goes to the receiver whose batch
/// holds that UID. A FETCH for a UID no batch asked for (an unsolicited flag update) is ignored.
struct FetchPipeline {
    /// The UIDs of each batch, ascending; batches are disjoint and ascending too.
    let batches: [[UInt32]]
    private var receivers: [Int: FetchReceiver] = [:]
    private var response = Response.outside

    private enum Response {
        /// Between FETCH responses.
        case outside
        /// Inside one whose UID has not come yet: what came before it.
        case awaitingUID([ResponseEvent])
        /// Inside one for this batch.
        case routed(Int)
        /// Inside one that no open batch asked for.
        case ignored
    }

    init(batches: [[UInt32]]) {
        self.batches = batches
    }

    /// Starts receiving batch `index` (its command is about to be sent).
    mutating func open(_ index: Int, _ receiver: FetchReceiver) {
        receivers[index] = receiver
    }

    /// Stops receiving batch `index` (its command completed) and hands over its receiver.
    mutating func close(_ index: Int) -> FetchReceiver? {
        receivers.removeValue(forKey: index)
    }

    /// Throws away every batch still open: nothing of theirs becomes durable.
    mutating func abortAll() {
        for receiver in receivers.values { receiver.batch.abort() }
        receivers = [:]
    }

    mutating func handle(_ event: ResponseEvent) throws {
        switch (response, event) {
        case (_, .fetchStart):
            response = .awaitingUID([event])
        case (.awaitingUID(let held), .fetchAttribute(.uid(let uid))):
            guard let index = batch(holding: uid), receivers[index] != nil else {
                response = .ignored
                return
            }
            response = .routed(index)
            for earlier in held { try receivers[index]!.handle(earlier) }
            try receivers[index]!.handle(event)
        case (.awaitingUID, .bodyStart):
            throw IMAPCommandError.protocolViolation("the server sent a message body before its UID")
        case (.awaitingUID(let held), .fetchEnd):
            _ = held  // a FETCH without a UID answers none of ours
            response = .outside
        case (.awaitingUID(let held), _):
            response = .awaitingUID(held + [event])
        case (.routed(let index), .fetchEnd):
            try receivers[index]?.handle(event)
            response = .outside
        case (.routed(let index), _):
            try receivers[index]?.handle(event)
        case (.ignored, .fetchEnd):
            response = .outside
        case (.ignored, _), (.outside, _):
            break
        }
    }

    /// The batch whose UIDs include `uid`.
    func batch(holding uid: UInt32) -> Int? {
        var low = 0
        var high = batches.count - 1
        while low <= high {
            let middle = (low + high) / 2
            guard let first = batches[middle].first, let last = batches[middle].last else { return nil }
            if uid < first {
                high = middle - 1
            } else if uid > last {
                low = middle + 1
            } else {
                return Self.contains(batches[middle], uid) ? middle : nil
            }
        }
        return nil
    }

    private static func contains(_ sorted: [UInt32], _ uid: UInt32) -> Bool {
        var low = 0
        var high = sorted.count - 1
        while low <= high {
            let middle = (low + high) / 2
            if sorted[middle] == uid { return true }
            if sorted[middle] < uid { low = middle + 1 } else { high = middle - 1 }
        }
        return false
    }
}
