import CResolv

/// One SRV record (RFC 2782): where a service of a domain is, and in which order to try it.
struct SRVRecord: Equatable, Sendable {
    var priority: UInt16
    var weight: UInt16
    var port: UInt16
    /// The host, without the trailing dot; "." (no such service here, RFC 6186 §3.4) is empty.
    var target: String
}

/// DNS SRV lookups through glibc's resolver (`res_nquery`): the system's nameservers, or one
/// given server (`--nameserver`).
struct SRVLookup {
    /// An IPv4 address, and the port (53 when not given).
    var nameserver: (address: String, port: Int)?
    var timeoutSeconds: Int32 = 2

    /// The name's SRV records, best first (lowest priority, then highest weight); empty when
    /// there is none. Throws only for a nameserver that cannot be asked at all.
    func records(_ name: String) throws -> [SRVRecord] {
        var answer = [UInt8](repeating: 0, count: 4096)
        var herror: Int32 = 0
        let length = syncd_dns_query(
            name, 33 /* SRV */, nameserver?.address, Int32(nameserver?.port ?? 53),
            timeoutSeconds, 1, &answer, Int32(answer.count), &herror)
        guard length > 0 else {
            if herror == -2 { throw AddError("--nameserver: expected an IPv4 address, optionally with :PORT") }
            if herror == TRY_AGAIN { throw AddError("the DNS server did not answer") }
            return []
        }
        return DNSMessage.srvRecords(Array(answer.prefix(Int(length))))
            .sorted { ($0.priority, UInt16.max - $0.weight) < ($1.priority, UInt16.max - $1.weight) }
    }

    /// `ADDR` or `ADDR:PORT`.
    static func nameserver(_ text: String) -> (address: String, port: Int)? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, !parts[0].isEmpty else { return nil }
        guard parts.count == 2 else { return (String(parts[0]), 53) }
        guard let port = Int(parts[1]), (1...65535).contains(port) else { return nil }
        return (String(parts[0]), port)
    }
}

/// Just enough of the DNS message format (RFC 1035 §4) to read SRV answers.
enum DNSMessage {
    /// The SRV records in a response's answer section; malformed parts end the reading.
    static func srvRecords(_ message: [UInt8]) -> [SRVRecord] {
        guard message.count >= 12 else { return [] }
        func u16(_ at: Int) -> UInt16? { at + 1 < message.count ? UInt16(message[at]) << 8 | UInt16(message[at + 1]) : nil }
        guard let questions = u16(4), let answers = u16(6) else { return [] }
        var offset = 12
        for _ in 0..<questions {
            guard let (_, next) = name(message, at: offset) else { return [] }
            offset = next + 4
        }
        var records: [SRVRecord] = []
        for _ in 0..<answers {
            guard let (_, next) = name(message, at: offset), let type = u16(next), let length = u16(next + 8) else { break }
            let data = next + 10
            guard data + Int(length) <= message.count else { break }
            if type == 33, length >= 7, let priority = u16(data), let weight = u16(data + 2), let port = u16(data + 4),
               let (target, _) = name(message, at: data + 6) {
                records.append(SRVRecord(priority: priority, weight: weight, port: port, target: target))
            }
            offset = data + Int(length)
        }
        return records
    }

    /// A possibly compressed name at `offset`, without its trailing dot, and the offset after it.
    static func name(_ message: [UInt8], at offset: Int) -> (String, Int)? {
        var labels: [String] = []
        var position = offset
        var end: Int?
        var jumps = 0
        while true {
            guard position < message.count else { return nil }
            let length = Int(message[position])
            if length == 0 {
                return (labels.joined(separator: "."), end ?? position + 1)
            } else if length & 0xC0 == 0xC0 {
                guard position + 1 < message.count, jumps < 32 else { return nil }
                if end == nil { end = position + 2 }
                position = (length & 0x3F) << 8 | Int(message[position + 1])
                jumps += 1
            } else {
                guard length < 64, position + 1 + length <= message.count else { return nil }
                labels.append(String(decoding: message[(position + 1)..<(position + 1 + length)], as: UTF8.self))
                position += 1 + length
            }
        }
    }
}
