#if canImport(Glibc)
import Glibc
#endif
import Foundation
import IMAPProtocol
import NIOCore
import NIOSSL
import SyncProtocol

/// A logged-in conversation with an IMAP server: commands out, parsed responses in.
///
/// Sends each command (waiting for `+` before a synchronizing literal), routes untagged responses
/// to the caller while it waits for the tagged completion, and turns NO/BAD into
/// ``IMAPCommandError``. Used by one task.
final class IMAPSession {
    let connection: IMAPConnection
    private var parser = ResponseParser()
    private var inbox = ByteBuffer()
    private var tags = TagGenerator()
    private(set) var capabilities: Set<Capability> = []
    private var encoder = CommandEncoder()

    init(_ connection: IMAPConnection) {
        self.connection = connection
    }

    // MARK: Reading

    /// The next parsed event, reading from the server as needed.
    func nextEvent() async throws -> ResponseEvent {
        while true {
            if let event = try parseNext() { return event }
            guard var more = try await connection.read() else {
                throw IMAPConnectionError.lost("the server closed the connection")
            }
            if inbox.readableBytes == 0 {
                inbox = more
            } else {
                inbox.writeBuffer(&more)
            }
        }
    }

    private func parseNext() throws -> ResponseEvent? {
        do {
            let event = try parser.next(&inbox)
            if inbox.readableBytes == 0 { inbox.clear() }
            return event
        } catch {
            throw IMAPCommandError.protocolViolation("\(error)")
        }
    }

    // MARK: Commands

    /// Sends a command; returns its tag. Literals the server must accept first wait for its `+`.
    func send(_ command: Command) async throws -> String {
        let tag = tags.next()
        let encoded = try encoder.encode(command, tag: tag)
        for (index, part) in encoded.parts.enumerated() {
            if index > 0 {
                // A synchronizing literal: the server says `+` (or refuses with a tagged NO).
                while true {
                    let event = try await nextEvent()
                    if case .continuation = event { break }
                    if case .tagged(tag, let status) = event {
                        throw IMAPCommandError.refused(command.name, status)
                    }
                    try noteUntagged(event)
                }
            }
            try await connection.write(part)
        }
        return tag
    }

    /// Sends a command the encoder has no grammar for (NOTIFY), as its line with a new tag;
    /// returns the tag. The line must be 7-bit and hold no literal.
    func sendRaw(_ line: String) async throws -> String {
        let tag = tags.next()
        try await connection.write(ByteBuffer(string: "\(tag) \(line)\r\n"))
        return tag
    }

    /// Sends an APPEND of `message` (a file streamed in chunks, never whole in memory); returns its
    /// tag. A synchronizing literal waits for the server's `+` first — then no other command may
    /// be in flight, since completions read meanwhile would be lost; with LITERAL+ nothing is
    /// waited for, so APPENDs can be pipelined.
    /// - Throws: ``IMAPCommandError/refused(_:_:)`` if the server refuses before the message;
    ///   ``UploadFileError`` if the file cannot be read or changed size (the connection is then
    ///   unusable: the literal is incomplete).
    func sendAppend(to mailbox: MailboxName, flags: [Flag], internalDate: InternalDate?, message: UploadFile) async throws -> String {
        let fd = try message.openForReading()
        var streaming = false
        defer { if !streaming { close(fd) } }
        let tag = tags.next()
        let append = try encoder.encodeAppend(to: mailbox, flags: flags, internalDate: internalDate, messageSize: message.wireSize, tag: tag)
        for (index, part) in append.command.parts.enumerated() {
            if index > 0 { try await awaitContinuation(tag, "APPEND") }
            try await connection.write(part)
        }
        if append.waitsForContinuation { try await awaitContinuation(tag, "APPEND") }
        streaming = true
        do {
            try await message.stream(from: fd) { try await connection.write($0) }
        } catch let error as UploadFileError {
            throw IMAPConnectionError.lost("\(error); the APPEND could not be completed")
        }
        try await connection.write(EncodedAppend.end)
        return tag
    }

    /// Whether several messages can go in one APPEND (RFC 3502 MULTIAPPEND, which the server
    /// stores in one transaction) sent without waiting for the server (LITERAL+).
    var appendsTogether: Bool { capabilities.contains(.multiappend) && encoder.literalMode == .literalPlus }

    /// Starts one MULTIAPPEND of `messages` (only when ``appendsTogether``) and returns its tag,
    /// or `nil` when none of the files could be opened; the indices of those that could not (the
    /// user deleted them meanwhile) are in `skipped`. All of them are opened before anything is
    /// sent. The server stores all or none.
    /// - Throws: as ``sendAppend(to:flags:internalDate:message:)``.
    func sendAppends(
        to mailbox: MailboxName, _ messages: [(flags: [Flag], internalDate: InternalDate?, file: UploadFile)], skipped: inout [Int]
    ) async throws -> String? {
        var open: [(index: Int, fd: Int32)] = []
        defer { for item in open where item.fd >= 0 { close(item.fd) } }
        for (index, message) in messages.enumerated() {
            do {
                open.append((index, try message.file.openForReading()))
            } catch is UploadFileError {
                skipped.append(index)
            }
        }
        guard let first = open.first else { return nil }
        let tag = tags.next()
        let head = messages[first.index]
        let append = try encoder.encodeAppend(
            to: mailbox, flags: head.flags, internalDate: head.internalDate, messageSize: head.file.wireSize, tag: tag)
        for part in append.command.parts { try await connection.write(part) }
        for position in open.indices {
            let (index, fd) = open[position]
            if position > 0 {
                let next = messages[index]
                try await connection.write(try encoder.encodeAppendNext(flags: next.flags, internalDate: next.internalDate, messageSize: next.file.wireSize))
            }
            open[position].fd = -1  // stream(from:) closes it
            do {
                try await messages[index].file.stream(from: fd) { try await connection.write($0) }
            } catch let error as UploadFileError {
                throw IMAPConnectionError.lost("\(error); the APPEND could not be completed")
            }
        }
        try await connection.write(EncodedAppend.end)
        return tag
    }

    /// Whether APPENDs can be sent without waiting for the server between them.
    func appendsPipeline(size: Int) -> Bool {
        switch encoder.literalMode {
        case .literalPlus: return true
        case .literalMinus: return size <= 4096
        case .synchronizing: return false
        }
    }

    /// Waits for `+`; a tagged answer to `tag` instead is a refusal.
    private func awaitContinuation(_ tag: String, _ name: String) async throws {
        while true {
            let event = try await nextEvent()
            if case .continuation = event { return }
            if case .tagged(tag, let status) = event { throw IMAPCommandError.refused(name, status) }
            try noteUntagged(event)
        }
    }

    /// Reads until the tagged completion of one of `tags`, returning which one and its status
    /// whether OK, NO or BAD (an APPEND's OK carries APPENDUID): for pipelined commands, each of
    /// which may fail on its own.
    func completion(anyOf tags: Set<String>, untagged: (ResponseEvent) throws -> Void) async throws -> (tag: String, status: StatusResponse) {
        try await complete(anyOf: tags, name: "", untagged: untagged, refusing: false)
    }

    /// Runs a command to completion, handing every untagged response to `untagged`.
    /// - Throws: ``IMAPCommandError/refused(_:_:)`` for NO or BAD.
    @discardableResult
    func run(_ command: Command, untagged: (ResponseEvent) throws -> Void = { _ in }) async throws -> StatusResponse {
        let tag = try await send(command)
        return try await complete(tag, name: command.name, untagged: untagged)
    }

    /// Reads until the tagged completion of `tag`.
    @discardableResult
    func complete(_ tag: String, name: String, untagged: (ResponseEvent) throws -> Void) async throws -> StatusResponse {
        try await complete(anyOf: [tag], name: name, untagged: untagged).status
    }

    /// Reads until the tagged completion of one of `tags` (pipelined commands may complete in
    /// any order), handing every untagged response to `untagged`.
    /// - Throws: ``IMAPCommandError/refused(_:_:)`` for NO or BAD.
    func complete(anyOf tags: Set<String>, name: String, untagged: (ResponseEvent) throws -> Void) async throws -> String {
        try await complete(anyOf: tags, name: name, untagged: untagged).tag
    }

    private func complete(
        anyOf tags: Set<String>, name: String, untagged: (ResponseEvent) throws -> Void, refusing: Bool = true
    ) async throws -> (tag: String, status: StatusResponse) {
        while true {
            let event = try await nextEvent()
            switch event {
            case .tagged(let tag, let status) where tags.contains(tag):
                guard status.condition == .ok || !refusing else { throw IMAPCommandError.refused(name, status) }
                if case .capability(let list)? = status.code { capabilities = Set(list) }
                return (tag, status)
            case .tagged(let other, _):
                throw IMAPCommandError.protocolViolation("completion for unknown tag \(other)")
            default:
                try noteUntagged(event)
                try untagged(event)
            }
        }
    }

    /// Keeps track of what every command may carry: capabilities, and a BYE.
    private func noteUntagged(_ event: ResponseEvent) throws {
        switch event {
        case .capability(let list):
            capabilities = Set(list)
        case .untagged(let status) where status.condition == .bye:
            throw IMAPConnectionError.lost("the server said BYE: \(status.text)")
        default:
            break
        }
    }

    // MARK: Session set-up

    /// Reads the greeting, secures the connection as the account asks, and logs in.
    /// - Throws: ``IMAPCommandError/authenticationFailed(_:)`` when the server refuses the
    ///   credentials; connection and TLS errors as ``IMAPConnectionError``.
    func open(_ account: IMAPAccount, password: String) async throws {
        try await prepare(account)
        try await login(account, password: password)
        try await finishLogin(compress: account.compress)
    }

    /// Reads the greeting and secures the connection as the account asks: what comes before a
    /// login. Afterwards ``capabilities`` holds what the server offers for logging in.
    func prepare(_ account: IMAPAccount) async throws {
        let greeting = try await nextEvent()
        guard case .untagged(let status) = greeting else {
            throw IMAPCommandError.protocolViolation("expected a greeting, got \(greeting)")
        }
        if status.condition == .bye { throw IMAPConnectionError.lost("the server refused the connection: \(status.text)") }
        if case .capability(let list)? = status.code { capabilities = Set(list) }
        if account.security == .starttls {
            if capabilities.isEmpty { try await run(.capability) }
            guard capabilities.contains(.startTLS) else {
                throw IMAPConnectionError.tls("the server does not offer STARTTLS; use security = \"tls\" (port 993)")
            }
            try await run(.startTLS)
            try await connection.startTLS(try account.tlsContext())
            capabilities = []  // must be asked again over TLS (RFC 3501 §6.2.1)
        }
        if capabilities.isEmpty { try await run(.capability) }
        encoder = CommandEncoder(capabilities: capabilities)
    }

    /// Logs in with a password: AUTHENTICATE PLAIN when offered, else LOGIN.
    func login(_ account: IMAPAccount, password: String) async throws {
        if capabilities.contains(.loginDisabled), !capabilities.contains(.auth("PLAIN")) {
            throw IMAPCommandError.authenticationFailed("the server allows no login on this connection (LOGINDISABLED)")
        }
        do {
            if capabilities.contains(.auth("PLAIN")) {
                try await run(.authenticatePlain(username: account.user, password: password))
            } else {
                try await run(.login(username: account.user, password: password))
            }
        } catch IMAPCommandError.refused(_, let status) {
            throw IMAPCommandError.authenticationFailed(status.text)
        }
    }

    /// The OAuth2 mechanism to log in with: `forced` if the server offers it, else OAUTHBEARER,
    /// else XOAUTH2.
    /// - Throws: ``IMAPCommandError/authenticationFailed(_:)`` when the server offers neither.
    func oauthMechanism(forced: SASL.OAuthMechanism?) throws -> SASL.OAuthMechanism {
        if let forced {
            guard capabilities.contains(forced.capability) else {
                throw IMAPCommandError.authenticationFailed("the server does not offer \(forced.rawValue) (sasl_mechanism)")
            }
            return forced
        }
        guard let mechanism = SASL.OAuthMechanism.preferred(among: capabilities) else {
            let offered = capabilities.map(\.rawValue).filter { $0.hasPrefix("AUTH=") }.sorted()
            throw IMAPCommandError.authenticationFailed(
                "the server offers no OAuth2 login (neither AUTH=OAUTHBEARER nor AUTH=XOAUTH2; it offers \(offered.isEmpty ? "none" : offered.joined(separator: " ")))")
        }
        return mechanism
    }

    /// Logs in with an OAuth2 access token (RFC 7628 OAUTHBEARER, or XOAUTH2), the token in the
    /// AUTHENTICATE line when the server has SASL-IR. A server that refuses the token sends its
    /// reason as BASE64 JSON in a continuation request, which is acknowledged as the mechanism
    /// says; the tagged NO that follows becomes ``IMAPCommandError/tokenRefused(_:)`` with that
    /// reason in words.
    func authenticate(_ mechanism: SASL.OAuthMechanism, account: IMAPAccount, token: String) async throws {
        let command = Command.authenticate(
            mechanism: mechanism.rawValue,
            initialResponse: mechanism.initialResponse(user: account.user, token: token, host: account.host, port: account.port))
        let tag = try await send(command)
        var challenge: [UInt8]?
        var acknowledged = 0
        while true {
            let event = try await nextEvent()
            switch event {
            case .continuation(let text):
                acknowledged += 1
                if acknowledged > 2 {
                    // A server that keeps asking: cancel the exchange (RFC 3501 §6.2.2).
                    try await connection.write(ByteBuffer(string: "*\r\n"))
                    continue
                }
                challenge = SASL.decodeChallenge(text) ?? Array(text.utf8)
                try await connection.write(ByteBuffer(string: Data(mechanism.errorAcknowledgement).base64EncodedString() + "\r\n"))
            case .tagged(tag, let status):
                guard status.condition == .ok else {
                    throw IMAPCommandError.tokenRefused(Self.refusal(status, challenge: challenge))
                }
                if case .capability(let list)? = status.code { capabilities = Set(list) }
                return
            case .tagged(let other, _):
                throw IMAPCommandError.protocolViolation("completion for unknown tag \(other)")
            default:
                try noteUntagged(event)
            }
        }
    }

    /// Why the server refused a token, in words: its JSON (`{"status":"invalid_token",
    /// "scope":"..."}`, Gmail's `{"status":"401","schemes":"Bearer","scope":"..."}`) read out,
    /// and the text of its NO.
    static func refusal(_ status: StatusResponse, challenge: [UInt8]?) -> String {
        var parts: [String] = []
        if let challenge, let json = (try? JSONSerialization.jsonObject(with: Data(challenge))) as? [String: Any] {
            let code = (json["status"] as? String) ?? (json["status"] as? NSNumber)?.stringValue
            switch code {
            case "invalid_token"?, "401"?: parts.append("the access token is invalid or has expired")
            case "insufficient_scope"?, "403"?: parts.append("the access token lacks a scope the server needs")
            case "invalid_request"?, "400"?: parts.append("the server did not accept the login request (wrong user for this token?)")
            case let other?: parts.append("status \(other)")
            case nil: break
            }
            if let scope = json["scope"] as? String, !scope.isEmpty { parts.append("the server wants scope \(scope)") }
        } else if let challenge, !challenge.isEmpty {
            parts.append(String(decoding: challenge.prefix(200), as: UTF8.self))
        }
        let text = status.text.trimmingCharacters(in: .whitespaces)
        if !text.isEmpty { parts.append("server: \(status.condition.rawValue) \(text)") }
        return "the server refused the OAuth2 token: " + (parts.isEmpty ? "no reason given" : parts.joined(separator: "; "))
    }

    /// After a login: asks for the capabilities if the server did not send them, turns on
    /// COMPRESS=DEFLATE when offered and `compress`, and enables CONDSTORE and QRESYNC when offered.
    func finishLogin(compress: Bool = false) async throws {
        // Servers often send new capabilities with the OK; ask if they did not.
        if !capabilities.contains(.imap4rev1) { try await run(.capability) }
        encoder = CommandEncoder(capabilities: capabilities)
        if compress, capabilities.contains(Self.compressDeflate) { try await startCompression() }
        var wanted: [Capability] = []
        if capabilities.contains(.condstore) { wanted.append(.condstore) }
        if capabilities.contains(.qresync) { wanted.append(.qresync) }
        if !wanted.isEmpty, capabilities.contains(.enable) { try await run(.enable(wanted)) }
    }

    static let compressDeflate = Capability("COMPRESS=DEFLATE")

    /// Whether COMPRESS=DEFLATE is on for this connection.
    private(set) var compressed = false

    /// `COMPRESS DEFLATE` (RFC 4978), then the deflate handlers right after the tagged OK. A
    /// server that refuses (NO: already compressed, or BAD) leaves the connection as it was. The
    /// command has no arguments and no place in the encoder's grammar: sent as its line.
    private func startCompression() async throws {
        let tag = tags.next()
        try await connection.write(ByteBuffer(string: "\(tag) COMPRESS DEFLATE\r\n"))
        do {
            try await complete(tag, name: "COMPRESS") { _ in }
        } catch IMAPCommandError.refused {
            return
        }
        // Nothing after the OK is read yet: the server waits for our next command.
        guard inbox.readableBytes == 0 else {
            throw IMAPCommandError.protocolViolation("the server sent data after its OK to COMPRESS")
        }
        try await connection.startCompression()
        compressed = true
    }

    func logout() async {
        _ = try? await run(.logout)
    }

    /// The server's hierarchy delimiter (`LIST "" ""`), nil for a flat name space: to name a
    /// folder there that no LIST of this run has shown.
    func hierarchyDelimiter() async throws -> Character? {
        var delimiter: Character?
        try await run(.list(pattern: "")) { event in
            if case .list(let entry) = event { delimiter = entry.delimiter }
        }
        return delimiter
    }
}

/// The server refused a command, or broke the protocol.
enum IMAPCommandError: Error, CustomStringConvertible {
    case refused(String, StatusResponse)
    case authenticationFailed(String)
    /// The server refused an OAuth2 access token; the text says why, read from its answer.
    case tokenRefused(String)
    case protocolViolation(String)

    var description: String {
        switch self {
        case .refused(let name, let status): return "the server refused \(name): \(status.condition.rawValue) \(status.text)"
        case .authenticationFailed(let text): return "login failed: \(text)"
        case .tokenRefused(let text): return "login failed: \(text)"
        case .protocolViolation(let what): return "protocol error: \(what)"
        }
    }

    var status: SyncStatus {
        switch self {
        case .refused: return .failed
        case .authenticationFailed, .tokenRefused: return .authFailed
        case .protocolViolation: return .protocolError
        }
    }
}

extension Command {
    /// The command's keyword, for messages.
    var name: String {
        switch self {
        case .capability: return "CAPABILITY"
        case .noop: return "NOOP"
        case .logout: return "LOGOUT"
        case .startTLS: return "STARTTLS"
        case .login: return "LOGIN"
        case .authenticatePlain: return "AUTHENTICATE PLAIN"
        case .authenticate(let mechanism, _): return "AUTHENTICATE \(mechanism)"
        case .enable: return "ENABLE"
        case .list: return "LIST"
        case .status: return "STATUS"
        case .select: return "SELECT"
        case .examine: return "EXAMINE"
        case .create: return "CREATE"
        case .uidFetch: return "UID FETCH"
        case .uidStore: return "UID STORE"
        case .uidSearch: return "UID SEARCH"
        case .uidExpunge: return "UID EXPUNGE"
        case .uidCopy: return "UID COPY"
        case .uidMove: return "UID MOVE"
        case .delete: return "DELETE"
        case .idle: return "IDLE"
        }
    }
}
