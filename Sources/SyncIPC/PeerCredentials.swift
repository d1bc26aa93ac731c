#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import SyncProtocol

/// Who is on the other end of a Unix socket, from `SO_PEERCRED` at accept time.
public struct PeerCredentials: Hashable, Sendable, CustomStringConvertible {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }

    public var description: String { "pid \(pid) uid \(uid) gid \(gid)" }

    /// Glibc hides `struct ucred` behind `_GNU_SOURCE`; this has the same layout.
    struct UCred: Sendable {
        var pid: Int32 = 0
        var uid: UInt32 = 0
        var gid: UInt32 = 0
    }

    /// Reads the credentials of the peer of a connected Unix-domain socket channel.
    static func of(_ channel: Channel) -> EventLoopFuture<PeerCredentials> {
        guard let provider = channel as? SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(ChannelError.operationUnsupported)
        }
        let future: EventLoopFuture<UCred> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        return future.map { PeerCredentials(pid: $0.pid, uid: $0.uid, gid: $0.gid) }
    }

    /// The user's name, if the user database knows the uid.
    public var userName: String? {
        guard let entry = getpwuid(uid_t(uid)) else { return nil }
        return String(cString: entry.pointee.pw_name)
    }

    /// Whether the peer's user belongs to `group`: its primary group at connect time, or a
    /// supplementary group in the group database.
    public func isMember(ofGroupID group: gid_t) -> Bool {
        if gid == group { return true }
        guard let entry = getpwuid(uid_t(uid)) else { return false }
        var count: Int32 = 64
        while true {
            var groups = [gid_t](repeating: 0, count: Int(count))
            let needed = count
            if getgrouplist(entry.pointee.pw_name, entry.pointee.pw_gid, &groups, &count) >= 0 {
                return groups.prefix(Int(count)).contains(group)
            }
            if count <= needed { count = needed * 2 }  // glibc updates count; others may not
        }
    }
}

/// Decides what a connecting peer may do.
public struct AccessPolicy: Sendable {
    private let decide: @Sendable (PeerCredentials) -> AccessLevel
    /// Shown to a peer refused a control request, so it knows what to do about it.
    public let controlHint: String

    public init(controlHint: String, _ decide: @escaping @Sendable (PeerCredentials) -> AccessLevel) {
        self.decide = decide
        self.controlHint = controlHint
    }

    public func access(for peer: PeerCredentials) -> AccessLevel { decide(peer) }

    /// Root and members of `group` control; everyone else who can open the socket only watches.
    /// A group that does not exist grants nothing beyond root.
    public static func controlGroup(_ group: String) -> AccessPolicy {
        let gid: gid_t? = getgrnam(group).map { $0.pointee.gr_gid }
        return AccessPolicy(controlHint: "control needs root or membership in group '\(group)' (sudo usermod -aG \(group) $USER, then log in again)") { peer in
            if peer.uid == 0 { return .control }
            if let gid, peer.isMember(ofGroupID: gid) { return .control }
            return .watch
        }
    }

    /// Root and the given user control: for a daemon run by hand as that user.
    public static func owner(uid: UInt32) -> AccessPolicy {
        AccessPolicy(controlHint: "control needs root or uid \(uid)") { peer in
            peer.uid == 0 || peer.uid == uid ? .control : .watch
        }
    }

    /// Every peer may only watch.
    public static let watchOnly = AccessPolicy(controlHint: "this server accepts no control requests") { _ in .watch }
}
