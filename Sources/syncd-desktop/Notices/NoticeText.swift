import Foundation
import SyncProtocol

/// The words of syncd-desktop's notifications: plain text, short enough for a notification bubble.
enum NoticeText {
    /// "New message from Alice Example", "3 new messages from Alice and Bob",
    /// "7 new messages from Alice, Bob and others", or "3 new messages" when no sender is known.
    static func newMailSummary(count: UInt32, summaries: [NewMessages.Summary]) -> String {
        var senders: [String] = []
        for summary in summaries {
            let name = sender(summary.from)
            if !name.isEmpty, !senders.contains(name) { senders.append(name) }
        }
        let head = count == 1 ? "New message" : "\(count) new messages"
        guard !senders.isEmpty else { return head }
        // Senders of messages beyond the summaries are unknown: "and others", not a guess.
        let unknownMore = count > UInt32(summaries.count)
        switch (senders.count, unknownMore) {
        case (1, false): return "\(head) from \(senders[0])"
        case (2, false): return "\(head) from \(senders[0]) and \(senders[1])"
        case (1, true), (2, true): return "\(head) from \(senders.joined(separator: ", ")) and others"
        default: return "\(head) from \(senders[0]), \(senders[1]) and others"
        }
    }

    /// One line per summary ("Alice Example: Lunch?"), "… and 2 more", then where: "mail · INBOX".
    static func newMailBody(count: UInt32, summaries: [NewMessages.Summary], store: String, folders: [String]) -> String {
        var lines = summaries.map { summary in
            let subject = summary.subject.isEmpty ? "(no subject)" : summary.subject
            return "\(sender(summary.from)): \(subject)"
        }
        if count > UInt32(summaries.count), !summaries.isEmpty {
            lines.append("… and \(count - UInt32(summaries.count)) more")
        }
        lines.append(([store] + folders).joined(separator: " · "))
        return lines.joined(separator: "\n")
    }

    /// The run's first error in its own words, then the result: "connection refused (network
    /// error)"; the plain "failed" (a command's exit status) adds nothing to the words.
    static func failureBody(result: SyncStatus, message: String?) -> String {
        guard let message, !message.isEmpty else { return result.text }
        return result == .failed ? message : "\(message) (\(result.text))"
    }

    /// The name in `Alice Example <alice@example.org>` (quotes dropped), or the address alone.
    static func sender(_ from: String) -> String {
        let trimmed = from.trimmingCharacters(in: .whitespaces)
        guard let open = trimmed.firstIndex(of: "<") else { return trimmed }
        let name = trimmed[..<open].trimmingCharacters(in: CharacterSet(charactersIn: " \""))
        if !name.isEmpty { return name }
        let address = trimmed[trimmed.index(after: open)...]
        return String(address.hasSuffix(">") ? address.dropLast() : address)
    }

    /// Text for a server that reads bodies as markup (the "body-markup" capability): `<`, `>`
    /// and `&` escaped, so a subject like "a <b> c" shows as written.
    static func markupEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;")
            .replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}
