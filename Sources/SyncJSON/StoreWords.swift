import Foundation
import Synchronization
import SyncProtocol

/// The words every viewer uses for a store's state and for times, so `syncctl status` and the web
/// dashboard never disagree about what "error" or "queued" means.
public enum StoreWords {
    /// idle / syncing / stalled / paused / login-required / queued / retrying / error.
    public static func state(_ store: StoreStatus) -> String {
        if store.info.paused { return "paused" }
        if store.info.authRequired, store.run == nil { return "login-required" }
        if store.run != nil { return store.info.stalled ? "stalled" : "syncing" }
        if store.info.queuePlace > 0 { return "queued" }
        if store.info.retry > 0 { return "retrying" }
        // A run someone cancelled did not fail; the store is not in error.
        if let result = store.info.lastResult, result.isFailure, result != .cancelled { return "error" }
        return "idle"
    }

    /// ISO 8601 UTC with milliseconds, for JSON and plain lines.
    public static func iso(_ time: Timestamp) -> String {
        let date = Date(timeIntervalSince1970: time.seconds)
        return isoFormatter.withLock { $0.string(from: date) }
    }

    // ISO8601DateFormatter is not Sendable; the lock lets the server's tasks share one.
    private static let isoFormatter: Mutex<ISO8601DateFormatter> = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return Mutex(formatter)
    }()
}
