/// Who a message is from and to as the SMTP transaction says it (RFC 5321 §2.3.1), which may
/// differ from its headers (Bcc recipients are only here).
public struct SMTPEnvelope: Sendable, Hashable {
    /// The reverse-path; empty for the null sender of a bounce.
    public var from: String
    public var recipients: [String]

    public init(from: String, recipients: [String]) {
        self.from = from
        self.recipients = recipients
    }

    /// RFC 6531: an address with non-ASCII characters may only be sent with SMTPUTF8.
    var needsSMTPUTF8: Bool {
        ([from] + recipients).contains { !$0.utf8.allSatisfy { $0 < 0x80 } }
    }
}
