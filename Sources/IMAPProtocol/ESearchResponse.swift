/// An ESEARCH response (RFC 4731), `* ESEARCH (TAG "A5") UID MIN 2 ALL 2,10:11`: the fields the
/// server returned, nil otherwise. Unknown return data is skipped.
public struct ESearchResponse: Hashable, Sendable {
    /// The tag of the command this answers.
    public var tag: String?
    /// Whether the numbers are UIDs (UID SEARCH) rather than sequence numbers.
    public var isUID: Bool
    /// The lowest matching number.
    public var min: UInt32?
    /// The highest matching number.
    public var max: UInt32?
    /// How many messages matched.
    public var count: UInt32?
    /// The matching messages; nil when ALL was not returned (also when nothing matched).
    public var all: UIDSet?
    /// RFC 7162: the highest mod-sequence among the matches.
    public var modSeq: UInt64?

    /// A response with the given fields.
    public init(
        tag: String? = nil, isUID: Bool = false, min: UInt32? = nil, max: UInt32? = nil, count: UInt32? = nil,
        all: UIDSet? = nil, modSeq: UInt64? = nil
    ) {
        self.tag = tag
        self.isUID = isUID
        self.min = min
        self.max = max
        self.count = count
        self.all = all
        self.modSeq = modSeq
    }
}
