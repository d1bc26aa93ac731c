/// The modified UTF-7 of RFC 3501 §5.1.3, used for mailbox names.
///
/// Printable US-ASCII except `&` stands for itself; `&` is written `&-`; every other run of
/// characters is UTF-16BE in modified BASE64 (`,` for `/`, no padding) between `&` and `-`.
///
/// The decoder accepts exactly what ``encode(_:)`` produces, so that `encode(decode(x)) == x` for
/// every accepted `x`: it rejects 8-bit and control bytes outside a shifted run, printable ASCII
/// inside one, a run that is not terminated by `-`, non-zero or excess padding bits, unpaired
/// surrogates, and two shifted runs that touch (`&AOQ-&AOQ-` must be `&AOQA5A-`).
enum ModifiedUTF7 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,".utf8)

    private static let reverse: [Int8] = {
        var table = [Int8](repeating: -1, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = Int8(index) }
        return table
    }()

    static func encode(_ string: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(string.utf8.count)
        var run: [UInt16] = []
        for scalar in string.unicodeScalars {
            if scalar.value >= 0x20 && scalar.value <= 0x7E {
                flush(&run, into: &out)
                out.append(UInt8(scalar.value))
                if scalar.value == UInt32(ASCII.ampersand) { out.append(ASCII.minus) }
            } else {
                run.append(contentsOf: String(scalar).utf16)
            }
        }
        flush(&run, into: &out)
        return out
    }

    private static func flush(_ run: inout [UInt16], into out: inout [UInt8]) {
        guard !run.isEmpty else { return }
        out.append(ASCII.ampersand)
        var bits: UInt32 = 0
        var bitCount = 0
        for unit in run {
            bits = (bits << 16) | UInt32(unit)
            bitCount += 16
            while bitCount >= 6 {
                bitCount -= 6
                out.append(alphabet[Int((bits >> UInt32(bitCount)) & 0x3F)])
            }
            bits &= (1 << UInt32(bitCount)) - 1
        }
        if bitCount > 0 { out.append(alphabet[Int((bits << UInt32(6 - bitCount)) & 0x3F)]) }
        out.append(ASCII.minus)
        run.removeAll(keepingCapacity: true)
    }

    static func decode(_ bytes: some Collection<UInt8>) throws(IMAPParseError) -> String {
        var scalars = String.UnicodeScalarView()
        var index = bytes.startIndex
        var lastWasShifted = false
        while index != bytes.endIndex {
            let byte = bytes[index]
            bytes.formIndex(after: &index)
            if byte != ASCII.ampersand {
                guard ASCII.isPrintable(byte) else {
                    throw IMAPParseError(.invalidMailboxName, "byte \(ASCII.describe(byte)) must be encoded")
                }
                scalars.append(Unicode.Scalar(byte))
                lastWasShifted = false
                continue
            }
            guard index != bytes.endIndex else { throw IMAPParseError(.invalidMailboxName, "'&' at the end") }
            if bytes[index] == ASCII.minus {
                bytes.formIndex(after: &index)
                scalars.append("&")
                lastWasShifted = false
                continue
            }
            guard !lastWasShifted else {
                throw IMAPParseError(.invalidMailboxName, "two shifted runs touch; they must be one")
            }
            var bits: UInt32 = 0
            var bitCount = 0
            var units: [UInt16] = []
            var terminated = false
            while index != bytes.endIndex {
                let char = bytes[index]
                bytes.formIndex(after: &index)
                if char == ASCII.minus {
                    terminated = true
                    break
                }
                let value = reverse[Int(char)]
                guard value >= 0 else {
                    throw IMAPParseError(.invalidMailboxName, "\(ASCII.describe(char)) is not modified BASE64")
                }
                bits = (bits << 6) | UInt32(value)
                bitCount += 6
                if bitCount >= 16 {
                    bitCount -= 16
                    units.append(UInt16(truncatingIfNeeded: bits >> UInt32(bitCount)))
                    bits &= (1 << UInt32(bitCount)) - 1
                }
            }
            guard terminated else { throw IMAPParseError(.invalidMailboxName, "shifted run not closed by '-'") }
            guard bitCount < 6, bits == 0, !units.isEmpty else {
                throw IMAPParseError(.invalidMailboxName, "shifted run has stray bits")
            }
            var iterator = units.makeIterator()
            var utf16 = UTF16()
            decoding: while true {
                switch utf16.decode(&iterator) {
                case .scalarValue(let scalar):
                    guard !(scalar.value >= 0x20 && scalar.value <= 0x7E) else {
                        throw IMAPParseError(.invalidMailboxName, "printable ASCII must not be encoded")
                    }
                    scalars.append(scalar)
                case .emptyInput:
                    break decoding
                case .error:
                    throw IMAPParseError(.invalidMailboxName, "invalid UTF-16 in shifted run")
                }
            }
            lastWasShifted = true
        }
        return String(scalars)
    }
}
