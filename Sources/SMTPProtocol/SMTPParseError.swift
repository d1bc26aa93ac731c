/// Why bytes from the server are not an SMTP reply. The connection cannot recover from any of them.
public enum SMTPParseError: Error, Sendable, Hashable, CustomStringConvertible {
    case malformedLine(String)
    case lineTooLong(limit: Int)
    case tooManyLines(limit: Int)
    /// A continuation line whose code differs from the first line's (RFC 5321 §4.2.1 forbids it).
    case inconsistentCode(expected: Int, got: Int)

    public var description: String {
        switch self {
        case .malformedLine(let line): "malformed SMTP reply line: \(line.debugDescription)"
        case .lineTooLong(let limit): "SMTP reply line longer than \(limit) bytes"
        case .tooManyLines(let limit): "SMTP reply of more than \(limit) lines"
        case .inconsistentCode(let expected, let got): "SMTP reply continues with code \(got) after \(expected)"
        }
    }
}
