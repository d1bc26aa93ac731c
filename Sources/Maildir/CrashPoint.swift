/// Points inside the multi-step operations where tests stop them, to leave exactly the file-system
/// state a `kill -9` there would leave. Production code never sets a hook.
enum CrashPoint: String, CaseIterable, Sendable {
    // DeliveryBatch.commit
    case deliveryFilesSynced, deliveryFirstRenamed, deliveryRenamed, deliveryDirectoriesSynced
    // Every map write (inside any operation)
    case mapTemporaryWritten, mapRenamed
    // MaildirFolder.setFlags
    case flagsIntentCommitted, flagsFirstRenamed, flagsDirectoriesSynced
    // MaildirFolder.expunge
    case expungeIntentCommitted, expungeFirstUnlinked, expungeDirectoriesSynced
    // MaildirFolder.adoptUploads
    case uploadFirstRenamed, uploadDirectoriesSynced
    // MaildirFolder.resetFolder
    case resetFirstMoved, resetDirectoriesSynced
}

/// Called at each ``CrashPoint``; throwing stops the operation there without any cleanup.
typealias CrashHook = (CrashPoint) throws -> Void
