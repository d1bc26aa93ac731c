/// Why bytes from a peer could not be decoded.
///
/// Any of these means the peer's stream can no longer be trusted: the receiver answers with a
/// ``Goodbye`` carrying ``SyncStatus/malformedFrame`` or ``SyncStatus/frameTooLarge`` and closes
/// that one connection.
public enum ProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The length field announces a frame larger than the receiver's cap.
    case frameTooLarge(length: UInt32, limit: Int)
    /// The length field is smaller than the 2-byte message type it must contain.
    case frameTooShort(length: UInt32)
    /// A known message's payload ended before all its fields were read.
    case truncatedPayload
    /// A field holds a value the protocol does not allow.
    case invalidField(String)

    public var description: String {
        switch self {
        case .frameTooLarge(let length, let limit):
            return "frame of \(length) bytes exceeds the limit of \(limit) bytes"
        case .frameTooShort(let length):
            return "frame length \(length) is shorter than a message type"
        case .truncatedPayload:
            return "message payload is truncated"
        case .invalidField(let what):
            return "invalid field: \(what)"
        }
    }

    /// The status code a receiver reports to the peer for this error.
    public var status: SyncStatus {
        if case .frameTooLarge = self { return .frameTooLarge }
        return .malformedFrame
    }
}
