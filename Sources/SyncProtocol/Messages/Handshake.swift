import NIOCore

/// The protocol versions this build speaks.
public enum ProtocolVersion {
    public static let current: UInt16 = 1
    public static let supported: ClosedRange<UInt16> = 1...1

    /// The highest version both sides speak, nil if none.
    public static func negotiate(_ peer: ClosedRange<UInt16>) -> UInt16? {
        let low = max(peer.lowerBound, supported.lowerBound)
        let high = min(peer.upperBound, supported.upperBound)
        return low <= high ? high : nil
    }
}

/// The first frame a client sends. Its magic tells a syncd peer from stray bytes.
public struct Hello: Hashable, Sendable {
    public static let magic: UInt32 = 0x5359_4E43  // "SYNC"

    public var versions: ClosedRange<UInt16>
    /// Free text naming the client, for logs ("syncctl 1.0", "viewer.py").
    public var client: String

    public init(versions: ClosedRange<UInt16> = ProtocolVersion.supported, client: String) {
        self.versions = versions
        self.client = client
    }

    func write(to buffer: inout ByteBuffer) {
        buffer.writeInteger(Self.magic)
        buffer.writeInteger(versions.lowerBound)
        buffer.writeInteger(versions.upperBound)
        buffer.writeWireString(client)
    }

    static func read(from buffer: inout ByteBuffer) throws(ProtocolError) -> Hello {
        guard try buffer.readWireInteger(as: UInt32.self) == magic else {
            throw .invalidField("hello magic is not \"SYNC\"")
        }
        let low: UInt16 = try buffer.readWireInteger()
        let high: UInt16 = try buffer.readWireInteger()
        guard low <= high else { throw .invalidField("hello version range \(low)...\(high)") }
        return Hello(versions: low...high, client: try buffer.readWireString())
    }
}

/// What a connection may do, decided by the server from the peer's credentials.
public enum AccessLevel: UInt8, Hashable, Sendable, CustomStringConvertible {
    /// Subscribe and ask for status only.
    case watch = 0
    /// Also sync-now, cancel, pause, resume and reload.
    case control = 1

    public var description: String { self == .watch ? "watch" : "control" }
}

/// The server's answer to ``Hello``.
public struct Welcome: Hashable, Sendable {
    public var version: UInt16
    public var access: AccessLevel
    /// The sequence number of the latest event the server has published.
    public var seq: UInt64
    /// Free text naming the server ("syncd 1.0").
    public var server: String
    /// Chosen anew each time the daemon starts (0 from a server that predates the field): a
    /// viewer that sees it change knows the daemon restarted, rather than that it missed events.
    public var instance: UInt64

    public init(version: UInt16, access: AccessLevel, seq: UInt64, server: String, instance: UInt64 = 0) {
        self.version = version
        self.access = access
        self.seq = seq
        self.server = server
        self.instance = instance
    }

    func write(to buffer: inout ByteBuffer) {
        buffer.writeInteger(version)
        buffer.writeInteger(access.rawValue)
        buffer.writeInteger(seq)
        buffer.writeWireString(server)
        buffer.writeInteger(instance)
    }

    static func read(from buffer: inout ByteBuffer) throws(ProtocolError) -> Welcome {
        let version: UInt16 = try buffer.readWireInteger()
        let rawAccess: UInt8 = try buffer.readWireInteger()
        guard let access = AccessLevel(rawValue: rawAccess) else {
            throw .invalidField("access level \(rawAccess)")
        }
        let seq: UInt64 = try buffer.readWireInteger()
        let server = try buffer.readWireString()
        // Appended in 0.2 (§9: receivers ignore what they do not know, and older senders lack it).
        let instance: UInt64 = buffer.readableBytes >= 8 ? try buffer.readWireInteger() : 0
        return Welcome(version: version, access: access, seq: seq, server: server, instance: instance)
    }
}

/// The last frame before the sender closes the connection: why it is closing.
public struct Goodbye: Hashable, Sendable {
    public var code: SyncStatus
    public var message: String

    public init(code: SyncStatus, message: String) {
        self.code = code
        self.message = message
    }

    func write(to buffer: inout ByteBuffer) {
        buffer.writeInteger(code.rawValue)
        buffer.writeWireString(message)
    }

    static func read(from buffer: inout ByteBuffer) throws(ProtocolError) -> Goodbye {
        let code = SyncStatus(rawValue: try buffer.readWireInteger())
        return Goodbye(code: code, message: try buffer.readWireString())
    }
}
