import Foundation
import SyncJSON
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

    /// idle / syncing / stalled / paused / login-required / queued / retrying / error.
    static func state(_ store: StoreStatus) -> String { StoreWords.state(store) }

    /// "42% INBOX", "17 INBOX" (no max), "" when idle.
    static func progress(_ run: RunStatus?) -> String {
        guard let run else { return "" }
        var text = run.fraction.map { "\(Int(($0 * 100).rounded(.down)))%" } ?? (run.index > 0 ? "\(run.index)" : "")
        if let step = run.step { text += (text.isEmpty ? "" : " ") + step }
        return text
    }

    /// When the store runs next, in words: "in 13m", "queued, 2nd in line", "retry 2 in 47s",
    /// "paused", "-" (on demand only).
    static func next(_ info: StoreInfo, now: Timestamp = .now()) -> String {
        if info.paused { return "paused" }
        if info.authRequired { return "after a login" }
        if info.queuePlace > 0 { return "queued, \(ordinal(info.queuePlace)) in line" }
        if info.retry > 0 { return "retry \(info.retry) \(when(info, now: now))" }
        return when(info, now: now)
    }

    /// "in 3m", "now", "when online" (a scheduled run or retry waits for the network), "-".
    static func when(_ info: StoreInfo, now: Timestamp = .now()) -> String {
        if info.push == .offline, info.nextRun == nil, info.interval > 0 || info.retry > 0 { return "when online" }
        return until(info.nextRun, now: now)
    }

    /// "listening (IDLE, 3 folders)", "reconnecting in 20s (connection reset)", "not offered by server".
    /// "viewers: 3 watching, 1 dropped as too slow since syncd started".
    static func viewers(_ counts: ViewerCounts) -> String {
        "viewers: \(counts.watching) watching, \(counts.droppedAsTooSlow) dropped as too slow since syncd started"
    }

    static func push(_ info: StoreInfo) -> String {
        guard let detail = info.pushDetail, !detail.isEmpty else { return info.push.description }
        // "in 20s: connection reset" reads as "reconnecting in 20s (connection reset)".
        if info.push == .reconnecting, detail.hasPrefix("in "), let colon = detail.firstIndex(of: ":") {
            let reason = detail[detail.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            return "reconnecting \(detail[..<colon]) (\(reason))"
        }
        return "\(info.push) (\(detail))"
    }

    /// "3 new in INBOX: Alice Example: Lunch?, Bob: Re: the plan, ...".
    static func newMessages(_ news: NewMessages) -> String {
        var text = "\(news.count) new in \(news.folder)"
        let shown = news.summaries.map { "\(sender($0.from)): \($0.subject)" }
        if !shown.isEmpty { text += ": " + shown.joined(separator: "; ") }
        if news.count > news.summaries.count, !shown.isEmpty { text += "; ..." }
        return text
    }

    /// The name in `Alice Example <alice@example.org>`, or the address when there is none.
    static func sender(_ from: String) -> String {
        guard let open = from.firstIndex(of: "<") else { return from }
        let name = from[..<open].trimmingCharacters(in: CharacterSet(charactersIn: " \""))
        return name.isEmpty ? String(from[from.index(after: open)...].dropLast(from.hasSuffix(">") ? 1 : 0)) : name
    }

    /// "1st", "2nd", "3rd", "11th", "22nd".
    static func ordinal(_ n: UInt32) -> String {
        let suffix: String
        switch (n % 10, n % 100) {
        case (_, 11...13): suffix = "th"
        case (1, _): suffix = "st"
        case (2, _): suffix = "nd"
        case (3, _): suffix = "rd"
        default: suffix = "th"
        }
        return "\(n)\(suffix)"
    }

    /// "every 15m", "every 1h30m", "on demand only": as a config would say it.
    static func interval(_ seconds: UInt32) -> String {
        guard seconds > 0 else { return "on demand only" }
        let parts = [(seconds / 86400, "d"), (seconds % 86400 / 3600, "h"), (seconds % 3600 / 60, "m"), (seconds % 60, "s")]
        return "every " + parts.filter { $0.0 > 0 }.map { "\($0.0)\($0.1)" }.joined()
    }

    /// "download-hierarchy, download-contents".
    static func flags(_ flags: SyncFlags) -> String {
        let names = SyncFlags.names.filter { flags.contains($0.flag) }.map(\.name)
        return names.isEmpty ? "none" : names.joined(separator: ", ")
    }

    static func result(_ status: SyncStatus?) -> String {
        status?.name ?? "-"
    }

    /// ISO 8601 UTC with milliseconds, for JSON and plain lines.
    static func iso(_ time: Timestamp) -> String { StoreWords.iso(time) }
}
