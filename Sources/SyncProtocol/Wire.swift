import NIOCore

// Field encodings shared by every message. All integers are big-endian; see docs/PROTOCOL.md §2.

extension ByteBuffer {
    /// Longest string a field can carry; longer text is cut at a character boundary on encode.
    static let maxStringBytes = Int(UInt16.max)

    @discardableResult
    mutating func writeWireString(_ string: String) -> Int {
        var utf8 = Substring(string).utf8
        if utf8.count > Self.maxStringBytes {
            // Cut at a scalar boundary so the receiver never sees half a character.
            var end = utf8.index(utf8.startIndex, offsetBy: Self.maxStringBytes)
            while end > utf8.startIndex, UTF8.isContinuation(utf8[end]) {
                end = utf8.index(before: end)
            }
            utf8 = utf8[utf8.startIndex..<end]
        }
        let count = utf8.count
        return writeInteger(UInt16(count)) + writeBytes(utf8)
    }

    @discardableResult
    mutating func writeOptionalWireString(_ string: String?) -> Int {
        guard let string else { return writeInteger(UInt8(0)) }
        return writeInteger(UInt8(1)) + writeWireString(string)
    }

    @discardableResult
    mutating func writeWireStringList(_ list: [String]) -> Int {
        var written = writeInteger(UInt16(Swift.min(list.count, Int(UInt16.max))))
        for item in list.prefix(Int(UInt16.max)) { written += writeWireString(item) }
        return written
    }

    mutating func readWireInteger<T: FixedWidthInteger>(as: T.Type = T.self) throws(ProtocolError) -> T {
        guard let value = readInteger(as: T.self) else { throw .truncatedPayload }
        return value
    }

    mutating func readWireString() throws(ProtocolError) -> String {
        let count = Int(try readWireInteger(as: UInt16.self))
        guard let bytes = readSlice(length: count) else { throw .truncatedPayload }
        // Invalid UTF-8 is replaced, not fatal: text is for people, and one bad byte from a
        // provider must not cost a viewer its connection.
        return String(decoding: bytes.readableBytesView, as: UTF8.self)
    }

    mutating func readOptionalWireString() throws(ProtocolError) -> String? {
        switch try readWireInteger(as: UInt8.self) {
        case 0: return nil
        case 1: return try readWireString()
        case let other: throw .invalidField("optional string marker \(other)")
        }
    }

    mutating func readWireStringList(atMost limit: Int = Int(UInt16.max)) throws(ProtocolError) -> [String] {
        let count = Int(try readWireInteger(as: UInt16.self))
        guard count <= limit else { throw .invalidField("a list of \(count) names; at most \(limit) are accepted") }
        // Each entry needs at least its 2-byte length, so a lying count fails before allocating.
        guard count * 2 <= readableBytes else { throw .truncatedPayload }
        var list: [String] = []
        list.reserveCapacity(count)
        for _ in 0..<count { list.append(try readWireString()) }
        return list
    }
}
