import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Wall-clock time in microseconds since the Unix epoch, as carried on the wire.
public struct Timestamp: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(microseconds: UInt64) { self.rawValue = microseconds }
    public init(seconds: Double) { self.rawValue = UInt64(max(0, seconds * 1_000_000)) }

    /// The current wall-clock time (`CLOCK_REALTIME`; a vDSO call, no syscall).
    public static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(rawValue: UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1_000)
    }

    public var seconds: Double { Double(rawValue) / 1_000_000 }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "\(rawValue / 1_000_000).\(rawValue % 1_000_000)" }
}

extension ByteBuffer {
    // 0 on the wire means "never / none" for optional times.
    @discardableResult
    mutating func writeTimestamp(_ time: Timestamp?) -> Int {
        writeInteger(time?.rawValue ?? 0)
    }

    mutating func readOptionalTimestamp() throws(ProtocolError) -> Timestamp? {
        let raw = try readWireInteger(as: UInt64.self)
        return raw == 0 ? nil : Timestamp(rawValue: raw)
    }

    mutating func readTimestamp() throws(ProtocolError) -> Timestamp {
        Timestamp(rawValue: try readWireInteger(as: UInt64.self))
    }
}
