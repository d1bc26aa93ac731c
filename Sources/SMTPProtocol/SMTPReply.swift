/// One SMTP reply (RFC 5321 §4.2): a three-digit code and its text lines, with the RFC 3463
/// enhanced status code when the server sent one (ENHANCEDSTATUSCODES).
public struct SMTPReply: Sendable, Hashable {
    public var code: Int
    public var enhancedCode: EnhancedStatusCode?
    /// The text of each line, without the code, the separator or the enhanced code.
    public var lines: [String]

    public init(code: Int, enhancedCode: EnhancedStatusCode? = nil, lines: [String]) {
        self.code = code
        self.enhancedCode = enhancedCode
        self.lines = lines
    }

    public var isPositiveCompletion: Bool { (200..<300).contains(code) }
    public var isPositiveIntermediate: Bool { (300..<400).contains(code) }
    /// 4xx: the server may accept the same thing later (greylisting, rate limits): keep it queued.
    public var isTransientFailure: Bool { (400..<500).contains(code) }
    /// 5xx: retrying the same thing will fail again.
    public var isPermanentFailure: Bool { (500..<600).contains(code) }

    /// The reply as a human reads it in an Error or a header: "550 5.1.1 No such user here".
    public var summary: String {
        var text = String(code)
        if let enhancedCode { text += " " + enhancedCode.description }
        let joined = lines.joined(separator: " ")
        if !joined.isEmpty { text += " " + joined }
        return text
    }
}

/// RFC 3463 class.subject.detail, e.g. 5.1.1.
public struct EnhancedStatusCode: Sendable, Hashable, CustomStringConvertible {
    public var statusClass: Int
    public var subject: Int
    public var detail: Int

    public init(statusClass: Int, subject: Int, detail: Int) {
        self.statusClass = statusClass
        self.subject = subject
        self.detail = detail
    }

    /// Parses "5.1.1"; nil for anything else (the text is then plain reply text).
    public init?(_ text: Substring) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3,
              let first = parts[0].first, ["2", "4", "5"].contains(first), parts[0].count == 1,
              parts[1].count <= 3, parts[2].count <= 3,
              let c = Int(parts[0]), let s = Int(parts[1]), let d = Int(parts[2]) else { return nil }
        self.init(statusClass: c, subject: s, detail: d)
    }

    public var description: String { "\(statusClass).\(subject).\(detail)" }
}
