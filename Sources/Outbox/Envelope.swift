import MessageHeaders

/// Who a message goes from and to on the wire (MAIL FROM, RCPT TO), which is not always what its
/// header says: Bcc recipients are in the envelope only, and `syncd-sendmail -f` or recipients
/// given as arguments override the header.
public struct Envelope: Sendable, Hashable, Codable {
    /// MAIL FROM's address; empty for the null sender (`<>`).
    public var from: String
    /// RCPT TO's addresses, each once, in order.
    public var recipients: [String]

    public init(from: String, recipients: [String]) {
        self.from = from
        self.recipients = Self.unique(recipients)
    }

    /// The header fields `syncd-sendmail` writes at the top of a message when the envelope came
    /// from its arguments; the outbox reads and removes them when preparing the message.
    public static let fromField = "X-Syncd-Envelope-From"
    /// See ``fromField``.
    public static let toField = "X-Syncd-Envelope-To"

    /// The fields for ``fromField`` and ``toField``, each ending in LF (a Maildir's line end).
    public var headerFields: String {
        "\(Self.fromField): <\(from)>\n\(Self.toField): \(recipients.joined(separator: ", "))\n"
    }

    /// The envelope a header implies: From's first address; To, Cc and Bcc.
    static func implied(by head: MessageHead) -> Envelope {
        let from = head.value("from").flatMap { AddressList.addresses($0).first } ?? ""
        let recipients = ["to", "cc", "bcc"].flatMap { head.values($0) }.flatMap(AddressList.addresses)
        return Envelope(from: from, recipients: recipients)
    }

    /// Each address once, the first spelling kept (compared ignoring case).
    static func unique(_ addresses: [String]) -> [String] {
        var seen = Set<String>()
        return addresses.filter { seen.insert($0.lowercased()).inserted }
    }
}
