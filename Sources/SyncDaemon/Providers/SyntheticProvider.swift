import SyncProtocol

/// Emits callbacks at a set rate: for demos, tests and benchmarks. Needs no server.
///
/// Options: `steps` (default 100), `rate` (steps per second, default 20), `step_text` (default
/// "item"), `warn_every` / `error_every` (a warning / error every N steps; 0 = never),
/// `result` (final status name, default: `partial` if any error was reported, else `ok`),
/// `hang_after` (stop reporting after this step and never finish, to exercise stall detection).
public struct SyntheticProvider: StoreProvider {
    public var steps: Int
    public var rate: Double
    public var stepText: String
    public var warnEvery: Int
    public var errorEvery: Int
    public var result: SyncStatus?
    public var hangAfter: Int?

    public init(steps: Int = 100, rate: Double = 20, stepText: String = "item", warnEvery: Int = 0,
                errorEvery: Int = 0, result: SyncStatus? = nil, hangAfter: Int? = nil) {
        self.steps = steps
        self.rate = rate
        self.stepText = stepText
        self.warnEvery = warnEvery
        self.errorEvery = errorEvery
        self.result = result
        self.hangAfter = hangAfter
    }

    public func synchronize(_ request: SyncRequest, callback: SyncCallback) async throws -> SyncStatus {
        let clock = ContinuousClock()
        let start = clock.now
        var errors = 0
        var step = 1
        while step <= max(1, steps) {
            // Every step due by now, at once, then one sleep until the next is due (at least a
            // millisecond): a fast rate costs a timer per millisecond, not one per step, so the
            // provider is a cheap load generator and measures the daemon rather than itself.
            let elapsed = start.duration(to: clock.now)
            let due = Swift.min(max(1, steps), Int(Self.seconds(elapsed) * rate) + 1)
            while step <= due {
                if let hangAfter, step > hangAfter {
                    // Silent until cancelled: what a provider stuck on a dead server looks like.
                    try await Task.sleep(for: .seconds(86_400 * 365))
                }
                if callback.progress(step: "\(stepText) \(step)", index: UInt32(step), max: UInt32(steps)) == .cancel {
                    return .cancelled
                }
                if warnEvery > 0, step % warnEvery == 0 {
                    callback.error(.warning, "\(stepText) \(step): skipped (synthetic warning)")
                }
                if errorEvery > 0, step % errorEvery == 0 {
                    errors += 1
                    callback.error(.failed, "\(stepText) \(step): failed (synthetic error)")
                }
                step += 1
            }
            // The last step, like every other, is followed by its interval.
            let next = start.advanced(by: .seconds(Double(step - 1) / rate))
            try await Task.sleep(until: Swift.max(next, clock.now.advanced(by: .milliseconds(1))), clock: clock)
        }
        return result ?? (errors > 0 ? .partial : .ok)
    }

    private static func seconds(_ duration: Duration) -> Double {
        let (whole, attoseconds) = duration.components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}

public struct SyntheticFactory: ProviderFactory {
    public init() {}
    public let name = "synthetic"
    public let optionKeys = ["steps", "rate", "step_text", "warn_every", "error_every", "result", "hang_after"]

    public func makeProvider(for store: String, options: ConfigSection) throws -> any StoreProvider {
        var result: SyncStatus?
        if let name = try options.string("result") {
            guard let status = SyncStatus(name: name) else {
                throw options.error("result", "unknown status '\(name)'; known: \(SyncStatus.allKnown.map(\.name).joined(separator: ", "))")
            }
            result = status
        }
        let rate = try options.double("rate", default: 20)
        guard rate > 0, rate <= 1_000_000 else { throw options.error("rate", "expected steps per second in (0, 1000000]") }
        let hang = try options.int("hang_after", default: -1, range: -1...Int(Int32.max))
        return SyntheticProvider(
            steps: try options.int("steps", default: 100, range: 1...Int(Int32.max)),
            rate: rate,
            stepText: try options.string("step_text", default: "item"),
            warnEvery: try options.int("warn_every", default: 0, range: 0...Int(Int32.max)),
            errorEvery: try options.int("error_every", default: 0, range: 0...Int(Int32.max)),
            result: result,
            hangAfter: hang < 0 ? nil : hang)
    }
}
