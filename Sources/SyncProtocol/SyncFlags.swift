/// What a run synchronises: MAPI's `MAPISIB.ulFlags`, same bit values.
public struct SyncFlags: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `SYNC_UPLOAD_HIERARCHY`: push local folder changes.
    public static let uploadHierarchy = SyncFlags(rawValue: 0x0000_0001)
    /// `SYNC_DOWNLOAD_HIERARCHY`: pull remote folder changes.
    public static let downloadHierarchy = SyncFlags(rawValue: 0x0000_0002)
    /// `SYNC_UPLOAD_CONTENTS`: push local item changes.
    public static let uploadContents = SyncFlags(rawValue: 0x0000_0040)
    /// `SYNC_DOWNLOAD_CONTENTS`: pull remote items.
    public static let downloadContents = SyncFlags(rawValue: 0x0000_0080)
    /// `SYNC_OUTGOING_MAIL`: send what waits in the outbox.
    public static let outgoingMail = SyncFlags(rawValue: 0x0000_0200)
    /// Not MAPI's: the user confirms deletions the safety valve refuses (a run that would delete
    /// more than a share of a folder's messages on the server, such as after the local copy was
    /// emptied); `syncctl sync STORE --allow-mass-delete`.
    public static let allowMassDelete = SyncFlags(rawValue: 0x0000_0800)
    /// `SYNC_GLOBAL_HEADERS`: headers only; bodies come with a later full run.
    public static let headersOnly = SyncFlags(rawValue: 0x0200_0000)
    /// `SYNC_ON_DEMAND`: a person asked for this run; it goes before scheduled ones.
    public static let onDemand = SyncFlags(rawValue: 0x2000_0000)

    /// Everything both ways: what a plain scheduled run does.
    public static let full: SyncFlags = [
        .uploadHierarchy, .downloadHierarchy, .uploadContents, .downloadContents, .outgoingMail,
    ]

    /// Names as used on the command line and in `docs/PROTOCOL.md`, in bit order.
    public static let names: [(flag: SyncFlags, name: String)] = [
        (.uploadHierarchy, "upload-hierarchy"),
        (.downloadHierarchy, "download-hierarchy"),
        (.uploadContents, "upload-contents"),
        (.downloadContents, "download-contents"),
        (.outgoingMail, "outgoing-mail"),
        (.allowMassDelete, "allow-mass-delete"),
        (.headersOnly, "headers-only"),
        (.onDemand, "on-demand"),
    ]

    public var description: String {
        var parts = Self.names.filter { contains($0.flag) }.map(\.name)
        let unknown = rawValue & ~Self.names.reduce(0) { $0 | $1.flag.rawValue }
        if unknown != 0 { parts.append("0x" + String(unknown, radix: 16)) }
        return parts.isEmpty ? "none" : parts.joined(separator: ",")
    }
}

/// Why a run started. Unknown values from a newer peer are kept as they are.
public struct RunTrigger: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The store's interval came round.
    public static let schedule = RunTrigger(rawValue: 0)
    /// A person or a script asked (`sync-now`).
    public static let onDemand = RunTrigger(rawValue: 1)
    /// The daemon started (or the store was added).
    public static let startup = RunTrigger(rawValue: 2)
    /// A retry after a failed or stalled run.
    public static let retry = RunTrigger(rawValue: 3)
    /// A change seen between runs (an IMAP IDLE update, a file changed in the Maildir): a
    /// targeted run the store's listener asked for (added in 0.4).
    public static let push = RunTrigger(rawValue: 4)

    public var description: String {
        switch self {
        case .schedule: return "schedule"
        case .onDemand: return "on-demand"
        case .startup: return "startup"
        case .retry: return "retry"
        case .push: return "push"
        default: return "trigger-\(rawValue)"
        }
    }
}
