import Foundation
import SyncIPC
import SyncJSON
import SyncProtocol
#if canImport(Glibc)
import Glibc
#endif

/// What `watch` and `sync --wait` show while runs go on, like Outlook's Send/Receive dialog.
///
/// On a terminal: one line per store with a bar, redrawn in place (at most 20 times a second, so a
/// Progress flood does not flicker), with errors, warnings and run summaries printed above the
/// bars. Otherwise: plain timestamped lines (Progress at most once a second per store), or with
/// `--json` one JSON object per event.
@MainActor
final class LiveView {
    enum Mode {
        case terminal
        case plain
        case json
    }

    let mode: Mode
    private let filter: Set<String>
    private(set) var table = StoreTable(seq: 0)
    private var drawnLines = 0
    private var dirty = false
    private var redrawPending = false
    private var lastPlainProgress: [String: Double] = [:]
    /// Per store, how fast its current run moves.
    private var paces: [String: Pace] = [:]
    private var out = ""

    init(mode: Mode, stores: [String]) {
        self.mode = mode
        self.filter = Set(stores)
    }

    static func mode(json: Bool) -> Mode {
        if json { return .json }
        return isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["TERM"] != "dumb" ? .terminal : .plain
    }

    private var shown: [StoreStatus] {
        table.names.filter { filter.isEmpty || filter.contains($0) }.compactMap { table[$0] }
    }

    // MARK: Input

    func show(_ snapshot: Snapshot) {
        table = StoreTable(snapshot)
        switch mode {
        case .json:
            JSONOutput.printLine(["type": "snapshot", "seq": snapshot.seq,
                                  "stores": shown.map { try! JSONOutput.object(JSONOutput.store($0)) }])
        case .plain:
            for store in shown { line("\(store.name): \(summary(store))") }
        case .terminal:
            redraw()
        }
    }

    func apply(_ event: SyncEvent) {
        let before = table[event.store]
        table.apply(event)
        measure(event)
        guard filter.isEmpty || filter.contains(event.store) else { return }
        switch mode {
        case .json:
            JSONOutput.printLine(JSONOutput.event(event))
        case .plain:
            plain(event, before: before)
        case .terminal:
            if let message = message(for: event, before: before) { above(message) } else { markDirty() }
        }
    }

    /// Follows the pace of each store's current run.
    private func measure(_ event: SyncEvent) {
        guard let run = table[event.store]?.run, run.id == event.run else {
            if event.doneOrRemoved { paces[event.store] = nil }
            return
        }
        guard case .progress(_, let index, _) = event.kind else { return }
        if paces[event.store]?.run != run.id { paces[event.store] = Pace(run: run.id) }
        paces[event.store]?.record(index: index, at: event.time.seconds)
    }

    /// "40/s, ETA 9s" for a store's run, "" while unknown or stalled.
    private func pace(_ store: StoreStatus) -> String {
        guard let run = store.run, !store.info.stalled, let pace = paces[store.name], pace.run == run.id else { return "" }
        return Format.pace(rate: pace.rate, remaining: pace.remaining(max: run.max))
    }

    func notice(_ text: String) {
        switch mode {
        case .json: JSONOutput.printLine(["type": "notice", "message": text])
        case .plain: line(text)
        case .terminal: above(text)
        }
    }

    /// On a terminal: redraws the bars once a second (ages such as "2m ago" move on) until the
    /// task is cancelled; changes between those are drawn by ``markDirty()``. Elsewhere: nothing.
    func startTicking() -> Task<Void, Never> {
        Task { @MainActor [self] in
            while mode == .terminal, !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                redraw()
            }
        }
    }

    /// Asks for a redraw within 50 ms: a Progress flood is drawn at most 20 times a second, and an
    /// idle view wakes nobody.
    private func markDirty() {
        dirty = true
        guard !redrawPending else { return }
        redrawPending = true
        Task { @MainActor [self] in
            try? await Task.sleep(for: .milliseconds(50))
            redrawPending = false
            tick()
        }
    }

    /// Redraws the bars if anything changed since the last redraw.
    func tick() {
        if mode == .terminal, dirty { redraw() }
    }

    // MARK: Terminal

    private var columns: Int {
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }

    /// Erases the bars, prints `text`, and draws the bars again below it.
    private func above(_ text: String) {
        eraseBars()
        out += text + "\n"
        drawBars()
        flush()
    }

    private func redraw() {
        eraseBars()
        drawBars()
        flush()
    }

    private func eraseBars() {
        if drawnLines > 0 { out += "\u{1B}[\(drawnLines)A\r\u{1B}[J" }
        drawnLines = 0
    }

    private func drawBars() {
        let width = columns
        let stores = shown
        let nameWidth = min(24, stores.map(\.name.count).max() ?? 0)
        for store in stores {
            out += String(bar(store, nameWidth: nameWidth, width: width).prefix(width - 1)) + "\n"
            drawnLines += 1
        }
        dirty = false
    }

    private func bar(_ store: StoreStatus, nameWidth: Int, width: Int) -> String {
        let name = store.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0)
        guard let run = store.run else { return "\(name)  \(summary(store))" }
        let barWidth = max(10, min(40, width - nameWidth - 40))
        let filled = Int((run.fraction ?? 0) * Double(barWidth))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: barWidth - filled)
        let percent = run.fraction.map { String(format: "%3d%%", Int(($0 * 100).rounded(.down))) } ?? "   ?"
        var text = "\(name)  [\(bar)] \(percent)"
        let counter = Format.counter(step: run.step, index: run.index, max: run.max)
        if !counter.isEmpty { text += "  \(counter)" }
        let speed = pace(store)
        if !speed.isEmpty { text += "  \(speed.replacingOccurrences(of: ", ", with: "  "))" }
        if store.info.stalled { text += "  (stalled)" }
        return text
    }

    // MARK: Plain lines

    private func plain(_ event: SyncEvent, before: StoreStatus?) {
        if case .progress = event.kind {
            // A line a second per store is enough for a log; the last one comes with Done.
            let now = Double(event.time.rawValue) / 1e6
            if let last = lastPlainProgress[event.store], now - last < 1 { return }
            lastPlainProgress[event.store] = now
            let speed = table[event.store].map(pace) ?? ""
            line("\(event.store): \(Format.progress(table[event.store]?.run))\(speed.isEmpty ? "" : ", " + speed)", at: event.time)
            return
        }
        if let message = message(for: event, before: before) { line(message, at: event.time) }
    }

    private func line(_ text: String, at time: Timestamp = .now()) {
        out += "\(String(Format.iso(time).dropFirst(11).prefix(8))) \(text)\n"
        flush()
    }

    // MARK: Wording

    /// The line an event deserves above the bars (or in plain output), nil for Progress.
    private func message(for event: SyncEvent, before: StoreStatus?) -> String? {
        switch event.kind {
        case .runStarted(let flags, let trigger):
            return mode == .terminal ? nil : "\(event.store): run \(event.run) started (\(trigger); \(flags))"
        case .progress:
            return nil
        case .error(let code, let message):
            return "\(event.store): \(code.isFailure ? "error" : "warning"): \(message) [\(code.name)]"
        case .done(let result):
            // Each word once: "failed", not "failed: failed [failed]".
            let said = result.text == result.name ? result.name : "\(result.text) [\(result.name)]"
            guard let run = before?.run, run.id == event.run else {
                return "\(event.store): run \(event.run) ended: \(said)"
            }
            let took = Format.duration(event.time.seconds - run.started.seconds)
            var counts: [String] = []
            if run.warnings > 0 { counts.append("\(run.warnings) warning\(run.warnings == 1 ? "" : "s")") }
            if run.errors > 0 { counts.append("\(run.errors) error\(run.errors == 1 ? "" : "s")") }
            let extra = counts.isEmpty ? "" : ", " + counts.joined(separator: ", ")
            // A cancel (or a pause, which cancels the run) is what someone asked for, not a failure.
            if result == .cancelled {
                let outcome = before?.info.paused == true ? "paused (run cancelled)" : "cancelled"
                return "\(event.store): \(outcome) after \(took)\(extra)"
            }
            let verdict = result.isFailure ? "failed" : "done"
            // "done in 4s": ok needs no more words; "completed [ok]" would say it twice.
            let detail = result.isOK || result.text == verdict ? "" : ": \(said)"
            return "\(event.store): \(verdict)\(detail) in \(took)\(extra)"
        case .storeChanged(let info):
            if before == nil { return "\(event.store): added (\(info.provider))" }
            if before?.info.paused != info.paused { return "\(event.store): \(info.paused ? "paused" : "resumed")" }
            if info.authRequired, before?.info.authRequired != true {
                return "\(event.store): needs a login: run syncctl login \(event.store)"
            }
            if !info.authRequired, before?.info.authRequired == true { return "\(event.store): logged in" }
            if info.stalled, before?.info.stalled != true { return "\(event.store): stalled: no progress reported for a while" }
            // pkcon's "Waiting in queue": a run that cannot start yet says so, once.
            if info.queuePlace > 0, before?.info.queuePlace == 0 {
                return "\(event.store): queued, \(Format.ordinal(info.queuePlace)) in line for a free slot"
            }
            if info.retry > 0, before?.info.retry != info.retry {
                return "\(event.store): retry \(info.retry) \(Format.until(info.nextRun))\(info.retryReason.map { " after: " + $0 } ?? "")"
            }
            if let before, before.info.push != info.push || before.info.pushDetail != info.pushDetail {
                return "\(event.store): push: \(Format.push(info))"
            }
            return nil
        case .storeRemoved:
            return "\(event.store): removed from the configuration"
        case .newMessages(let news):
            return "\(event.store): \(Format.newMessages(news))"
        }
    }

    /// "idle, last ok 2m ago, next in 13m" for a store that is not syncing.
    private func summary(_ store: StoreStatus) -> String {
        if store.run != nil { return [Format.state(store), Format.progress(store.run)].filter { !$0.isEmpty }.joined(separator: " ") }
        // "queued" is said by the place in line below.
        var parts = store.info.queuePlace > 0 ? [] : [Format.state(store)]
        if let result = store.info.lastResult {
            parts.append("last \(result.name) \(Format.age(store.info.lastRunEnded))")
        }
        if store.info.authRequired {
            parts.append("run syncctl login \(store.name)")
        } else if store.info.queuePlace > 0 || store.info.retry > 0 {
            parts.append(Format.next(store.info))
        } else if !store.info.paused, store.info.nextRun != nil {
            parts.append("next \(Format.until(store.info.nextRun))")
        }
        return parts.joined(separator: ", ")
    }

    private func flush() {
        guard !out.isEmpty else { return }
        Output.write(out)
        out = ""
    }
}

extension JSONOutput {
    /// An Encodable value as a JSONSerialization object, to embed in a line object.
    static func object<T: Encodable>(_ value: T) throws -> Any {
        try JSONSerialization.jsonObject(with: JSONEncoder().encode(value))
    }
}
