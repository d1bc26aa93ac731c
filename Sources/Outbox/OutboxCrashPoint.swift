/// Points inside the outbox's multi-step changes where tests stop them, leaving exactly the
/// file-system state a `kill -9` there would leave. Production code never sets a hook.
enum OutboxCrashPoint: String, CaseIterable, Sendable {
    // take(): preparing a queued message
    case sidecarTemporaryWritten, sidecarWritten, copyTemporaryWritten, copyRenamed, originalUnlinked
    // sent(...)
    case sentCommitted, sentFiled, preparedRemoved
    // failed(...)
    case failedCommitted, failedFiled
}

/// Called at each ``OutboxCrashPoint``; throwing stops the operation there without any cleanup.
typealias OutboxCrashHook = @Sendable (OutboxCrashPoint) throws -> Void
