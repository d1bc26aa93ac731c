/// What opening a folder had to repair (see ``MaildirFolder/lastRecovery``). Every field is empty
/// after a clean shutdown.
public struct RecoveryReport: Sendable, Equatable {
    /// UIDs whose files were in `cur/` or `new/` with this folder's markers but missing from the map
    /// (a delivery interrupted after its renames, before its map commit); they are in the map now.
    public var adopted: [UInt32] = []
    /// Our files that could not be adopted — another UIDVALIDITY, a UID the map gives to another file,
    /// a size that does not match `S=` — moved (never deleted) to `.syncd-quarantine/recovered-<time>/`.
    /// Paths relative to the folder's directory.
    public var quarantined: [String] = []
    /// Temporary files of interrupted deliveries deleted from `tmp/` (ours, plus other programs'
    /// older than 36 hours as the Maildir spec allows).
    public var removedTemporaryFiles = 0
    /// Expunges that were interrupted and have now been completed.
    public var completedExpunges: [UInt32] = []
    /// Flag changes from the server that were interrupted and have now been applied to the files.
    public var completedFlagChanges: [UInt32] = []
    /// Mapped UIDs whose file is gone (deleted by the user or a mail client). They stay in the map;
    /// ``MaildirFolder/scanLocalChanges()`` reports them too.
    public var vanished: [UInt32] = []

    /// An empty report.
    public init() {}

    /// Whether recovery found nothing to do.
    public var isEmpty: Bool { self == RecoveryReport() }
}

/// Local changes made by the user's mail client since the last sync, for upload to the server.
public struct LocalChanges: Sendable, Equatable {
    /// One message whose flags the user changed.
    public struct FlagChange: Sendable, Hashable {
        /// The message's UID.
        public var uid: UInt32
        /// The flags last agreed with the server (the map's).
        public var synced: MessageFlags
        /// The flags the file carries now.
        public var local: MessageFlags

        /// A change of `uid` from `synced` to `local`.
        public init(uid: UInt32, synced: MessageFlags, local: MessageFlags) {
            self.uid = uid
            self.synced = synced
            self.local = local
        }
    }

    /// Messages whose file flags differ from the map's, ascending by UID. A message in `new/` counts
    /// as having no flags.
    public var flagChanges: [FlagChange] = []
    /// Mapped UIDs whose file is gone: deleted locally, ascending.
    public var vanished: [UInt32] = []
    /// Message files without this folder's markers (put there by a mail client or another
    /// delivery agent, or moved in from another folder): `cur/<name>` or `new/<name>`, sorted.
    public var unknownFiles: [String] = []

    /// No changes.
    public init() {}

    /// Whether there is nothing to upload.
    public var isEmpty: Bool { self == LocalChanges() }
}

/// What ``MaildirFolder/resetFolder(newUIDValidity:)`` did with the old messages.
public struct ResetReport: Sendable, Equatable {
    /// How many message files were moved into the quarantine.
    public var movedMessages: Int
    /// The quarantine Maildir holding them (absolute path), or `nil` if there was nothing to move.
    public var quarantine: String?
}
