import NIOCore

/// Turns a ``Command`` and a tag into bytes (RFC 3501 §6, §9).
///
/// Strings are sent quoted (with `\` and `"` escaped) unless they hold 8-bit bytes, CR or LF; then
/// they become literals. Mailbox names are sent as their wire bytes (modified UTF-7, see
/// ``MailboxName``), so they are nearly always quoted. A literal is synchronizing (`{n}`, the
/// command is split there and the caller waits for `+`, see ``EncodedCommand``) unless
/// ``literalMode`` allows a non-synchronizing one (`{n+}`).
public struct CommandEncoder: Sendable {
    /// Which literals the server accepts without a continuation request (RFC 7888).
    public enum LiteralMode: Hashable, Sendable {
        /// Only `{n}`: the client waits for `+` after each literal header.
        case synchronizing
        /// LITERAL-: `{n+}` up to 4096 bytes, `{n}` above.
        case literalMinus
        /// LITERAL+: `{n+}` always.
        case literalPlus
    }

    /// Which literals may be sent without waiting for `+`.
    public var literalMode: LiteralMode
    /// Whether AUTHENTICATE may carry the initial response (RFC 4959 SASL-IR).
    public var saslInitialResponse: Bool

    /// `DONE` and CRLF: ends IDLE. It has no tag; the IDLE command's tagged OK follows.
    public static let idleDone = ByteBuffer(string: "DONE\r\n")

    /// An encoder; the defaults assume nothing of the server (safe before CAPABILITY is known).
    public init(literalMode: LiteralMode = .synchronizing, saslInitialResponse: Bool = false) {
        self.literalMode = literalMode
        self.saslInitialResponse = saslInitialResponse
    }

    /// An encoder using what the server announced: LITERAL+ or LITERAL-, and SASL-IR.
    public init(capabilities: some Sequence<Capability>) {
        let set = Set(capabilities)
        self.init(
            literalMode: set.contains(.literalPlus) ? .literalPlus : set.contains(.literalMinus) ? .literalMinus : .synchronizing,
            saslInitialResponse: set.contains(.saslIR))
    }

    /// Encodes `command` with `tag`.
    ///
    /// - Throws: ``CommandEncodingError`` when the tag or an argument cannot be expressed: see its
    ///   codes. Nothing partial is returned.
    public func encode(_ command: Command, tag: String) throws(CommandEncodingError) -> EncodedCommand {
        guard !tag.isEmpty, tag.utf8.allSatisfy(ASCII.isTagChar) else {
            throw CommandEncodingError(.invalidTag, "'\(tag)' is not a valid tag")
        }
        var writer = Writer(literalMode: literalMode)
        writer.write(tag)
        writer.write(" ")
        var credentials = false
        switch command {
        case .capability: writer.write("CAPABILITY")
        case .noop: writer.write("NOOP")
        case .logout: writer.write("LOGOUT")
        case .startTLS: writer.write("STARTTLS")
        case .idle: writer.write("IDLE")
        case .login(let username, let password):
            credentials = true
            writer.write("LOGIN ")
            try writer.string(Array(username.utf8), what: "username")
            writer.write(" ")
            try writer.string(Array(password.utf8), what: "password")
        case .authenticatePlain(let username, let password, let authorizationIdentity):
            credentials = true
            for (value, what) in [(authorizationIdentity, "authorization identity"), (username, "username"), (password, "password")]
            where value.utf8.contains(ASCII.nul) {
                throw CommandEncodingError(.unencodableString, "the \(what) contains NUL")
            }
            let message = Array(authorizationIdentity.utf8) + [0] + Array(username.utf8) + [0] + Array(password.utf8)
            writer.write("AUTHENTICATE PLAIN")
            if saslInitialResponse {
                writer.write(" ")
            } else {
                writer.endPart()
            }
            writer.write(Base64.encode(message))
        case .authenticate(let mechanism, let response):
            credentials = true
            guard !mechanism.isEmpty, ASCII.isAtom(Substring(mechanism).utf8) else {
                throw CommandEncodingError(.invalidArgument, "'\(mechanism)' is not a SASL mechanism name")
            }
            writer.write("AUTHENTICATE " + ASCII.uppercased(mechanism))
            if saslInitialResponse {
                writer.write(" ")
                writer.write(response.isEmpty ? Array("=".utf8) : Base64.encode(response))
            } else {
                writer.endPart()
                writer.write(Base64.encode(response))
            }
        case .enable(let capabilities):
            guard !capabilities.isEmpty else { throw CommandEncodingError(.invalidArgument, "ENABLE needs a capability") }
            writer.write("ENABLE")
            for capability in capabilities {
                guard ASCII.isAtom(Substring(capability.rawValue).utf8) else {
                    throw CommandEncodingError(.invalidArgument, "'\(capability)' is not an atom")
                }
                writer.write(" " + capability.rawValue)
            }
        case .list(let reference, let pattern):
            writer.write("LIST ")
            try writer.string(reference.bytes, what: "reference")
            writer.write(" ")
            try writer.string(ModifiedUTF7.encode(pattern), what: "pattern")
        case .status(let mailbox, let attributes):
            guard !attributes.isEmpty else { throw CommandEncodingError(.invalidArgument, "STATUS needs an attribute") }
            writer.write("STATUS ")
            try writer.string(mailbox.bytes, what: "mailbox name")
            writer.write(" (" + attributes.map(\.rawValue).joined(separator: " ") + ")")
        case .select(let mailbox, let parameter):
            try writer.select("SELECT", mailbox, parameter)
        case .examine(let mailbox, let parameter):
            try writer.select("EXAMINE", mailbox, parameter)
        case .create(let mailbox):
            writer.write("CREATE ")
            try writer.string(mailbox.bytes, what: "mailbox name")
        case .delete(let mailbox):
            writer.write("DELETE ")
            try writer.string(mailbox.bytes, what: "mailbox name")
        case .uidFetch(let uids, let items, let changedSince, let vanished):
            guard !items.isEmpty else { throw CommandEncodingError(.invalidArgument, "UID FETCH needs an item") }
            writer.write("UID FETCH " + (try Self.sequenceSet(uids)) + " (")
            writer.write(try items.map(Self.fetchItem).joined(separator: " "))
            writer.write(")")
            if let changedSince {
                writer.write(" (CHANGEDSINCE \(changedSince)" + (vanished ? " VANISHED)" : ")"))
            } else if vanished {
                throw CommandEncodingError(.invalidArgument, "VANISHED needs CHANGEDSINCE")
            }
        case .uidStore(let uids, let action, let flags, let silent, let unchangedSince):
            writer.write("UID STORE " + (try Self.sequenceSet(uids)) + " ")
            if let unchangedSince { writer.write("(UNCHANGEDSINCE \(unchangedSince)) ") }
            switch action {
            case .add: writer.write("+")
            case .remove: writer.write("-")
            case .replace: break
            }
            writer.write(silent ? "FLAGS.SILENT (" : "FLAGS (")
            for (index, flag) in flags.enumerated() {
                guard flag.isEncodable else { throw CommandEncodingError(.invalidFlag, "'\(flag)' cannot be stored") }
                writer.write((index > 0 ? " " : "") + flag.rawValue)
            }
            writer.write(")")
        case .uidSearch(let keys, let returning):
            writer.write("UID SEARCH ")
            if !returning.isEmpty {
                writer.write("RETURN (" + returning.map(\.rawValue).joined(separator: " ") + ") ")
            }
            writer.write(keys.isEmpty ? "ALL" : try keys.map(Self.searchKey).joined(separator: " "))
        case .uidExpunge(let uids):
            writer.write("UID EXPUNGE " + (try Self.sequenceSet(uids)))
        case .uidCopy(let uids, let mailbox):
            writer.write("UID COPY " + (try Self.sequenceSet(uids)) + " ")
            try writer.string(mailbox.bytes, what: "mailbox name")
        case .uidMove(let uids, let mailbox):
            writer.write("UID MOVE " + (try Self.sequenceSet(uids)) + " ")
            try writer.string(mailbox.bytes, what: "mailbox name")
        }
        return EncodedCommand(tag: tag, parts: writer.finish(), containsCredentials: credentials)
    }

    /// Encodes the start of `APPEND mailbox [(flags)] ["date-time"] {size}` (RFC 3501 §6.3.11)
    /// whose message the caller streams: send ``EncodedAppend/command``'s parts as for any command
    /// (waiting for `+` between them); then, if ``EncodedAppend/waitsForContinuation``, wait for
    /// `+` (a tagged NO instead means the server refused the message: send nothing more); then
    /// exactly `messageSize` bytes of message and ``EncodedAppend/end``.
    ///
    /// The literal is non-synchronizing (`{n+}`) with LITERAL+, and with LITERAL- up to 4096
    /// bytes; otherwise synchronizing. With ``CommandEncoder/LiteralMode/literalPlus`` several
    /// APPENDs can be pipelined without waiting for the server between them.
    /// - Throws: ``CommandEncodingError`` for an invalid tag, a flag that cannot be appended
    ///   (`\Recent`, `\*`), or a size of 0 (servers refuse empty messages).
    public func encodeAppend(
        to mailbox: MailboxName, flags: [Flag] = [], internalDate: InternalDate? = nil, messageSize: Int, tag: String
    ) throws(CommandEncodingError) -> EncodedAppend {
        guard !tag.isEmpty, tag.utf8.allSatisfy(ASCII.isTagChar) else {
            throw CommandEncodingError(.invalidTag, "'\(tag)' is not a valid tag")
        }
        guard messageSize > 0, messageSize <= Int(UInt32.max) else {
            throw CommandEncodingError(.invalidArgument, "an APPEND needs a message of 1 to 4294967295 bytes, not \(messageSize)")
        }
        var writer = Writer(literalMode: literalMode)
        writer.write(tag + " APPEND ")
        try writer.string(mailbox.bytes, what: "mailbox name")
        let nonSynchronizing = try Self.appendMessageHeader(&writer, flags: flags, internalDate: internalDate, messageSize: messageSize, literalMode: literalMode)
        return EncodedAppend(
            command: EncodedCommand(tag: tag, parts: writer.finish(), containsCredentials: false),
            waitsForContinuation: !nonSynchronizing, messageSize: messageSize)
    }

    /// Encodes the header of a further message of a MULTIAPPEND (RFC 3502): ` [(flags)]
    /// ["date-time"] {size+}` and its CRLF, to be sent right after the previous message's bytes;
    /// after the last message comes ``EncodedAppend/end``. Only with LITERAL+, so that the whole
    /// command goes out without waiting for the server.
    /// - Throws: ``CommandEncodingError`` as ``encodeAppend(to:flags:internalDate:messageSize:tag:)``,
    ///   and when the literal mode is not ``LiteralMode/literalPlus``.
    public func encodeAppendNext(flags: [Flag] = [], internalDate: InternalDate? = nil, messageSize: Int) throws(CommandEncodingError) -> ByteBuffer {
        guard literalMode == .literalPlus else {
            throw CommandEncodingError(.invalidArgument, "a MULTIAPPEND is sent only with LITERAL+")
        }
        guard messageSize > 0, messageSize <= Int(UInt32.max) else {
            throw CommandEncodingError(.invalidArgument, "an APPEND needs a message of 1 to 4294967295 bytes, not \(messageSize)")
        }
        var writer = Writer(literalMode: literalMode)
        _ = try Self.appendMessageHeader(&writer, flags: flags, internalDate: internalDate, messageSize: messageSize, literalMode: literalMode)
        var out = ByteBuffer()
        for part in writer.finish() { out.writeImmutableBuffer(part) }
        return out
    }

    /// ` [(flags)] ["date-time"] {size[+]}`; whether the literal is non-synchronizing.
    private static func appendMessageHeader(
        _ writer: inout Writer, flags: [Flag], internalDate: InternalDate?, messageSize: Int, literalMode: LiteralMode
    ) throws(CommandEncodingError) -> Bool {
        if !flags.isEmpty {
            writer.write(" (")
            for (index, flag) in flags.enumerated() {
                guard flag.isEncodable, flag != .recent else { throw CommandEncodingError(.invalidFlag, "'\(flag)' cannot be appended") }
                writer.write((index > 0 ? " " : "") + flag.rawValue)
            }
            writer.write(")")
        }
        if let internalDate { writer.write(" \"\(internalDate)\"") }
        let nonSynchronizing: Bool
        switch literalMode {
        case .synchronizing: nonSynchronizing = false
        case .literalMinus: nonSynchronizing = messageSize <= 4096
        case .literalPlus: nonSynchronizing = true
        }
        writer.write(nonSynchronizing ? " {\(messageSize)+}" : " {\(messageSize)}")
        return nonSynchronizing
    }

    private static func sequenceSet(_ set: UIDSet) throws(CommandEncodingError) -> String {
        guard !set.isEmpty else { throw CommandEncodingError(.invalidArgument, "an empty UID set cannot be sent") }
        return set.description
    }

    private static func fetchItem(_ item: FetchItem) throws(CommandEncodingError) -> String {
        switch item {
        case .uid: return "UID"
        case .flags: return "FLAGS"
        case .rfc822Size: return "RFC822.SIZE"
        case .internalDate: return "INTERNALDATE"
        case .modSeq: return "MODSEQ"
        case .envelope: return "ENVELOPE"
        case .bodyStructure: return "BODYSTRUCTURE"
        case .body(let section, let peek, let partial):
            var text = (peek ? "BODY.PEEK[" : "BODY[") + (try Self.section(section)) + "]"
            if let partial {
                guard partial.lowerBound >= 0, !partial.isEmpty, partial.upperBound <= Int(UInt32.max) else {
                    throw CommandEncodingError(.invalidArgument, "invalid partial range \(partial)")
                }
                text += "<\(partial.lowerBound).\(partial.count)>"
            }
            return text
        }
    }

    private static func section(_ section: BodySection) throws(CommandEncodingError) -> String {
        guard section.part.allSatisfy({ $0 > 0 }) else { throw CommandEncodingError(.invalidArgument, "part numbers start at 1") }
        var text = section.part.map(String.init).joined(separator: ".")
        guard let specifier = section.specifier else { return text }
        if !text.isEmpty { text += "." }
        func names(_ names: [String]) throws(CommandEncodingError) -> String {
            guard !names.isEmpty else { throw CommandEncodingError(.invalidArgument, "an empty header field list") }
            var out: [String] = []
            for name in names {
                guard !name.isEmpty, name.utf8.allSatisfy({ $0 > ASCII.space && $0 < 0x7F && $0 != ASCII.colon }) else {
                    throw CommandEncodingError(.invalidArgument, "'\(name)' is not a header field name")
                }
                out.append(name.utf8.allSatisfy(ASCII.isAStringChar) ? name : Writer.quoted(Array(name.utf8)))
            }
            return "(" + out.joined(separator: " ") + ")"
        }
        switch specifier {
        case .header: text += "HEADER"
        case .headerFields(let list): text += "HEADER.FIELDS " + (try names(list))
        case .headerFieldsNot(let list): text += "HEADER.FIELDS.NOT " + (try names(list))
        case .text: text += "TEXT"
        case .mime:
            guard !section.part.isEmpty else { throw CommandEncodingError(.invalidArgument, "MIME needs a part number") }
            text += "MIME"
        }
        return text
    }

    private static func searchKey(_ key: SearchKey) throws(CommandEncodingError) -> String {
        switch key {
        case .all: return "ALL"
        case .uid(let set): return "UID " + (try sequenceSet(set))
        case .modSeq(let modSeq): return "MODSEQ \(modSeq)"
        case .flag(let flag):
            guard flag.isEncodable else { throw CommandEncodingError(.invalidFlag, "'\(flag)' cannot be searched") }
            switch flag {
            case .seen: return "SEEN"
            case .answered: return "ANSWERED"
            case .flagged: return "FLAGGED"
            case .deleted: return "DELETED"
            case .draft: return "DRAFT"
            case .recent: return "RECENT"
            default:
                guard !flag.isSystemFlag else {
                    throw CommandEncodingError(.invalidFlag, "SEARCH has no key for the system flag '\(flag)'")
                }
                return "KEYWORD " + flag.rawValue
            }
        case .header(let field, let value):
            guard !field.isEmpty, field.utf8.allSatisfy({ $0 > ASCII.space && $0 < 0x7F && $0 != ASCII.colon }) else {
                throw CommandEncodingError(.invalidArgument, "'\(field)' is not a header field name")
            }
            guard !value.utf8.contains(where: { $0 >= 0x80 || $0 == ASCII.cr || $0 == ASCII.lf || $0 == ASCII.nul }) else {
                throw CommandEncodingError(.unencodableString, "SEARCH HEADER takes a 7-bit value without CR or LF here")
            }
            let name = field.utf8.allSatisfy(ASCII.isAStringChar) ? field : Writer.quoted(Array(field.utf8))
            return "HEADER " + name + " " + Writer.quoted(Array(value.utf8))
        case .larger(let size): return "LARGER \(size)"
        case .smaller(let size): return "SMALLER \(size)"
        case .not(let inner): return "NOT " + (try searchKey(inner))
        case .or(let first, let second): return "OR " + (try searchKey(first)) + " " + (try searchKey(second))
        case .and(let keys):
            guard !keys.isEmpty else { throw CommandEncodingError(.invalidArgument, "an empty AND") }
            return "(" + (try keys.map(searchKey).joined(separator: " ")) + ")"
        }
    }

    /// Accumulates the parts of one command.
    struct Writer {
        let literalMode: LiteralMode
        private var parts: [ByteBuffer] = []
        private var current = ByteBuffer()

        init(literalMode: LiteralMode) { self.literalMode = literalMode }

        mutating func write(_ text: String) { current.writeString(text) }

        mutating func write(_ bytes: [UInt8]) { current.writeBytes(bytes) }

        /// Ends the current part: the next one waits for a continuation request.
        mutating func endPart() {
            current.writeString("\r\n")
            parts.append(current)
            current = ByteBuffer()
        }

        /// `"..."` with `\` and `"` escaped; the bytes must be 7-bit without CR, LF or NUL.
        static func quoted(_ bytes: [UInt8]) -> String {
            var out: [UInt8] = [ASCII.quote]
            for byte in bytes {
                if byte == ASCII.quote || byte == ASCII.backslash { out.append(ASCII.backslash) }
                out.append(byte)
            }
            out.append(ASCII.quote)
            return String(decoding: out, as: UTF8.self)
        }

        /// A string argument: quoted, or a literal when it holds 8-bit bytes, CR or LF.
        mutating func string(_ bytes: [UInt8], what: String) throws(CommandEncodingError) {
            guard !bytes.contains(ASCII.nul) else {
                throw CommandEncodingError(.unencodableString, "the \(what) contains NUL")
            }
            guard bytes.contains(where: { $0 >= 0x80 || $0 == ASCII.cr || $0 == ASCII.lf }) else {
                write(Self.quoted(bytes))
                return
            }
            let nonSynchronizing: Bool
            switch literalMode {
            case .synchronizing: nonSynchronizing = false
            case .literalMinus: nonSynchronizing = bytes.count <= 4096
            case .literalPlus: nonSynchronizing = true
            }
            if nonSynchronizing {
                write("{\(bytes.count)+}\r\n")
            } else {
                write("{\(bytes.count)}")
                endPart()
            }
            write(bytes)
        }

        mutating func select(
            _ verb: String, _ mailbox: MailboxName, _ parameter: Command.SelectParameter?
        ) throws(CommandEncodingError) {
            write(verb + " ")
            try string(mailbox.bytes, what: "mailbox name")
            switch parameter {
            case nil: break
            case .condstore: write(" (CONDSTORE)")
            case .qresync(let uidValidity, let modSeq, let knownUIDs):
                guard uidValidity > 0, modSeq > 0 else {
                    throw CommandEncodingError(.invalidArgument, "QRESYNC needs a UIDVALIDITY and a mod-sequence above 0")
                }
                write(" (QRESYNC (\(uidValidity) \(modSeq)")
                if let knownUIDs {
                    guard !knownUIDs.isEmpty, knownUIDs.openRangeStart == nil else {
                        throw CommandEncodingError(.invalidArgument, "known UIDs must be a non-empty set without '*'")
                    }
                    write(" " + knownUIDs.description)
                }
                write("))")
            }
        }

        /// The parts, the last one ended with CRLF.
        mutating func finish() -> [ByteBuffer] {
            endPart()
            return parts
        }
    }
}
