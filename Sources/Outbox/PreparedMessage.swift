#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Maildir
import MessageHeaders

/// What goes on the wire, made from a queued file: the header without Bcc and syncd's envelope
/// fields, with a Message-ID and a Date if it had none; the envelope apart.
struct PreparedMessage {
    /// The fields removed wherever they are (lower case): never sent.
    static let removed: Set<String> = ["bcc", "x-syncd-envelope-from", "x-syncd-envelope-to", OutboxMessage.errorFieldName]

    var header: [UInt8]
    var bodyOffset: Int
    var envelope: Envelope
    /// The envelope's sender came from syncd-sendmail (`-f`), so an empty one means `<>`.
    var senderGiven: Bool
    var messageID: String
    var subject: String

    /// - Throws: ``OutboxError`` when the file cannot be read or has no end to its header.
    init(path: String, now: Date = Date()) throws {
        let head = try MessageHead(path: path)
        // The envelope fields count only at the very top, where syncd-sendmail puts them.
        var leading = head.fields.prefix { $0.name.hasPrefix("x-syncd-envelope-") }
        var explicitFrom: String?, explicitTo: [String]?
        while let field = leading.popFirst() {
            let value = MessageHead.value(field)
            if field.name == "x-syncd-envelope-from" { explicitFrom = AddressList.addresses(value).first ?? "" }
            if field.name == "x-syncd-envelope-to" { explicitTo = (explicitTo ?? []) + AddressList.addresses(value) }
        }
        let implied = Envelope.implied(by: head)
        envelope = Envelope(from: explicitFrom ?? implied.from, recipients: explicitTo ?? implied.recipients)
        senderGiven = explicitFrom != nil
        var kept = head.fields.filter { !Self.removed.contains($0.name) }
        let lineEnd = head.lineEnd
        if let existing = head.value("message-id"), !existing.isEmpty {
            messageID = existing
        } else {
            messageID = Self.newMessageID(domain: envelope.from)
            kept.append(.init(name: "message-id", raw: Array("Message-ID: \(messageID)".utf8) + lineEnd))
        }
        if head.value("date") == nil {
            kept.append(.init(name: "date", raw: Array("Date: \(Self.rfc5322Date(now))".utf8) + lineEnd))
        }
        header = kept.flatMap(\.raw)
        bodyOffset = head.bodyOffset
        subject = head.value("subject").map(MessageHeaders.decodeEncodedWords) ?? ""
    }

    /// Writes the prepared message (header, then the source's body from its offset) to `fd`.
    func write(from source: String, to fd: Int32, path: String) throws {
        try header.withUnsafeBytes { try DurableFiles.write(fd, $0, path: path) }
        try copyFile(source, offset: bodyOffset, to: fd, path: path)
    }

    /// `<1733150000123.8f3a9c01d2e4b5a6@example.org>`: the sender's domain, else this host's name.
    static func newMessageID(domain from: String) -> String {
        var domain = from.split(separator: "@").last.map(String.init) ?? ""
        if !from.contains("@") || domain.isEmpty {
            var buffer = [CChar](repeating: 0, count: 256)
            domain = gethostname(&buffer, buffer.count - 1) == 0
                ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "localhost"
        }
        let millis = UInt64(Date().timeIntervalSince1970 * 1000)
        let random = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        return "<\(millis).\(random)@\(domain)>"
    }

    /// `Wed, 02 Dec 2026 18:33:52 +0100`, in the local time zone.
    static func rfc5322Date(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970)
        var local = tm()
        localtime_r(&seconds, &local)
        var buffer = [CChar](repeating: 0, count: 64)
        // strftime's %a and %b are English in the C locale, which a Swift program runs in.
        let count = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S %z", &local)
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
