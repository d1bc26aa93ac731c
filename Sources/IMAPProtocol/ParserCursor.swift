import NIOCore

/// Reads IMAP tokens (RFC 3501 §4, §9) from a copy of the caller's buffer.
///
/// Every read either succeeds, or throws ``Signal/incomplete`` when the bytes end before the token
/// does (the caller then drops the copy, so the real buffer is untouched), or throws
/// ``Signal/failed(_:)`` for corrupt input. A token is only accepted once the byte after it has
/// arrived, so the result never depends on how the input was split.
///
/// The cursor also enforces the line limit: it knows where the current line began (`lineStart`,
/// plus `lineOffset` bytes consumed by earlier events) and fails when a read would look at a byte
/// past `maxLineLength` bytes into the line (that is, the LF is not among the first
/// `maxLineLength + 1` bytes). The failure depends on positions only, not on how many bytes have
/// arrived, so it happens at the same point, after the same events, however the input is split.
/// Literal data does not count.
struct ParserCursor {
    enum Signal: Error {
        /// More bytes are needed.
        case incomplete
        /// The input is corrupt.
        case failed(IMAPParseError)
    }

    private(set) var buffer: ByteBuffer
    let limits: ResponseParser.Limits
    private var lineStart: Int
    private var lineOffset: Int

    init(_ buffer: ByteBuffer, limits: ResponseParser.Limits, lineBytesConsumed: Int) {
        self.buffer = buffer
        self.limits = limits
        lineStart = buffer.readerIndex
        lineOffset = lineBytesConsumed
    }

    /// Bytes of the current line consumed so far, for the next cursor of a streamed response.
    var lineBytesConsumed: Int { lineOffset + buffer.readerIndex - lineStart }

    var readerIndex: Int { buffer.readerIndex }

    // MARK: - Failures

    /// The index of the last byte the current line may occupy (its LF at the latest).
    private var lastLineIndex: Int { lineStart - lineOffset + limits.maxLineLength }

    private var lineTooLong: Signal {
        .failed(IMAPParseError(.lineTooLong, "a line exceeds \(limits.maxLineLength) bytes"))
    }

    /// The end of the bytes a scan of the current line may look at.
    private func scanEnd() -> Int { Swift.min(buffer.writerIndex, lastLineIndex + 1) }

    /// The signal for a scan that found nothing before `scanEnd()`: the line is too long when the
    /// scan stopped at the limit, else more bytes are needed.
    private func scanExhausted() -> Signal {
        buffer.writerIndex > lastLineIndex ? lineTooLong : .incomplete
    }

    static func syntax(_ detail: String) -> Signal { .failed(IMAPParseError(.syntax, detail)) }

    func unexpected(_ byte: UInt8, expected: String) -> Signal {
        Self.syntax("expected \(expected), found \(ASCII.describe(byte))")
    }

    // MARK: - Bytes

    func peek() throws(Signal) -> UInt8 {
        try peek(offset: 0)
    }

    func peek(offset: Int) throws(Signal) -> UInt8 {
        let index = buffer.readerIndex + offset
        guard index <= lastLineIndex else { throw lineTooLong }
        guard let byte = buffer.getInteger(at: index, as: UInt8.self) else { throw .incomplete }
        return byte
    }

    mutating func skip(_ count: Int = 1) { buffer.moveReaderIndex(forwardBy: count) }

    mutating func expect(_ byte: UInt8, _ expected: String) throws(Signal) {
        let found = try peek()
        guard found == byte else { throw unexpected(found, expected: expected) }
        skip()
    }

    mutating func expectSpace(_ context: String) throws(Signal) {
        try expect(ASCII.space, "SP \(context)")
    }

    /// Whether the next byte ends the line (CR or LF).
    func atLineEnd() throws(Signal) -> Bool {
        let byte = try peek()
        return byte == ASCII.cr || byte == ASCII.lf
    }

    /// Consumes CRLF, or a bare LF (tolerated), and starts a new line.
    mutating func expectLineEnd(_ context: String) throws(Signal) {
        let byte = try peek()
        if byte == ASCII.cr {
            let next = try peek(offset: 1)
            guard next == ASCII.lf else { throw unexpected(next, expected: "LF after CR") }
            skip()
        } else if byte != ASCII.lf {
            throw unexpected(byte, expected: "end of line \(context)")
        }
        consumeLF()
    }

    /// Consumes the LF at the reader index (found within the line limit) and starts a new line.
    private mutating func consumeLF() {
        skip()
        startLine()
    }

    private mutating func startLine() {
        lineStart = buffer.readerIndex
        lineOffset = 0
    }

    /// Reads the run of bytes matching `predicate`; the byte after it must have arrived.
    mutating func readRun(_ predicate: (UInt8) -> Bool) throws(Signal) -> ByteBuffer {
        let view = buffer.readableBytesView
        let window = view[view.startIndex..<Swift.max(view.startIndex, scanEnd())]
        guard let end = window.firstIndex(where: { !predicate($0) }) else { throw scanExhausted() }
        return buffer.readSlice(length: end - view.startIndex)!
    }

    // MARK: - Tokens

    /// A non-empty atom.
    mutating func readAtom(_ what: String) throws(Signal) -> String {
        let run = try readRun(ASCII.isAtomChar)
        guard run.readableBytes > 0 else { throw unexpected(try peek(), expected: what) }
        return String(decoding: run.readableBytesView, as: UTF8.self)
    }

    /// A non-empty atom, upper-cased: keywords are case-insensitive.
    mutating func readKeyword(_ what: String) throws(Signal) -> String {
        let run = try readRun(ASCII.isAtomChar)
        guard run.readableBytes > 0 else { throw unexpected(try peek(), expected: what) }
        return String(decoding: run.readableBytesView.map(ASCII.uppercase), as: UTF8.self)
    }

    /// `number`: 1*DIGIT, at most `UInt64.max`.
    mutating func readNumber(_ what: String) throws(Signal) -> UInt64 {
        let run = try readRun(ASCII.isDigit)
        guard run.readableBytes > 0 else { throw unexpected(try peek(), expected: what) }
        var value: UInt64 = 0
        for byte in run.readableBytesView {
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(UInt64(byte - ASCII.zero))
            guard !o1, !o2 else { throw .failed(IMAPParseError(.invalidNumber, "\(what) overflows")) }
            value = sum
        }
        return value
    }

    /// A 32-bit `number` or, with `nonZero`, `nz-number`.
    mutating func readUInt32(_ what: String, nonZero: Bool = false) throws(Signal) -> UInt32 {
        let value = try readNumber(what)
        guard let narrow = UInt32(exactly: value) else {
            throw .failed(IMAPParseError(.invalidNumber, "\(what) \(value) exceeds 32 bits"))
        }
        guard !nonZero || narrow > 0 else { throw .failed(IMAPParseError(.invalidNumber, "\(what) is 0")) }
        return narrow
    }

    /// A quoted string, unescaped. Only `\"` and `\\` are valid escapes; CR and LF are not allowed.
    mutating func readQuoted() throws(Signal) -> [UInt8] {
        try expect(ASCII.quote, "'\"'")
        var bytes: [UInt8] = []
        while true {
            let byte = try peek()
            switch byte {
            case ASCII.quote:
                skip()
                return bytes
            case ASCII.backslash:
                let escaped = try peek(offset: 1)
                guard escaped == ASCII.quote || escaped == ASCII.backslash else {
                    throw unexpected(escaped, expected: "'\"' or '\\' after '\\' in a quoted string")
                }
                bytes.append(escaped)
                skip(2)
            case ASCII.cr, ASCII.lf:
                throw Self.syntax("line ends inside a quoted string")
            default:
                bytes.append(byte)
                skip()
            }
        }
    }

    /// Whether a literal (`{`, or `~{` for literal8) starts here.
    func atLiteral() throws(Signal) -> Bool {
        let byte = try peek()
        if byte == ASCII.leftBrace { return true }
        guard byte == ASCII.tilde else { return false }
        return try peek(offset: 1) == ASCII.leftBrace
    }

    /// `{n}`, `{n+}` or `~{n}` and its line end; returns n. Fails as soon as the digits read so
    /// far exceed `limit`, without waiting for the rest of the header or for the data.
    mutating func readLiteralHeader(limit: Int, what: String) throws(Signal) -> Int {
        if try peek() == ASCII.tilde { skip() }
        try expect(ASCII.leftBrace, "'{'")
        var value = 0
        var digits = 0
        while case let byte = try peek(), ASCII.isDigit(byte) {
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(Int(byte - ASCII.zero))
            guard !o1, !o2, sum <= limit else {
                throw .failed(IMAPParseError(.literalTooLarge, "\(what) literal exceeds \(limit) bytes"))
            }
            value = sum
            digits += 1
            skip()
        }
        guard digits > 0 else { throw unexpected(try peek(), expected: "literal length") }
        if try peek() == ASCII.plus { skip() }
        try expect(ASCII.rightBrace, "'}'")
        try expectLineEnd("after a literal length")
        return value
    }

    /// The `count` bytes of literal data; the line continues after them.
    mutating func readLiteralData(_ count: Int) throws(Signal) -> ByteBuffer {
        // Not checked against the line limit: literal data does not count.
        guard let data = buffer.readSlice(length: count) else { throw .incomplete }
        startLine()
        return data
    }

    /// `string`: quoted or literal (at most the string literal limit).
    mutating func readString(_ what: String) throws(Signal) -> [UInt8] {
        if try atLiteral() {
            let count = try readLiteralHeader(limit: limits.maxStringLiteralSize, what: what)
            return Array(try readLiteralData(count).readableBytesView)
        }
        let byte = try peek()
        guard byte == ASCII.quote else { throw unexpected(byte, expected: what) }
        return try readQuoted()
    }

    /// `astring`: ASTRING-CHARs, or a string.
    mutating func readAString(_ what: String) throws(Signal) -> [UInt8] {
        let byte = try peek()
        if byte == ASCII.quote { return try readString(what) }
        if try atLiteral() { return try readString(what) }
        let run = try readRun(ASCII.isAStringChar)
        guard run.readableBytes > 0 else { throw unexpected(byte, expected: what) }
        return Array(run.readableBytesView)
    }

    /// `NIL` (case-insensitive); the byte after it must not continue an atom.
    mutating func readNil(_ what: String) throws(Signal) {
        let word = try readKeyword(what)
        guard word == "NIL" else { throw Self.syntax("expected \(what), found '\(word)'") }
    }

    /// Whether the next token starts with `N`/`n`, which can only be NIL where a string or NIL is
    /// expected.
    func atNil() throws(Signal) -> Bool {
        let byte = try peek()
        return byte == 0x4E || byte == 0x6E
    }

    /// The rest of the line as text (UTF-8, lossily), consuming the line end.
    mutating func readText() throws(Signal) -> String {
        let view = buffer.readableBytesView
        let window = view[view.startIndex..<Swift.max(view.startIndex, scanEnd())]
        guard let lf = window.firstIndex(of: ASCII.lf) else { throw scanExhausted() }
        var end = lf
        if end > view.startIndex && view[end - 1] == ASCII.cr { end -= 1 }
        let bytes = view[view.startIndex..<end]
        if bytes.contains(ASCII.cr) { throw Self.syntax("CR not followed by LF in text") }
        let text = String(decoding: bytes, as: UTF8.self)
        buffer.moveReaderIndex(to: lf)
        consumeLF()
        return text
    }

    /// A byte that may appear in a flag or mailbox attribute as servers send them: anything
    /// printable except the delimiters `( ) ] { "` (more lenient than `atom`, so `\*` and odd
    /// keywords pass).
    static func isFlagChar(_ byte: UInt8) -> Bool {
        guard byte > ASCII.space && byte != 0x7F else { return false }
        switch byte {
        case ASCII.leftParen, ASCII.rightParen, ASCII.rightBracket, ASCII.leftBrace, ASCII.quote: return false
        default: return true
        }
    }

    /// `( element *(SP element) )`, possibly empty, extra spaces tolerated: expects the `(`
    /// (`opening` says what was expected if it is missing), then calls `element` with the cursor on
    /// each element's first byte until the `)`, which it consumes.
    mutating func readList(opening: String, element: (inout ParserCursor) throws(Signal) -> Void) throws(Signal) {
        try expect(ASCII.leftParen, opening)
        while true {
            let byte = try peek()
            if byte == ASCII.rightParen {
                skip()
                return
            }
            if byte == ASCII.space {
                skip()
                continue
            }
            try element(&self)
        }
    }

    /// `( flag *(SP flag) )`, possibly empty; extra spaces are tolerated.
    mutating func readFlagTokens(_ what: String) throws(Signal) -> [String] {
        var tokens: [String] = []
        try readList(opening: "'(' to open \(what)") { cursor throws(Signal) in
            let byte = try cursor.peek()
            let run = try cursor.readRun(Self.isFlagChar)
            guard run.readableBytes > 0 else { throw cursor.unexpected(byte, expected: "a flag in \(what)") }
            tokens.append(String(decoding: run.readableBytesView, as: UTF8.self))
        }
        return tokens
    }

    mutating func readFlags() throws(Signal) -> [Flag] {
        try readFlagTokens("flag list").map(Flag.init(unchecked:))
    }

    /// A `sequence-set` (`1:5,7,9:*`).
    mutating func readSequenceSet(_ what: String) throws(Signal) -> UIDSet {
        let run = try readRun { ASCII.isDigit($0) || $0 == ASCII.colon || $0 == ASCII.comma || $0 == ASCII.star }
        guard run.readableBytes > 0 else { throw unexpected(try peek(), expected: what) }
        do {
            return try UIDSet(parsing: Array(run.readableBytesView))
        } catch {
            throw .failed(error)
        }
    }

    // MARK: - Skipping

    /// Skips one value of any shape: an atom or number, a quoted string, a literal (at most the
    /// string literal limit), or a parenthesised list of these, nested to any depth (iteratively,
    /// so a hostile nesting cannot exhaust the stack).
    mutating func skipValue() throws(Signal) {
        var depth = 0
        repeat {
            let byte = try peek()
            switch byte {
            case ASCII.leftParen:
                skip()
                depth += 1
            case ASCII.rightParen:
                guard depth > 0 else { throw unexpected(byte, expected: "a value") }
                skip()
                depth -= 1
            case ASCII.space:
                guard depth > 0 else { throw unexpected(byte, expected: "a value") }
                skip()
            case ASCII.quote:
                _ = try readQuoted()
            case ASCII.cr, ASCII.lf:
                throw Self.syntax(depth > 0 ? "line ends inside a parenthesised list" : "expected a value, found end of line")
            default:
                if try atLiteral() {
                    let count = try readLiteralHeader(limit: limits.maxStringLiteralSize, what: "string")
                    _ = try readLiteralData(count)
                } else {
                    _ = try readRun {
                        $0 != ASCII.space && $0 != ASCII.leftParen && $0 != ASCII.rightParen && $0 != ASCII.quote
                            && $0 != ASCII.cr && $0 != ASCII.lf
                    }
                }
            }
        } while depth > 0
    }

    /// Skips everything up to and including the end of the response: text, quoted strings and
    /// literals (each at most the string literal limit). Used for responses this parser does not
    /// know; lenient about their grammar, strict about the limits.
    mutating func skipRestOfResponse() throws(Signal) {
        while true {
            let view = buffer.readableBytesView
            let window = view[view.startIndex..<Swift.max(view.startIndex, scanEnd())]
            guard let index = window.firstIndex(where: { $0 == ASCII.lf || $0 == ASCII.quote || $0 == ASCII.leftBrace })
            else { throw scanExhausted() }
            buffer.moveReaderIndex(to: index)
            switch view[index] {
            case ASCII.lf:
                consumeLF()
                return
            case ASCII.quote:
                try skipQuotedLeniently()
            default:
                if let count = try literalHeaderLength() {
                    _ = try readLiteralData(count)
                } else {
                    skip()
                }
            }
        }
    }

    /// Skips a quoted string, or stops before the LF if the line ends first (free text may hold a
    /// lone `"`).
    private mutating func skipQuotedLeniently() throws(Signal) {
        skip()
        while true {
            let byte = try peek()
            switch byte {
            case ASCII.quote:
                skip()
                return
            case ASCII.lf:
                return
            case ASCII.backslash:
                if try peek(offset: 1) == ASCII.lf {
                    skip()
                } else {
                    skip(2)
                }
            default:
                skip()
            }
        }
    }

    /// At a `{`: if a literal header `{n}`/`{n+}` followed by a line end starts here, consumes it
    /// and returns n; otherwise consumes nothing and returns nil.
    private mutating func literalHeaderLength() throws(Signal) -> Int? {
        var offset = 1
        var value = 0
        var tooLarge = false
        while case let byte = try peek(offset: offset), ASCII.isDigit(byte) {
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(Int(byte - ASCII.zero))
            if o1 || o2 || sum > limits.maxStringLiteralSize { tooLarge = true } else { value = sum }
            offset += 1
        }
        guard offset > 1 else { return nil }
        if try peek(offset: offset) == ASCII.plus { offset += 1 }
        guard try peek(offset: offset) == ASCII.rightBrace else { return nil }
        offset += 1
        var end = try peek(offset: offset)
        if end == ASCII.cr {
            offset += 1
            end = try peek(offset: offset)
        }
        guard end == ASCII.lf else { return nil }
        guard !tooLarge else {
            throw .failed(IMAPParseError(.literalTooLarge, "literal exceeds \(limits.maxStringLiteralSize) bytes"))
        }
        skip(offset)
        consumeLF()
        return value
    }
}
