import NIOCore

/// The client's commands (RFC 5321 §4.1, RFC 4954 AUTH, RFC 3207 STARTTLS). Arguments are checked
/// on encoding, so a CR or LF in an address can never inject a second command.
public enum SMTPCommand: Sendable, Hashable {
    case ehlo(domain: String)
    case helo(domain: String)
    case startTLS
    /// AUTH with an initial response (RFC 4954 §4); the response bytes are base64-encoded here.
    case auth(mechanism: String, initialResponse: [UInt8]?)
    /// A line answering a 334 challenge, already the raw bytes to base64-encode.
    case authResponse([UInt8])
    case mailFrom(address: String, parameters: MailParameters)
    case rcptTo(address: String)
    case data
    case rset
    case noop
    case quit
}

/// ESMTP parameters of MAIL FROM, sent only when the server offered them.
public struct MailParameters: Sendable, Hashable {
    public var size: Int?
    public var eightBitMIME = false
    public var smtpUTF8 = false

    public init(size: Int? = nil, eightBitMIME: Bool = false, smtpUTF8: Bool = false) {
        self.size = size
        self.eightBitMIME = eightBitMIME
        self.smtpUTF8 = smtpUTF8
    }
}

public enum SMTPCommandError: Error, Sendable, Hashable, CustomStringConvertible {
    case invalidArgument(String)

    public var description: String {
        switch self { case .invalidArgument(let value): "not allowed in an SMTP command: \(value.debugDescription)" }
    }
}

extension SMTPCommand {
    /// Whether the encoded bytes carry a secret (keep them out of logs).
    public var containsCredentials: Bool {
        switch self {
        case .auth, .authResponse: true
        default: false
        }
    }

    public func encode(into buffer: inout ByteBuffer) throws {
        buffer.writeString(try line())
        buffer.writeString("\r\n")
    }

    func line() throws -> String {
        switch self {
        case .ehlo(let domain): return "EHLO " + (try Self.word(domain))
        case .helo(let domain): return "HELO " + (try Self.word(domain))
        case .startTLS: return "STARTTLS"
        case .auth(let mechanism, let initial):
            var line = "AUTH " + (try Self.word(mechanism)).uppercased()
            // RFC 4954 §4: "=" stands for an empty initial response.
            if let initial { line += " " + (initial.isEmpty ? "=" : Base64.encode(initial)) }
            return line
        case .authResponse(let bytes): return Base64.encode(bytes)
        case .mailFrom(let address, let parameters):
            var line = "MAIL FROM:<" + (try Self.path(address)) + ">"
            if let size = parameters.size { line += " SIZE=\(size)" }
            if parameters.eightBitMIME { line += " BODY=8BITMIME" }
            if parameters.smtpUTF8 { line += " SMTPUTF8" }
            return line
        case .rcptTo(let address):
            guard !address.isEmpty else { throw SMTPCommandError.invalidArgument(address) }
            return "RCPT TO:<" + (try Self.path(address)) + ">"
        case .data: return "DATA"
        case .rset: return "RSET"
        case .noop: return "NOOP"
        case .quit: return "QUIT"
        }
    }

    private static func word(_ value: String) throws -> String {
        guard !value.isEmpty, value.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else {
            throw SMTPCommandError.invalidArgument(value)
        }
        return value
    }

    /// A reverse- or forward-path's mailbox: no controls, spaces or angle brackets. Empty is the
    /// null reverse-path (bounces).
    private static func path(_ value: String) throws -> String {
        guard value.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F && $0 != 0x3C && $0 != 0x3E }) else {
            throw SMTPCommandError.invalidArgument(value)
        }
        return value
    }
}
