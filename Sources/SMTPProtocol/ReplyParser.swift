import NIOCore

/// Reads replies off the server's byte stream. Like NIO's decoders: `nil` means "need more bytes"
/// and leaves the buffer as it was; a throw means the stream is corrupt.
public struct ReplyParser: Sendable {
    /// RFC 5321 §4.5.3.1.5 allows 512 bytes a reply line; real servers send longer text, so allow
    /// some slack while still bounding what a hostile server can make us hold.
    public var maximumLineLength: Int
    public var maximumLines: Int

    public init(maximumLineLength: Int = 4096, maximumLines: Int = 256) {
        self.maximumLineLength = maximumLineLength
        self.maximumLines = maximumLines
    }

    public func parse(_ buffer: inout ByteBuffer) throws -> SMTPReply? {
        var cursor = buffer
        var code: Int?
        var lines: [String] = []
        var enhanced: EnhancedStatusCode?
        while true {
            guard let line = try readLine(&cursor) else { return nil }
            guard line.count >= 3, line.prefix(3).allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  line.count == 3 || line[3] == 0x20 || line[3] == 0x2D else {
                throw SMTPParseError.malformedLine(String(decoding: line, as: UTF8.self))
            }
            let lineCode = Int(String(decoding: line.prefix(3), as: UTF8.self))!
            guard (200..<600).contains(lineCode) else {
                throw SMTPParseError.malformedLine(String(decoding: line, as: UTF8.self))
            }
            if let code, code != lineCode { throw SMTPParseError.inconsistentCode(expected: code, got: lineCode) }
            code = lineCode
            var text = Substring(String(decoding: line.dropFirst(4), as: UTF8.self))
            // Each line repeats the enhanced code; keep it once, and only if it agrees with the class.
            if let space = text.firstIndex(of: " ") ?? (text.isEmpty ? nil : text.endIndex),
               let parsed = EnhancedStatusCode(text[..<space]), parsed.statusClass == lineCode / 100 {
                if enhanced == nil { enhanced = parsed }
                text = text[space...].drop(while: { $0 == " " })
            }
            lines.append(String(text))
            guard lines.count <= maximumLines else { throw SMTPParseError.tooManyLines(limit: maximumLines) }
            if line.count == 3 || line[3] == 0x20 { break }
        }
        buffer = cursor
        return SMTPReply(code: code!, enhancedCode: enhanced, lines: lines)
    }

    /// One line without its CRLF (a bare LF is accepted: some servers send it), or nil if incomplete.
    private func readLine(_ cursor: inout ByteBuffer) throws -> [UInt8]? {
        let view = cursor.readableBytesView
        guard let lf = view.firstIndex(of: 0x0A) else {
            if view.count > maximumLineLength { throw SMTPParseError.lineTooLong(limit: maximumLineLength) }
            return nil
        }
        var end = lf
        if end > view.startIndex, view[end - 1] == 0x0D { end -= 1 }
        guard end - view.startIndex <= maximumLineLength else { throw SMTPParseError.lineTooLong(limit: maximumLineLength) }
        let line = Array(view[view.startIndex..<end])
        cursor.moveReaderIndex(forwardBy: lf - view.startIndex + 1)
        return line
    }
}
