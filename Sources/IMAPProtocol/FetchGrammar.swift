import NIOCore

/// The grammar of FETCH attributes (RFC 3501 `msg-att`, RFC 7162 `fetch-mod-resp`), one
/// attribute per call so that body literals can be streamed.
extension ParserCursor {
    enum FetchStep {
        case attribute(FetchAttribute)
        /// `)` and the line end: the FETCH response is complete.
        case end
        /// A body whose literal header has been read; `size` bytes of data follow.
        case bodyLiteral(BodySection, origin: Int?, size: Int)
        /// A body sent as a quoted string, or NIL (nil).
        case bodyInline(BodySection, origin: Int?, [UInt8]?)
    }

    /// A byte of a FETCH attribute name: an atom character other than `[` and `<`, which start a
    /// section and an origin.
    private static func isAttributeNameChar(_ byte: UInt8) -> Bool {
        ASCII.isAtomChar(byte) && byte != ASCII.leftBracket && byte != ASCII.lessThan
    }

    mutating func parseFetchStep(first: Bool) throws(Signal) -> FetchStep {
        if try peek() == ASCII.rightParen {
            skip()
            try expectLineEnd("after a FETCH response")
            return .end
        }
        if !first {
            try expectSpace("between FETCH attributes")
        }
        let nameRun = try readRun(Self.isAttributeNameChar)
        guard nameRun.readableBytes > 0 else { throw unexpected(try peek(), expected: "a FETCH attribute") }
        let name = String(decoding: nameRun.readableBytesView.map(ASCII.uppercase), as: UTF8.self)
        let hasSection = try peek() == ASCII.leftBracket
        switch name {
        case "UID":
            try expectSpace("after UID")
            return .attribute(.uid(try readUInt32("UID", nonZero: true)))
        case "FLAGS":
            try expectSpace("after FLAGS")
            return .attribute(.flags(try readFlags()))
        case "RFC822.SIZE":
            try expectSpace("after RFC822.SIZE")
            let size = try readNumber("RFC822.SIZE")
            guard let narrow = Int(exactly: size) else {
                throw .failed(IMAPParseError(.invalidNumber, "RFC822.SIZE \(size) is out of range"))
            }
            return .attribute(.rfc822Size(narrow))
        case "INTERNALDATE":
            try expectSpace("after INTERNALDATE")
            let text = try readQuoted()
            guard let date = InternalDate(parsing: text) else {
                throw Self.syntax("invalid INTERNALDATE \"\(String(decoding: text, as: UTF8.self))\"")
            }
            return .attribute(.internalDate(date))
        case "MODSEQ":
            try expectSpace("after MODSEQ")
            try expect(ASCII.leftParen, "'(' after MODSEQ")
            let modSeq = try readNumber("MODSEQ")
            try expect(ASCII.rightParen, "')' after the MODSEQ value")
            return .attribute(.modSeq(modSeq))
        case "BODY" where hasSection, "BODY.PEEK" where hasSection:
            let section = try parseSection()
            let origin = try parseOrigin()
            try expectSpace("after BODY[\(section)]")
            return try parseBodyValue(section, origin: origin)
        case "RFC822":
            try expectSpace("after RFC822")
            return try parseBodyValue(.complete, origin: nil)
        case "RFC822.HEADER":
            try expectSpace("after RFC822.HEADER")
            return try parseBodyValue(.header, origin: nil)
        case "RFC822.TEXT":
            try expectSpace("after RFC822.TEXT")
            return try parseBodyValue(.text, origin: nil)
        default:
            // ENVELOPE, BODYSTRUCTURE, BODY (structure), BINARY.SIZE[1], extensions: kept raw.
            var fullName = name
            if hasSection {
                let section = try readRun { $0 != ASCII.rightBracket && $0 != ASCII.cr && $0 != ASCII.lf }
                try expect(ASCII.rightBracket, "']' to close the section of \(name)")
                fullName += String(decoding: section.readableBytesView, as: UTF8.self) + "]"
            }
            if try peek() == ASCII.lessThan {
                let origin = try readRun { $0 != ASCII.greaterThan && $0 != ASCII.cr && $0 != ASCII.lf }
                try expect(ASCII.greaterThan, "'>' to close the origin of \(name)")
                fullName += String(decoding: origin.readableBytesView, as: UTF8.self) + ">"
            }
            try expectSpace("after \(fullName)")
            let valueStart = buffer
            try skipValue()
            let value = valueStart.getSlice(at: valueStart.readerIndex, length: readerIndex - valueStart.readerIndex)!
            return .attribute(.other(name: fullName, value: value))
        }
    }

    /// `section` from `[` through `]`.
    mutating func parseSection() throws(Signal) -> BodySection {
        try expect(ASCII.leftBracket, "'['")
        var part: [Int] = []
        var specifier: BodySection.Specifier?
        while try peek() != ASCII.rightBracket {
            if ASCII.isDigit(try peek()) {
                part.append(Int(try readUInt32("a part number", nonZero: true)))
                if try peek() == ASCII.dot { skip() } else { break }
                continue
            }
            let keyword = try readKeyword("a section specifier")
            switch keyword {
            case "HEADER": specifier = .header
            case "TEXT": specifier = .text
            case "MIME" where !part.isEmpty: specifier = .mime
            case "HEADER.FIELDS": specifier = .headerFields(try parseHeaderList())
            case "HEADER.FIELDS.NOT": specifier = .headerFieldsNot(try parseHeaderList())
            default: throw Self.syntax("invalid section specifier '\(keyword)'")
            }
            break
        }
        try expect(ASCII.rightBracket, "']' to close the section")
        return BodySection(part: part, specifier)
    }

    private mutating func parseHeaderList() throws(Signal) -> [String] {
        try expectSpace("before the header list")
        var names: [String] = []
        try readList(opening: "'(' to open the header list") { cursor throws(Signal) in
            names.append(String(decoding: try cursor.readAString("a header field name"), as: UTF8.self))
        }
        return names
    }

    /// `<number>` after a section, if present.
    private mutating func parseOrigin() throws(Signal) -> Int? {
        guard try peek() == ASCII.lessThan else { return nil }
        skip()
        let origin = Int(try readUInt32("a partial origin"))
        try expect(ASCII.greaterThan, "'>' to close the origin")
        return origin
    }

    /// `nstring` (or literal8) of a body: a literal is only opened here, its data streamed later.
    private mutating func parseBodyValue(_ section: BodySection, origin: Int?) throws(Signal) -> FetchStep {
        if try atLiteral() {
            let size = try readLiteralHeader(limit: limits.maxBodySize, what: "body")
            return .bodyLiteral(section, origin: origin, size: size)
        }
        if try peek() == ASCII.quote {
            return .bodyInline(section, origin: origin, try readQuoted())
        }
        if try atNil() {
            try readNil("a body")
            return .bodyInline(section, origin: origin, nil)
        }
        throw unexpected(try peek(), expected: "a literal, a quoted string or NIL for BODY[\(section)]")
    }
}
