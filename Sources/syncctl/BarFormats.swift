import ArgumentParser
import Foundation
import SyncJSON
import SyncProtocol

/// What `syncctl watch --format` prints: one update per change, in a status bar's own format.
enum BarFormat: String, CaseIterable, ExpressibleByArgument, Sendable {
    /// waybar's custom module with `return-type: json`: one object per line.
    case waybar
    /// The i3bar protocol (i3bar, swaybar): a header, then an endless array of block arrays.
    case i3bar
    /// An i3blocks block with `interval=persist` and `format=json`: one object per line.
    case i3blocks
    /// One plain line per change.
    case line
}

/// Everything a bar shows, worked out once from the stores and then written in each format.
struct BarView: Equatable {
    /// disconnected, syncing, auth-required, error, paused or idle: waybar's class and alt.
    var state: String
    /// "⟳ mail 42%", "✗ mail", "✓", "syncd down".
    var text: String
    /// For a narrow bar: "⟳ 42%", "✗", "✓".
    var short: String
    /// One line per store.
    var tooltip: String
    /// The plain line `--format line` prints.
    var line: String
    /// How far the running syncs are, together (0 when nothing runs or the totals are unknown).
    var percentage: Int
    /// i3bar's colour for the state; nil leaves the bar's own.
    var color: String?
}

/// New mail a bar has seen a store report (its NewMessages events) since the bar started.
struct NewMail: Equatable {
    var count: Int
    /// When the first of them was reported.
    var since: Timestamp
    /// The sender and subject of the last message an event named (the newest when it named all).
    var latest: String?
}

enum Bar {
    /// The colours i3bar and i3blocks show per state (idle keeps the bar's own).
    static let colors: [String: String] = [
        "syncing": "#5FAFFF", "error": "#FF5F5F", "auth-required": "#FFAF00", "paused": "#A8A8A8",
        "disconnected": "#A8A8A8",
    ]

    /// The view of `stores`; `connected` false while syncd cannot be reached, `reason` why.
    static func view(_ stores: [StoreStatus], connected: Bool, reason: String? = nil, newMail: [String: NewMail] = [:],
                     now: Date = Date()) -> BarView {
        guard connected else {
            let why = reason.map { ": " + $0 } ?? ""
            return BarView(state: "disconnected", text: "syncd down", short: "syncd down",
                           tooltip: "syncd is not reachable\(why); reconnecting", line: "syncd down\(why)",
                           percentage: 0, color: colors["disconnected"])
        }
        let running = stores.filter { $0.run != nil }
        let authRequired = stores.filter { state(of: $0) == "auth-required" }
        let failing = stores.filter { state(of: $0) == "error" }
        let tooltip = stores.isEmpty ? "no stores are configured"
            : stores.map { describe($0, newMail: newMail[$0.name], now: now) }.joined(separator: "\n")
        var view = BarView(state: "idle", text: "✓", short: "✓", tooltip: tooltip, line: "", percentage: 0, color: nil)
        let failures = failing.map { "\($0.name) (\(Format.result($0.info.lastResult)))" }.joined(separator: ", ")
        var problems: [String] = []
        if !authRequired.isEmpty { problems.append("auth-required: " + names(authRequired, limit: .max)) }
        if !failing.isEmpty { problems.append("error: " + failures) }
        if !running.isEmpty {
            view.state = "syncing"
            let percent = overall(running)
            view.percentage = percent ?? 0
            let amount = percent.map { " \($0)%" } ?? ""
            view.text = "⟳ " + names(running) + amount
            view.short = "⟳" + amount
            let each = running.map { store in
                [store.name, store.run?.fraction.map { "\(Int(($0 * 100).rounded(.down)))%" }].compactMap { $0 }.joined(separator: " ")
            }
            view.line = (["syncing " + each.joined(separator: ", ")] + problems).joined(separator: "; ")
        } else if !authRequired.isEmpty {
            view.state = "auth-required"
            view.text = "✗ " + names(authRequired) + ": log in"
            view.short = "✗"
            view.line = problems.joined(separator: "; ")
        } else if !failing.isEmpty {
            view.state = "error"
            view.text = "✗ " + names(failing)
            view.short = "✗"
            view.line = problems.joined(separator: "; ")
        } else if !stores.isEmpty, stores.allSatisfy(\.info.paused) {
            view.state = "paused"
            view.text = "⏸"
            view.short = "⏸"
            view.line = "paused: " + names(stores, limit: .max)
        } else {
            let paused = stores.filter(\.info.paused)
            view.line = stores.isEmpty ? "idle: no stores are configured"
                : "idle: \(stores.count) store\(stores.count == 1 ? "" : "s")"
                    + (paused.isEmpty ? "" : ", paused: " + names(paused, limit: .max))
        }
        // New mail, whatever the state: "✓ ✉ 3", "⟳ mail 42% ✉ 3".
        let arrived = stores.compactMap { store in newMail[store.name].map { (store.name, $0.count) } }.filter { $0.1 > 0 }
        if !arrived.isEmpty {
            let total = arrived.reduce(0) { $0 + $1.1 }
            view.text += " ✉ \(total)"
            view.short += " ✉\(total)"
            view.line += "; new: " + arrived.map { "\($0.1) in \($0.0)" }.joined(separator: ", ")
        }
        view.color = colors[view.state]
        return view
    }

    /// A store's state for the bar: ``Format/state(_:)``, with a store that waits for a login
    /// (``StoreInfo/authRequired``) or whose last login was refused as auth-required: someone
    /// has to act, a retry will not help.
    static func state(of store: StoreStatus) -> String {
        let state = Format.state(store)
        if store.run == nil, !store.info.paused,
           store.info.authRequired || store.info.lastResult == .authFailed || store.info.lastResult == .authRequired {
            return "auth-required"
        }
        return state == "retrying" ? "error" : state
    }

    /// "mail", "mail +2": the first name and how many more.
    static func names(_ stores: [StoreStatus], limit: Int = 1) -> String {
        let shown = stores.prefix(limit).map(\.name).joined(separator: ", ")
        return stores.count > limit ? "\(shown) +\(stores.count - limit)" : shown
    }

    /// Items done of all the running runs' items, in percent; nil if no run knows its total.
    static func overall(_ running: [StoreStatus]) -> Int? {
        let counted = running.compactMap(\.run).filter { $0.max > 0 }
        guard !counted.isEmpty else { return nil }
        let done = counted.reduce(0.0) { $0 + Double(min($1.index, $1.max)) }
        let total = counted.reduce(0.0) { $0 + Double($1.max) }
        return Int((done / total * 100).rounded(.down))
    }

    /// The tooltip's line for a store, without relative times ("2m ago" would change the output
    /// every minute with nothing happening): "mail: idle, last ok at 14:02, next at 14:17".
    static func describe(_ store: StoreStatus, newMail: NewMail? = nil, now: Date) -> String {
        let info = store.info
        var parts: [String]
        // Push and new mail end the line, whatever the state.
        var tail: [String] = []
        if info.push != .notConfigured { tail.append("push " + Format.push(info)) }
        if let newMail, newMail.count > 0 {
            tail.append("\(newMail.count) new since \(clock(newMail.since, now: now))" + (newMail.latest.map { ", the latest from " + $0 } ?? ""))
        }
        if let run = store.run {
            parts = ["syncing" + (store.info.stalled ? " (stalled)" : "")]
            if let fraction = run.fraction { parts[0] += " \(Int((fraction * 100).rounded(.down)))%" }
            let counter = Format.counter(step: run.step, index: run.index, max: run.max)
            if !counter.isEmpty { parts[0] += " " + counter }
            if run.warnings > 0 { parts.append("\(run.warnings) warning\(run.warnings == 1 ? "" : "s")") }
            if run.errors > 0 { parts.append("\(run.errors) error\(run.errors == 1 ? "" : "s")") }
            return "\(store.name): " + (parts + tail).joined(separator: ", ")
        }
        let state = state(of: store)
        parts = [state == "error" && info.retry > 0 ? "retrying" : state]
        if let result = info.lastResult {
            let when = info.lastRunEnded.map { " at " + clock($0, now: now) } ?? ""
            parts.append(result.isOK ? "last ok\(when)" : "last \(result.text) [\(result.name)]\(when)")
        } else {
            parts.append("never run")
        }
        if info.paused {
            // A paused store has no next run.
        } else if info.authRequired {
            parts.append("needs a login: syncctl login \(store.name)")
        } else if info.queuePlace > 0 {
            parts.append("queued, \(Format.ordinal(info.queuePlace)) in line")
        } else if info.retry > 0 {
            let when = info.nextRun.map { " at " + clock($0, now: now) } ?? ""
            parts.append("retry \(info.retry)\(when)" + (info.retryReason.map { " after: " + $0 } ?? ""))
        } else if let next = info.nextRun {
            parts.append("next at " + clock(next, now: now))
        } else if info.interval == 0 {
            parts.append("on demand only")
        }
        return "\(store.name): " + (parts + tail).joined(separator: ", ")
    }

    /// "14:02" today, "Mar 3 14:02" on another day, in local time.
    static func clock(_ time: Timestamp, now: Date) -> String {
        let date = Date(timeIntervalSince1970: time.seconds)
        let calendar = Calendar.current
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone.current
        formatter.dateFormat = calendar.isDate(date, inSameDayAs: now) ? "HH:mm" : "MMM d HH:mm"
        return formatter.string(from: date)
    }

    // MARK: The formats

    /// The bytes written before the first update: i3bar's header and the start of its array.
    static func preamble(_ format: BarFormat) -> String {
        format == .i3bar ? "{\"version\":1}\n[\n" : ""
    }

    /// One update, ending in a newline.
    static func render(_ view: BarView, as format: BarFormat, instance: String) -> String {
        switch format {
        case .waybar:
            // waybar reads text and tooltip as Pango markup (unless the module sets "escape").
            return json([
                "text": pango(view.text), "alt": view.state, "tooltip": pango(view.tooltip),
                "class": view.state, "percentage": view.percentage,
            ]) + "\n"
        case .i3bar:
            return "[" + json(block(view, instance: instance)) + "],\n"
        case .i3blocks:
            return json(block(view, instance: instance)) + "\n"
        case .line:
            return view.line + "\n"
        }
    }

    private static func block(_ view: BarView, instance: String) -> [String: Any] {
        var block: [String: Any] = [
            "name": "syncd", "instance": instance, "full_text": view.text, "short_text": view.short,
        ]
        if let color = view.color { block["color"] = color }
        return block
    }

    private static func json(_ object: [String: Any]) -> String {
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    /// Escapes the characters Pango markup gives meaning to.
    static func pango(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "'": out += "&#39;"
            case "\"": out += "&quot;"
            default: out.append(character)
            }
        }
        return out
    }
}
