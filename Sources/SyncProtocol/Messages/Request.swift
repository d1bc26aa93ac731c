import NIOCore

/// A viewer's request. The server answers each with a frame carrying the same `id`:
/// ``Subscribed`` for subscribe, ``StatusReply`` for status, ``ErrorHistory`` for errors,
/// ``Reply`` for everything else
/// (and for any request it refuses).
public struct Request: Hashable, Sendable {
    /// Most store names one request may list: more is no real viewer's request, and decoding a
    /// frame's worth of names would cost the server time that other viewers wait for.
    public static let maxStoreNames = 1024

    /// Chosen by the client; echoed in the answer. The server does not interpret it.
    public var id: UInt32
    public var command: Command

    public init(id: UInt32, command: Command) {
        self.id = id
        self.command = command
    }

    public enum Command: Hashable, Sendable {
        /// Start receiving events for these stores (empty: all stores, including ones added later).
        /// With `since`, replay the events after that sequence number instead of a snapshot,
        /// if the server still has them.
        case subscribe(stores: [String], since: UInt64?)
        /// A snapshot of these stores (empty: all), without subscribing.
        case status(stores: [String])
        /// Run the store now, before scheduled runs. `onDemand` is implied.
        case syncNow(store: String, flags: SyncFlags)
        case cancel(store: String)
        case pause(store: String)
        case resume(store: String)
        /// Re-read the daemon's configuration.
        case reload
        /// The remembered errors and warnings of these stores (empty: all), oldest first.
        case errors(stores: [String])
        /// The recent finished runs of these stores (empty: all), oldest first.
        case runs(stores: [String])
        /// Are you there? Answered at once with a ``Reply`` `ok`: an idle viewer's heartbeat.
        case ping
        /// Log the store in again: the daemon starts an interactive login (OAuth2's device
        /// authorization grant) and answers with a ``Reply`` saying what the user is to do
        /// ("open https://… and enter ABCD-EFGH"). The outcome follows as events: StoreChanged
        /// with the auth-required bit clear on success, a store-level Error on failure.
        case login(store: String)

        /// Whether the command changes anything, and so needs ``AccessLevel/control``.
        public var needsControl: Bool {
            switch self {
            case .subscribe, .status, .errors, .runs, .ping: return false
            case .syncNow, .cancel, .pause, .resume, .reload, .login: return true
            }
        }

        /// A short name for logs and errors ("sync-now").
        public var name: String {
            switch self {
            case .subscribe: return "subscribe"
            case .status: return "status"
            case .syncNow: return "sync-now"
            case .cancel: return "cancel"
            case .pause: return "pause"
            case .resume: return "resume"
            case .reload: return "reload"
            case .errors: return "errors"
            case .runs: return "runs"
            case .ping: return "ping"
            case .login: return "login"
            }
        }
    }

    var messageType: MessageType {
        switch command {
        case .subscribe: return .subscribe
        case .status: return .status
        case .syncNow: return .syncNow
        case .cancel: return .cancel
        case .pause: return .pause
        case .resume: return .resume
        case .reload: return .reload
        case .errors: return .errors
        case .runs: return .runs
        case .ping: return .ping
        case .login: return .login
        }
    }

    func writePayload(to buffer: inout ByteBuffer) {
        buffer.writeInteger(id)
        switch command {
        case .subscribe(let stores, let since):
            buffer.writeInteger(UInt8(since == nil ? 0 : 1))
            buffer.writeInteger(since ?? 0)
            buffer.writeWireStringList(stores)
        case .status(let stores), .errors(let stores), .runs(let stores):
            buffer.writeWireStringList(stores)
        case .syncNow(let store, let flags):
            buffer.writeWireString(store)
            buffer.writeInteger(flags.rawValue)
        case .cancel(let store), .pause(let store), .resume(let store), .login(let store):
            buffer.writeWireString(store)
        case .reload, .ping:
            break
        }
    }

    static func read(_ type: MessageType, from buffer: inout ByteBuffer) throws(ProtocolError) -> Request {
        let id: UInt32 = try buffer.readWireInteger()
        let command: Command
        switch type {
        case .subscribe:
            let hasSince: UInt8 = try buffer.readWireInteger()
            let since: UInt64 = try buffer.readWireInteger()
            guard hasSince <= 1 else { throw .invalidField("subscribe since marker \(hasSince)") }
            command = .subscribe(stores: try buffer.readWireStringList(atMost: Request.maxStoreNames), since: hasSince == 1 ? since : nil)
        case .status:
            command = .status(stores: try buffer.readWireStringList(atMost: Request.maxStoreNames))
        case .syncNow:
            let store = try buffer.readWireString()
            command = .syncNow(store: store, flags: SyncFlags(rawValue: try buffer.readWireInteger()))
        case .cancel:
            command = .cancel(store: try buffer.readWireString())
        case .pause:
            command = .pause(store: try buffer.readWireString())
        case .resume:
            command = .resume(store: try buffer.readWireString())
        case .reload:
            command = .reload
        case .errors:
            command = .errors(stores: try buffer.readWireStringList(atMost: Request.maxStoreNames))
        case .runs:
            command = .runs(stores: try buffer.readWireStringList(atMost: Request.maxStoreNames))
        case .ping:
            command = .ping
        case .login:
            command = .login(store: try buffer.readWireString())
        default:
            throw .invalidField("message type \(type) is not a request")
        }
        return Request(id: id, command: command)
    }
}
