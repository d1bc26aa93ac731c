/// What the server's EHLO reply offers (RFC 5321 §4.1.1.1): the first line is its greeting, each
/// later line an extension keyword with parameters.
public struct ServerCapabilities: Sendable, Hashable {
    public var pipelining = false
    public var startTLS = false
    public var eightBitMIME = false
    public var smtpUTF8 = false
    public var enhancedStatusCodes = false
    /// SIZE's limit in bytes; 0 means the server states no fixed limit (RFC 1870 §4). nil: no SIZE.
    public var sizeLimit: Int?
    /// SASL mechanisms, upper-cased.
    public var authMechanisms: Set<String> = []

    public init() {}

    public init(ehlo reply: SMTPReply) {
        for line in reply.lines.dropFirst() {
            let words = line.split(separator: " ")
            guard let keyword = words.first?.uppercased() else { continue }
            switch keyword {
            case "PIPELINING": pipelining = true
            case "STARTTLS": startTLS = true
            case "8BITMIME": eightBitMIME = true
            case "SMTPUTF8": smtpUTF8 = true
            case "ENHANCEDSTATUSCODES": enhancedStatusCodes = true
            case "SIZE": sizeLimit = words.count > 1 ? Int(words[1]) ?? 0 : 0
            case "AUTH": authMechanisms.formUnion(words.dropFirst().map { $0.uppercased() })
            default: continue
            }
        }
    }

    /// Whether a message of `size` bytes may be offered at all (refuse before MAIL FROM).
    public func accepts(size: Int) -> Bool {
        guard let sizeLimit, sizeLimit > 0 else { return true }
        return size <= sizeLimit
    }
}
