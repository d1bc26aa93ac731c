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

/// SRV answers read with glibc's DNS message parser (libresolv's ns_parserr and dn_expand).
enum DNSMessage {
    /// The SRV records in a response's answer section; a malformed one is skipped, and a message
    /// that does not parse has none.
    static func srvRecords(_ message: [UInt8]) -> [SRVRecord] {
        let count = Int(syncd_dns_answers(message, Int32(message.count)))
        guard count > 0 else { return [] }
        var records: [SRVRecord] = []
        for index in 0..<count {
            var priority: UInt16 = 0, weight: UInt16 = 0, port: UInt16 = 0
            var target = [CChar](repeating: 0, count: Int(NS_MAXDNAME))
            let read = syncd_dns_srv(message, Int32(message.count), Int32(index), &priority, &weight, &port, &target, Int32(target.count))
            guard read == 1 else { continue }
            var host = String(decoding: target.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if host == "." { host = "" }  // the root: no such service here (RFC 6186 §3.4)
            records.append(SRVRecord(priority: priority, weight: weight, port: port, target: host))
        }
        return records
    }
}
