import NIOCore

/// The grammar of responses other than FETCH attributes (RFC 3501 §7, RFC 5161, RFC 4731,
/// RFC 7162). Each function reads one whole response, through its line end.
extension ParserCursor {
    enum ResponseStart {
        case event(ResponseEvent)
        /// `* n FETCH (` has been read; the attributes follow.
        case fetch(UInt32)
    }

    mutating func parseResponseStart() throws(Signal) -> ResponseStart {
        let first = try peek()
        switch first {
        case ASCII.plus:
            skip()
            if try peek() == ASCII.space { skip() }
            return .event(.continuation(try readText()))
        case ASCII.star:
            skip()
            try expectSpace("after '*'")
            return try parseUntagged()
        default:
            let run = try readRun(ASCII.isTagChar)
            guard run.readableBytes > 0 else { throw unexpected(first, expected: "'*', '+' or a tag") }
            let tag = String(decoding: run.readableBytesView, as: UTF8.self)
            try expectSpace("after the tag")
            let keyword = try readKeyword("OK, NO or BAD")
            guard let condition = StatusResponse.Condition(rawValue: keyword),
                condition == .ok || condition == .no || condition == .bad
            else { throw Self.syntax("a tagged response must be OK, NO or BAD, not '\(keyword)'") }
            return .event(.tagged(tag: tag, try parseStatus(condition)))
        }
    }

    private mutating func parseUntagged() throws(Signal) -> ResponseStart {
        if ASCII.isDigit(try peek()) {
            let number = try readNumber("a message number")
            try expectSpace("after a message number")
            let keyword = try readKeyword("a message data keyword")
            func narrow(nonZero: Bool) throws(Signal) -> UInt32 {
                guard let value = UInt32(exactly: number), !nonZero || value > 0 else {
                    throw .failed(IMAPParseError(.invalidNumber, "\(keyword) number \(number) is out of range"))
                }
                return value
            }
            switch keyword {
            case "EXISTS":
                let value = try narrow(nonZero: false)
                try expectLineEnd("after EXISTS")
                return .event(.exists(value))
            case "RECENT":
                let value = try narrow(nonZero: false)
                try expectLineEnd("after RECENT")
                return .event(.recent(value))
            case "EXPUNGE":
                let value = try narrow(nonZero: true)
                try expectLineEnd("after EXPUNGE")
                return .event(.expunge(value))
            case "FETCH":
                let value = try narrow(nonZero: true)
                try expectSpace("after FETCH")
                try expect(ASCII.leftParen, "'(' after FETCH")
                return .fetch(value)
            default:
                try skipRestOfResponse()
                return .event(.unknown(keyword))
            }
        }
        let keyword = try readKeyword("a response keyword")
        switch keyword {
        case "OK", "NO", "BAD", "PREAUTH", "BYE":
            return .event(.untagged(try parseStatus(StatusResponse.Condition(rawValue: keyword)!)))
        case "CAPABILITY":
            let capabilities = try readCapabilities()
            try expectLineEnd("after CAPABILITY")
            return .event(.capability(capabilities))
        case "ENABLED":
            let capabilities = try readCapabilities()
            try expectLineEnd("after ENABLED")
            return .event(.enabled(capabilities))
        case "LIST":
            return .event(.list(try parseListEntry()))
        case "LSUB":
            return .event(.lsub(try parseListEntry()))
        case "STATUS":
            return try parseStatusData()
        case "FLAGS":
            try expectSpace("after FLAGS")
            let flags = try readFlags()
            try expectLineEnd("after FLAGS")
            return .event(.flags(flags))
        case "SEARCH":
            return try parseSearch()
        case "ESEARCH":
            return .event(.esearch(try parseESearch()))
        case "VANISHED":
            return try parseVanished()
        default:
            try skipRestOfResponse()
            return .event(.unknown(keyword))
        }
    }

    /// `resp-text` after a status keyword: `[SP ["[" code "]" [SP]] text]` line end. RFC 3501
    /// demands SP and text; a bare keyword or a code without text is tolerated.
    private mutating func parseStatus(_ condition: StatusResponse.Condition) throws(Signal) -> StatusResponse {
        if try atLineEnd() {
            try expectLineEnd("")
            return StatusResponse(condition, text: "")
        }
        try expectSpace("after \(condition.rawValue)")
        var code: ResponseCode?
        if try peek() == ASCII.leftBracket {
            skip()
            code = try parseResponseCode()
            if try peek() == ASCII.space { skip() }
        }
        return StatusResponse(condition, code: code, text: try readText())
    }

    /// A response code after `[`, through `]`.
    private mutating func parseResponseCode() throws(Signal) -> ResponseCode {
        let name = try readKeyword("a response code")
        let code: ResponseCode
        switch name {
        case "ALERT": code = .alert
        case "PARSE": code = .parse
        case "READ-ONLY": code = .readOnly
        case "READ-WRITE": code = .readWrite
        case "TRYCREATE": code = .tryCreate
        case "ALREADYEXISTS": code = .alreadyExists
        case "NOMODSEQ": code = .noModSeq
        case "CLOSED": code = .closed
        case "UIDVALIDITY":
            try expectSpace("after UIDVALIDITY")
            code = .uidValidity(try readUInt32("UIDVALIDITY", nonZero: true))
        case "UIDNEXT":
            try expectSpace("after UIDNEXT")
            code = .uidNext(try readUInt32("UIDNEXT", nonZero: true))
        case "UNSEEN":
            try expectSpace("after UNSEEN")
            code = .unseen(try readUInt32("UNSEEN", nonZero: true))
        case "HIGHESTMODSEQ":
            try expectSpace("after HIGHESTMODSEQ")
            code = .highestModSeq(try readNumber("HIGHESTMODSEQ"))
        case "PERMANENTFLAGS":
            try expectSpace("after PERMANENTFLAGS")
            code = .permanentFlags(try readFlags())
        case "CAPABILITY":
            code = .capability(try readCapabilities())
        case "BADCHARSET":
            var charsets: [String] = []
            if try peek() == ASCII.space {
                skip()
                try readList(opening: "'(' after BADCHARSET") { cursor throws(Signal) in
                    charsets.append(String(decoding: try cursor.readAString("a charset"), as: UTF8.self))
                }
            }
            code = .badCharset(charsets)
        case "APPENDUID":
            try expectSpace("after APPENDUID")
            let validity = try readUInt32("UIDVALIDITY", nonZero: true)
            try expectSpace("after the UIDVALIDITY of APPENDUID")
            code = .appendUID(uidValidity: validity, uids: try readSequenceSet("a UID set"))
        case "COPYUID":
            try expectSpace("after COPYUID")
            let validity = try readUInt32("UIDVALIDITY", nonZero: true)
            try expectSpace("after the UIDVALIDITY of COPYUID")
            let source = try readSequenceSet("a UID set")
            try expectSpace("between the UID sets of COPYUID")
            code = .copyUID(uidValidity: validity, source: source, destination: try readSequenceSet("a UID set"))
        case "MODIFIED":
            try expectSpace("after MODIFIED")
            code = .modified(try readSequenceSet("a UID set"))
        default:
            var text: String?
            if try peek() == ASCII.space {
                skip()
                let run = try readRun { $0 != ASCII.rightBracket && $0 != ASCII.cr && $0 != ASCII.lf }
                text = String(decoding: run.readableBytesView, as: UTF8.self)
            }
            code = .other(name: name, text: text)
        }
        try expect(ASCII.rightBracket, "']' to close the response code \(name)")
        return code
    }

    /// `*(SP atom)` up to (not including) a line end or `]`; extra spaces are tolerated.
    private mutating func readCapabilities() throws(Signal) -> [Capability] {
        var capabilities: [Capability] = []
        while true {
            let byte = try peek()
            if byte == ASCII.cr || byte == ASCII.lf || byte == ASCII.rightBracket { return capabilities }
            if byte == ASCII.space {
                skip()
                continue
            }
            capabilities.append(Capability(try readAtom("a capability")))
        }
    }

    /// After LIST or LSUB: `SP (attributes) SP delimiter SP mailbox [SP extended-data]` line end.
    private mutating func parseListEntry() throws(Signal) -> MailboxListEntry {
        try expectSpace("after LIST")
        let attributes = try readFlagTokens("mailbox attributes").map(MailboxAttribute.init)
        try expectSpace("after the mailbox attributes")
        var delimiter: Character?
        if try atNil() {
            try readNil("a hierarchy delimiter")
        } else {
            let bytes = try readQuoted()
            guard bytes.count == 1, bytes[0] < 0x80 else {
                throw Self.syntax("a hierarchy delimiter must be one ASCII character")
            }
            delimiter = Character(Unicode.Scalar(bytes[0]))
        }
        try expectSpace("after the hierarchy delimiter")
        let name = MailboxName(wire: try readAString("a mailbox name"))
        if try peek() == ASCII.space {
            // RFC 5258 extended data, e.g. ("CHILDINFO" ("SUBSCRIBED")): not used here.
            try skipRestOfResponse()
        } else {
            try expectLineEnd("after the mailbox name")
        }
        return MailboxListEntry(attributes: attributes, delimiter: delimiter, name: name)
    }

    /// After STATUS: `SP mailbox SP ( [att SP value *(SP att SP value)] )` line end.
    private mutating func parseStatusData() throws(Signal) -> ResponseStart {
        try expectSpace("after STATUS")
        let name = MailboxName(wire: try readAString("a mailbox name"))
        try expectSpace("after the mailbox name")
        var status = MailboxStatus()
        try readList(opening: "'(' to open the status list") { cursor throws(Signal) in
            let attribute = try cursor.readKeyword("a status attribute")
            try cursor.expectSpace("after \(attribute)")
            switch MailboxStatus.Attribute(rawValue: attribute) {
            case .messages: status.messages = try cursor.readUInt32(attribute)
            case .recent: status.recent = try cursor.readUInt32(attribute)
            case .uidNext: status.uidNext = try cursor.readUInt32(attribute)
            case .uidValidity: status.uidValidity = try cursor.readUInt32(attribute)
            case .unseen: status.unseen = try cursor.readUInt32(attribute)
            case .highestModSeq: status.highestModSeq = try cursor.readNumber(attribute)
            case .size: status.size = try cursor.readNumber(attribute)
            case nil: try cursor.skipValue()
            }
        }
        if try peek() == ASCII.space { skip() }
        try expectLineEnd("after STATUS")
        return .event(.status(name, status))
    }

    /// After SEARCH: `*(SP nz-number) [SP "(MODSEQ" SP mod-sequence-value ")"]` line end.
    private mutating func parseSearch() throws(Signal) -> ResponseStart {
        var numbers: [UInt32] = []
        var modSeq: UInt64?
        while true {
            let byte = try peek()
            if byte == ASCII.cr || byte == ASCII.lf { break }
            if byte == ASCII.space {
                skip()
                continue
            }
            if byte == ASCII.leftParen && modSeq == nil {
                skip()
                let keyword = try readKeyword("MODSEQ")
                guard keyword == "MODSEQ" else { throw Self.syntax("expected MODSEQ in SEARCH, found '\(keyword)'") }
                try expectSpace("after MODSEQ")
                modSeq = try readNumber("a mod-sequence")
                try expect(ASCII.rightParen, "')' after the SEARCH mod-sequence")
                continue
            }
            guard modSeq == nil else { throw unexpected(byte, expected: "end of line after (MODSEQ n)") }
            numbers.append(try readUInt32("a message number", nonZero: true))
        }
        try expectLineEnd("after SEARCH")
        return .event(.search(numbers, modSeq: modSeq))
    }

    /// After ESEARCH: `[SP "(TAG" SP string ")"] [SP "UID"] *(SP name SP value)` line end.
    private mutating func parseESearch() throws(Signal) -> ESearchResponse {
        var result = ESearchResponse()
        if try peek() == ASCII.space, try peek(offset: 1) == ASCII.leftParen {
            skip(2)
            let keyword = try readKeyword("TAG")
            guard keyword == "TAG" else { throw Self.syntax("expected TAG in ESEARCH, found '\(keyword)'") }
            try expectSpace("after TAG")
            result.tag = String(decoding: try readString("a tag string"), as: UTF8.self)
            try expect(ASCII.rightParen, "')' after the ESEARCH tag")
        }
        while !(try atLineEnd()) {
            try expectSpace("between ESEARCH items")
            let name = try readKeyword("ESEARCH return data")
            if name == "UID" {
                result.isUID = true
                continue
            }
            try expectSpace("after \(name)")
            switch name {
            case "MIN": result.min = try readUInt32(name, nonZero: true)
            case "MAX": result.max = try readUInt32(name, nonZero: true)
            case "COUNT": result.count = try readUInt32(name)
            case "ALL": result.all = try readSequenceSet("a sequence set")
            case "MODSEQ": result.modSeq = try readNumber(name)
            default: try skipValue()
            }
        }
        try expectLineEnd("after ESEARCH")
        return result
    }

    /// After VANISHED: `SP ["(EARLIER)" SP] known-uids` line end.
    private mutating func parseVanished() throws(Signal) -> ResponseStart {
        try expectSpace("after VANISHED")
        var earlier = false
        if try peek() == ASCII.leftParen {
            skip()
            let keyword = try readKeyword("EARLIER")
            guard keyword == "EARLIER" else { throw Self.syntax("expected (EARLIER), found '\(keyword)'") }
            try expect(ASCII.rightParen, "')' after EARLIER")
            try expectSpace("after (EARLIER)")
            earlier = true
        }
        let uids = try readSequenceSet("a UID set")
        try expectLineEnd("after VANISHED")
        return .event(.vanished(uids, earlier: earlier))
    }
}
