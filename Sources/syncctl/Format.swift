import Foundation
import SyncProtocol

/// How syncctl words times, states and results, in one place for the table, watch and JSON.
enum Format {
    /// "12s ago", "5m ago", "never".
    static func age(_ time: Timestamp?, now: Timestamp = .now()) -> String {
        guard let time else { return "never" }
        return span(Double(now.rawValue) / 1e6 - time.seconds) + " ago"
    }

    /// "in 3m", "now", "-".
    static func until(_ time: Timestamp?, now: Timestamp = .now()) -> String {
        guard let time else { return "-" }
        let seconds = time.seconds - Double(now.rawValue) / 1e6
        return seconds < 1 ? "now" : "in " + span(seconds)
    }

    static func span(_ seconds: Double) -> String {
        let s = max(0, Int(seconds.rounded()))
        switch s {
        case ..<60: return "\(s)s"
        case ..<3600: return "\(s / 60)m"
        case ..<86400: return "\(s / 3600)h"
        default: return "\(s / 86400)d"
        }
    }

    /// "1m12s" for a run's duration.
    static func duration(_ seconds: Double) -> String {
        let s = max(0, Int(seconds.rounded()))
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s / 3600)h\(String(format: "%02d", s % 3600 / 60))m"
    }

    /// idle / syncing / stalled / paused / error.
    static func state(_ store: StoreStatus) -> String {
        if store.info.paused { return "paused" }
        if store.run != nil { return store.info.stalled ? "stalled" : "syncing" }
        // A run someone cancelled did not fail; the store is not in error.
        if let result = store.info.lastResult, result.isFailure, result != .cancelled { return "error" }
        return "idle"
    }

    /// "42% INBOX", "17 INBOX" (no max), "" when idle.
    static func progress(_ run: RunStatus?) -> String {
        guard let run else { return "" }
        var text = run.fraction.map { "\(Int(($0 * 100).rounded(.down)))%" } ?? (run.index > 0 ? "\(run.index)" : "")
        if let step = run.step { text += (text.isEmpty ? "" : " ") + step }
        return text
    }

    static func result(_ status: SyncStatus?) -> String {
        status?.name ?? "-"
    }

    /// ISO 8601 UTC with milliseconds, for JSON and plain lines.
    static func iso(_ time: Timestamp) -> String {
        let date = Date(timeIntervalSince1970: time.seconds)
        return isoFormatter.string(from: date)
    }

    nonisolated(unsafe) private static let isoFormatter: ISO8601DateFormatter = {
        // Used from the main task only; ISO8601DateFormatter is not Sendable.
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()
}
