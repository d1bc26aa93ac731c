import NIOCore

/// The 16-bit type field of a frame. Unknown values are skipped by receivers (forward compatibility).
public struct MessageType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let hello = MessageType(rawValue: 0x0001)
    public static let welcome = MessageType(rawValue: 0x0002)
    public static let goodbye = MessageType(rawValue: 0x0003)

    public static let runStarted = MessageType(rawValue: 0x0010)
    public static let progress = MessageType(rawValue: 0x0011)
    public static let error = MessageType(rawValue: 0x0012)
    public static let done = MessageType(rawValue: 0x0013)
    public static let storeChanged = MessageType(rawValue: 0x0014)
    public static let storeRemoved = MessageType(rawValue: 0x0015)
    public static let newMessages = MessageType(rawValue: 0x0016)

    public static let snapshot = MessageType(rawValue: 0x0020)

    public static let subscribe = MessageType(rawValue: 0x0040)
    public static let status = MessageType(rawValue: 0x0041)
    public static let syncNow = MessageType(rawValue: 0x0042)
    public static let cancel = MessageType(rawValue: 0x0043)
    public static let pause = MessageType(rawValue: 0x0044)
    public static let resume = MessageType(rawValue: 0x0045)
    public static let reload = MessageType(rawValue: 0x0046)
    public static let errors = MessageType(rawValue: 0x0047)
    public static let ping = MessageType(rawValue: 0x0048)
    public static let runs = MessageType(rawValue: 0x0049)
    public static let login = MessageType(rawValue: 0x004A)

    public static let reply = MessageType(rawValue: 0x0050)
    public static let subscribed = MessageType(rawValue: 0x0051)
    public static let statusReply = MessageType(rawValue: 0x0052)
    public static let errorHistory = MessageType(rawValue: 0x0053)
    public static let runHistory = MessageType(rawValue: 0x0054)

    public var description: String {
        let digits = String(rawValue, radix: 16)
        return "0x" + String(repeating: "0", count: 4 - digits.count) + digits
    }
}

/// Any frame of the protocol, decoded.
public enum Message: Hashable, Sendable {
    case hello(Hello)
    case welcome(Welcome)
    case goodbye(Goodbye)
    case event(SyncEvent)
    case snapshot(Snapshot)
    case request(Request)
    case reply(Reply)
    case subscribed(Subscribed)
    case statusReply(StatusReply)
    case errorHistory(ErrorHistory)
    case runHistory(RunHistory)
    /// A type this build does not know, from a newer peer. Receivers skip it.
    case unknown(type: MessageType, payload: ByteBuffer)

    public var type: MessageType {
        switch self {
        case .hello: return .hello
        case .welcome: return .welcome
        case .goodbye: return .goodbye
        case .event(let event): return event.messageType
        case .snapshot: return .snapshot
        case .request(let request): return request.messageType
        case .reply: return .reply
        case .subscribed: return .subscribed
        case .statusReply: return .statusReply
        case .errorHistory: return .errorHistory
        case .runHistory: return .runHistory
        case .unknown(let type, _): return type
        }
    }

    func writePayload(to buffer: inout ByteBuffer) {
        switch self {
        case .hello(let hello): hello.write(to: &buffer)
        case .welcome(let welcome): welcome.write(to: &buffer)
        case .goodbye(let goodbye): goodbye.write(to: &buffer)
        case .event(let event): event.writePayload(to: &buffer)
        case .snapshot(let snapshot): snapshot.write(to: &buffer)
        case .request(let request): request.writePayload(to: &buffer)
        case .reply(let reply): reply.write(to: &buffer)
        case .subscribed(let subscribed): subscribed.write(to: &buffer)
        case .statusReply(let reply): reply.write(to: &buffer)
        case .errorHistory(let history): history.write(to: &buffer)
        case .runHistory(let history): history.write(to: &buffer)
        case .unknown(_, var payload): buffer.writeBuffer(&payload)
        }
    }

    /// Decodes one payload. Bytes after the fields a type defines are ignored, so a newer peer
    /// may append fields to a message.
    static func read(_ type: MessageType, payload buffer: inout ByteBuffer) throws(ProtocolError) -> Message {
        switch type {
        case .hello: return .hello(try Hello.read(from: &buffer))
        case .welcome: return .welcome(try Welcome.read(from: &buffer))
        case .goodbye: return .goodbye(try Goodbye.read(from: &buffer))
        case .runStarted, .progress, .error, .done, .storeChanged, .storeRemoved, .newMessages:
            return .event(try SyncEvent.read(type, from: &buffer))
        case .snapshot: return .snapshot(try Snapshot.read(from: &buffer))
        case .subscribe, .status, .syncNow, .cancel, .pause, .resume, .reload, .errors, .runs, .ping, .login:
            return .request(try Request.read(type, from: &buffer))
        case .reply: return .reply(try Reply.read(from: &buffer))
        case .subscribed: return .subscribed(try Subscribed.read(from: &buffer))
        case .statusReply: return .statusReply(try StatusReply.read(from: &buffer))
        case .errorHistory: return .errorHistory(try ErrorHistory.read(from: &buffer))
        case .runHistory: return .runHistory(try RunHistory.read(from: &buffer))
        default:
            return .unknown(type: type, payload: buffer)
        }
    }
}
