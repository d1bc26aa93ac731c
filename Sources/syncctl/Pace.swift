import SyncProtocol

/// How fast a run moves: items per second over its recent Progress, and so when it will be done.
///
/// Measured from the events' own times (when the provider reported), over the last 10 s. Samples
/// closer than 0.1 s replace each other, so a Progress flood keeps a small window. There is no
/// rate until at least two samples lie at least 1 s apart.
struct Pace {
    let run: RunID
    private var samples: [(time: Double, index: UInt32)] = []

    init(run: RunID) {
        self.run = run
    }

    mutating func record(index: UInt32, at time: Double) {
        if let last = samples.last, index < last.index || time < last.time {
            samples.removeAll()  // the provider started counting again
        }
        if samples.count >= 2, time - samples[samples.count - 2].time < 0.1 {
            samples[samples.count - 1] = (time, index)
        } else {
            samples.append((time, index))
        }
        while samples.count > 2, time - samples[1].time >= 10 {
            samples.removeFirst()
        }
    }

    /// Items per second, nil until measurable.
    var rate: Double? {
        guard samples.count >= 2, let first = samples.first, let last = samples.last else { return nil }
        let span = last.time - first.time
        guard span >= 1 else { return nil }
        return Double(last.index - first.index) / span
    }

    /// Seconds until `max` at the current rate; nil if the total is unknown or nothing moves.
    func remaining(max: UInt32) -> Double? {
        guard max > 0, let rate, rate > 0, let last = samples.last, last.index <= max else { return nil }
        return Double(max - last.index) / rate
    }
}

extension Format {
    /// The step text with the counter, saying each number once: "message 28/120" for step
    /// "message 28" at 28 of 120, "INBOX  28/120", "28 of 120 done" as it is; "28/120" without
    /// step text; with no max, the step text (or the index alone).
    static func counter(step: String?, index: UInt32, max: UInt32) -> String {
        guard let step, !step.isEmpty else {
            if max > 0 { return "\(index)/\(max)" }
            return index > 0 ? "\(index)" : ""
        }
        guard max > 0 else { return step }
        let numbers = step.split { !$0.isNumber }
        if numbers.last.map(String.init) == "\(index)", step.last?.isNumber == true { return "\(step)/\(max)" }
        if numbers.contains(where: { String($0) == "\(index)" }) { return step }
        return "\(step)  \(index)/\(max)"
    }

    /// "40/s, ETA 9s", "2.5/s", "" when the rate is not known yet.
    static func pace(rate: Double?, remaining: Double?) -> String {
        guard let rate else { return "" }
        let perSecond = rate < 9.95 ? String(format: "%.1f/s", rate) : "\(Int(rate.rounded()))/s"
        guard let remaining else { return perSecond }
        return "\(perSecond), ETA \(duration(remaining))"
    }
}
