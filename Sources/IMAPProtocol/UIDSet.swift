/// A set of UIDs (or message sequence numbers) in the `sequence-set` syntax: `1:5,7,9:*`.
///
/// Concrete UIDs are kept as ``ranges``: ascending, disjoint and not adjacent, so `1:3,4,5` and
/// `5,1:4` are the same set and format as `1:5`. Iterating the set yields its concrete UIDs in
/// ascending order without materialising them.
///
/// `*` stands for the largest UID in use, which only the server knows, so a trailing
/// `n:*` is kept apart as ``openRangeStart`` (`*` alone is `4294967295:*`, which means the same).
/// It is neither iterated, counted, nor consulted by ``contains(_:)``; ``resolved(highestUID:)``
/// turns it into concrete UIDs.
///
/// - Important: `UID FETCH n:*` matches the message with the highest UID even when that UID is
///   below `n` (RFC 3501 §6.4.8: `n:*` is the range between `n` and the largest UID, in either
///   order). A caller asking for "UIDs from `n` on" must drop returned UIDs below `n`.
public struct UIDSet: Hashable, Sendable, Sequence, CustomStringConvertible {
    /// The concrete UIDs: ascending, disjoint, non-adjacent ranges, none containing 0.
    public private(set) var ranges: [ClosedRange<UInt32>] = []
    /// When set, the set also holds `openRangeStart:*`; `UInt32.max` stands for `*` alone.
    public private(set) var openRangeStart: UInt32?

    /// The empty set (which IMAP cannot send: encoding a command with it throws).
    public init() {}

    /// The set holding `uid`. - Precondition: `uid` is not 0.
    public init(_ uid: UInt32) { self.init(uid...uid) }

    /// The set holding `range`. - Precondition: the range does not contain 0.
    public init(_ range: ClosedRange<UInt32>) {
        precondition(range.lowerBound > 0, "UID 0 does not exist")
        ranges = [range]
    }

    /// The set holding `uids`, in any order. - Precondition: none is 0.
    public init(_ uids: some Sequence<UInt32>) {
        for uid in uids { insert(uid) }
    }

    /// `first:*`: every UID from `first` to the largest one in use (see the type's note on `*`).
    public static func from(_ first: UInt32) -> UIDSet {
        precondition(first > 0, "UID 0 does not exist")
        var set = UIDSet()
        set.openRangeStart = first
        return set
    }

    /// `*`: the largest UID in use.
    public static let last = UIDSet.from(UInt32.max)

    /// Parses `sequence-set` syntax (RFC 3501 §9), such as `1:5,7,9:*`. Ranges may be written in
    /// either order (`5:1`).
    ///
    /// - Throws: ``IMAPParseError/Code/invalidSequenceSet`` for an empty string, an empty element,
    ///   0, a number above 4294967295, or any other character.
    public init(parsing string: String) throws(IMAPParseError) {
        try self.init(parsing: Array(string.utf8))
    }

    init(parsing bytes: [UInt8]) throws(IMAPParseError) {
        func fail(_ why: String) -> IMAPParseError {
            IMAPParseError(.invalidSequenceSet, "\(why) in '\(String(decoding: bytes, as: UTF8.self))'")
        }
        // nil stands for `*`.
        func number(_ slice: ArraySlice<UInt8>) throws(IMAPParseError) -> UInt32? {
            if slice.elementsEqual([ASCII.star]) { return nil }
            guard !slice.isEmpty else { throw fail("empty element") }
            var value: UInt32 = 0
            for byte in slice {
                guard ASCII.isDigit(byte) else { throw fail("unexpected \(ASCII.describe(byte))") }
                let (times, o1) = value.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times.addingReportingOverflow(UInt32(byte - ASCII.zero))
                guard !o1, !o2 else { throw fail("number above 4294967295") }
                value = sum
            }
            guard value > 0 else { throw fail("0 is not a valid number") }
            return value
        }
        guard !bytes.isEmpty else { throw fail("empty set") }
        for element in bytes.split(separator: ASCII.comma, omittingEmptySubsequences: false) {
            let ends = element.split(separator: ASCII.colon, maxSplits: 1, omittingEmptySubsequences: false)
            let first = try number(ends[0])
            let second = ends.count == 2 ? try number(ends[1]) : first
            switch (first, second) {
            case (let a?, let b?): insert(Swift.min(a, b)...Swift.max(a, b))
            case (let a?, nil), (nil, let a?): insertOpenRange(from: a)
            case (nil, nil): insertOpenRange(from: UInt32.max)
            }
        }
    }

    /// Whether the set holds no concrete UID and no `*`.
    public var isEmpty: Bool { ranges.isEmpty && openRangeStart == nil }

    /// The number of concrete UIDs (the open range is not counted).
    public var count: Int { ranges.reduce(0) { $0 + $1.count } }

    /// Whether `uid` is among the concrete UIDs (the open range is not consulted).
    public func contains(_ uid: UInt32) -> Bool {
        let index = firstRange(endingAtOrAfter: uid)
        return index < ranges.count && ranges[index].contains(uid)
    }

    /// Adds one UID. - Precondition: `uid` is not 0.
    public mutating func insert(_ uid: UInt32) { insert(uid...uid) }

    /// Adds a range, merging it with overlapping and adjacent ranges.
    /// - Precondition: the range does not contain 0.
    public mutating func insert(_ range: ClosedRange<UInt32>) {
        precondition(range.lowerBound > 0, "UID 0 does not exist")
        // Fast path: sets are mostly built in ascending order.
        if let last = ranges.last, range.lowerBound > last.upperBound {
            if last.upperBound != UInt32.max, range.lowerBound == last.upperBound + 1 {
                ranges[ranges.count - 1] = last.lowerBound...range.upperBound
            } else {
                ranges.append(range)
            }
            return
        }
        // Ranges that overlap or touch `range` lie between `start` and `end`.
        let start = firstRange(endingAtOrAfter: range.lowerBound == 1 ? 1 : range.lowerBound - 1)
        var end = start
        var lower = range.lowerBound
        var upper = range.upperBound
        while end < ranges.count,
            range.upperBound == UInt32.max || ranges[end].lowerBound <= range.upperBound + 1
        {
            lower = Swift.min(lower, ranges[end].lowerBound)
            upper = Swift.max(upper, ranges[end].upperBound)
            end += 1
        }
        ranges.replaceSubrange(start..<end, with: [lower...upper])
    }

    /// Adds `first:*`; two open ranges merge into the one starting lower.
    public mutating func insertOpenRange(from first: UInt32) {
        precondition(first > 0, "UID 0 does not exist")
        openRangeStart = Swift.min(openRangeStart ?? first, first)
    }

    /// Adds every UID and the open range of `other`.
    public mutating func formUnion(_ other: UIDSet) {
        for range in other.ranges { insert(range) }
        if let start = other.openRangeStart { insertOpenRange(from: start) }
    }

    /// The concrete set this set means when the largest UID in use is `highestUID`: the open range
    /// `n:*` becomes `n...highestUID`, or just `highestUID` when that is below `n`. With
    /// `highestUID` 0 (an empty mailbox) the open range matches nothing.
    public func resolved(highestUID: UInt32) -> UIDSet {
        var result = self
        result.openRangeStart = nil
        if let start = openRangeStart, highestUID > 0 {
            result.insert(Swift.min(start, highestUID)...highestUID)
        }
        return result
    }

    /// Splits the set into sets whose ``description`` is at most `maxEncodedLength` bytes, so a
    /// command stays below the server's line limit (Dovecot: 64 KiB). The open range goes into
    /// the last set. - Precondition: `maxEncodedLength` is at least 21 (`4294967294:4294967295`).
    public func split(maxEncodedLength: Int) -> [UIDSet] {
        precondition(maxEncodedLength >= 21)
        var result: [UIDSet] = []
        var current = UIDSet()
        var length = 0
        for range in ranges {
            let itemLength = Self.format(range).utf8.count
            if length > 0 && length + 1 + itemLength > maxEncodedLength {
                result.append(current)
                current = UIDSet()
                length = 0
            }
            current.ranges.append(range)
            length += (length > 0 ? 1 : 0) + itemLength
        }
        if let start = openRangeStart {
            let itemLength = start == UInt32.max ? 1 : String(start).utf8.count + 2
            if length > 0 && length + 1 + itemLength > maxEncodedLength {
                result.append(current)
                current = UIDSet()
            }
            current.openRangeStart = start
        }
        if !current.isEmpty { result.append(current) }
        return result
    }

    /// The `sequence-set` form, e.g. `1:5,7,9:*`; the empty set formats as an empty string.
    public var description: String {
        var parts = ranges.map(Self.format)
        if let start = openRangeStart { parts.append(start == UInt32.max ? "*" : "\(start):*") }
        return parts.joined(separator: ",")
    }

    private static func format(_ range: ClosedRange<UInt32>) -> String {
        range.lowerBound == range.upperBound ? "\(range.lowerBound)" : "\(range.lowerBound):\(range.upperBound)"
    }

    /// The index of the first range whose upper bound is at least `uid` (binary search).
    private func firstRange(endingAtOrAfter uid: UInt32) -> Int {
        var low = 0
        var high = ranges.count
        while low < high {
            let mid = (low + high) / 2
            if ranges[mid].upperBound < uid { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Iterates the concrete UIDs in ascending order.
    public struct Iterator: IteratorProtocol {
        private let ranges: [ClosedRange<UInt32>]
        private var rangeIndex = 0
        private var upcoming: UInt32?

        init(_ ranges: [ClosedRange<UInt32>]) {
            self.ranges = ranges
            upcoming = ranges.first?.lowerBound
        }

        public mutating func next() -> UInt32? {
            guard let value = upcoming else { return nil }
            if value < ranges[rangeIndex].upperBound {
                upcoming = value + 1
            } else {
                rangeIndex += 1
                upcoming = rangeIndex < ranges.count ? ranges[rangeIndex].lowerBound : nil
            }
            return value
        }
    }

    public func makeIterator() -> Iterator { Iterator(ranges) }
}
