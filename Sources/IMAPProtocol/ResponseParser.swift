import NIOCore

/// A streaming parser for the server side of an IMAP4rev1 connection (RFC 3501 §7, with RFC 7162
/// CONDSTORE/QRESYNC, RFC 5161 ENABLE, RFC 4731 ESEARCH, RFC 4315 UIDPLUS codes).
///
/// Feed it the bytes as they arrive and call ``next(_:)`` until it returns nil:
///
///     buffer.writeBytes(received)
///     while let event = try parser.next(&buffer) { handle(event) }
///
/// Contract:
/// - Events come out the same whatever way the input is split (one byte at a time or all at once),
///   except that a body may come in more, smaller ``ResponseEvent/bodyChunk(_:)``s.
/// - `nil` means more bytes are needed; the buffer is then exactly as it was. Otherwise the
///   returned event's bytes have been consumed from the buffer.
/// - A body literal is never buffered: its bytes are handed out as slices of the caller's buffer
///   as soon as they are present. Everything else (one response without a body, or one FETCH
///   attribute) is parsed when complete, so it must fit the ``Limits``; the caller's buffer
///   holds at most one such unit plus what the peer sent ahead.
/// - Any corruption throws ``IMAPParseError``; the parser is then failed for good and throws
///   the same error on every later call. Close the connection.
/// - Limits are checked by position, so a violation fails at the same point, after the same
///   events, however the input is split; a literal's length is checked before its data is awaited.
/// - Lines end in CRLF; a bare LF is tolerated (a CR not followed by LF is an error).
/// - Keywords, response codes and attribute names are case-insensitive.
/// - Untagged responses it does not know are skipped whole (their literals included, up to the
///   string limit) and reported as ``ResponseEvent/unknown(_:)``. FETCH attributes it does not
///   know (ENVELOPE, BODYSTRUCTURE, `BINARY[...]`, extensions) arrive raw as
///   ``FetchAttribute/other(name:value:)``; only `BODY[...]`, `BODY.PEEK[...]` and the `RFC822`
///   forms are streamed, so do not FETCH `BINARY[...]` for large parts.
public struct ResponseParser: Sendable {
    /// Hard bounds on what the server can make the client hold.
    public struct Limits: Hashable, Sendable {
        /// The longest line, counting the bytes before its LF (literal data not included).
        public var maxLineLength: Int
        /// The largest literal outside a body: mailbox names, ENVELOPE strings, unknown responses.
        public var maxStringLiteralSize: Int
        /// The largest body literal (`BODY[...]`, `RFC822...`); bodies are streamed, so this only
        /// guards against absurd announcements.
        public var maxBodySize: Int

        /// - Parameters:
        ///   - maxLineLength: default 1 MiB.
        ///   - maxStringLiteralSize: default 64 KiB.
        ///   - maxBodySize: default 1 GiB.
        public init(maxLineLength: Int = 1 << 20, maxStringLiteralSize: Int = 64 << 10, maxBodySize: Int = 1 << 30) {
            self.maxLineLength = maxLineLength
            self.maxStringLiteralSize = maxStringLiteralSize
            self.maxBodySize = maxBodySize
        }
    }

    private enum State: Sendable {
        case responseStart
        case fetchAttributes(first: Bool)
        case bodyData(remaining: Int)
        case failed(IMAPParseError)
    }

    /// The limits this parser enforces.
    public let limits: Limits
    private var state = State.responseStart
    /// Bytes of the current line consumed by earlier events (inside a FETCH response).
    private var lineBytesConsumed = 0
    /// Events already parsed, for a body sent inline: its chunk and its end.
    private var pending: [ResponseEvent] = []

    /// A parser at the start of a connection (expecting the greeting, or any response).
    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Whether the parser is between responses: not inside a FETCH response or a body. A caller
    /// switching the transport (STARTTLS, COMPRESS) does it only at a boundary and with no bytes
    /// left in its buffer.
    public var isAtResponseBoundary: Bool {
        if case .responseStart = state, pending.isEmpty { return true }
        return false
    }

    /// Parses the next event from the front of `buffer`.
    ///
    /// - Returns: the event, its bytes consumed; or nil when `buffer` does not yet hold enough
    ///   bytes, in which case it is left exactly as it was.
    /// - Throws: ``IMAPParseError``: ``IMAPParseError/Code/lineTooLong`` and
    ///   ``IMAPParseError/Code/literalTooLarge`` as soon as a limit is crossed (a literal's length
    ///   is checked before any of its data is awaited); ``IMAPParseError/Code/syntax`` and
    ///   ``IMAPParseError/Code/invalidNumber`` for corrupt input. Once thrown, every later call
    ///   throws the same error.
    public mutating func next(_ buffer: inout ByteBuffer) throws(IMAPParseError) -> ResponseEvent? {
        if case .failed(let error) = state { throw error }
        if !pending.isEmpty { return pending.removeFirst() }
        switch state {
        case .bodyData(let remaining):
            if remaining == 0 {
                state = .fetchAttributes(first: false)
                return .bodyEnd
            }
            guard buffer.readableBytes > 0 else { return nil }
            let chunk = buffer.readSlice(length: min(remaining, buffer.readableBytes))!
            state = .bodyData(remaining: remaining - chunk.readableBytes)
            return .bodyChunk(chunk)
        case .responseStart, .fetchAttributes, .failed:
            var cursor = ParserCursor(buffer, limits: limits, lineBytesConsumed: lineBytesConsumed)
            let event: ResponseEvent
            do {
                event = try step(&cursor)
            } catch {
                switch error {
                case .incomplete:
                    return nil
                case .failed(let parseError):
                    state = .failed(parseError)
                    throw parseError
                }
            }
            buffer.moveReaderIndex(to: cursor.readerIndex)
            lineBytesConsumed = cursor.lineBytesConsumed
            return event
        }
    }

    /// Parses one unit from the cursor and moves to the next state; on a throw nothing changes.
    private mutating func step(_ cursor: inout ParserCursor) throws(ParserCursor.Signal) -> ResponseEvent {
        switch state {
        case .responseStart:
            switch try cursor.parseResponseStart() {
            case .event(let event):
                return event
            case .fetch(let sequenceNumber):
                state = .fetchAttributes(first: true)
                return .fetchStart(sequenceNumber)
            }
        case .fetchAttributes(let first):
            switch try cursor.parseFetchStep(first: first) {
            case .attribute(let attribute):
                state = .fetchAttributes(first: false)
                return .fetchAttribute(attribute)
            case .end:
                state = .responseStart
                return .fetchEnd
            case .bodyLiteral(let section, let origin, let size):
                state = .bodyData(remaining: size)
                return .bodyStart(section, origin: origin, size: size)
            case .bodyInline(let section, let origin, let bytes):
                state = .fetchAttributes(first: false)
                let bytes = bytes ?? []
                pending = bytes.isEmpty ? [.bodyEnd] : [.bodyChunk(ByteBuffer(bytes: bytes)), .bodyEnd]
                return .bodyStart(section, origin: origin, size: bytes.count)
            }
        case .bodyData, .failed:
            preconditionFailure("handled by next(_:)")
        }
    }
}
