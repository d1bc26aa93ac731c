import SyncProtocol

/// Emits callbacks at a set rate: for demos, tests and benchmarks. Needs no server.
///
/// Options: `steps` (default 100), `rate` (steps per second, default 20), `step_text` (default
/// "item"), `warn_every` / `error_every` (a warning / error every N steps; 0 = never),
/// `result` (final status name, default: `partial` if any error was reported, else `ok`),
/// `hang_after` (stop reporting after this step and never finish, to exercise stall detection),
/// `new_messages` (a run that ends well says this many messages are new in INBOX, as a mail
/// provider's NewMessages: for viewers' new-mail displays without a mail server).
public struct SyntheticProvider: StoreProvider {
    public var steps: Int
    public var rate: Double
    public var stepText: String
    public var warnEvery: Int
    public var errorEvery: Int
    public var result: SyncStatus?
    public var hangAfter: Int?
    public var newMessages: Int

    public init(steps: Int = 100, rate: Double = 20, stepText: String = "item", warnEvery: Int = 0,
                errorEvery: Int = 0, result: SyncStatus? = nil, hangAfter: Int? = nil, newMessages: Int = 0) {
        self.steps = steps
        self.rate = rate
        self.stepText = stepText
        self.warnEvery = warnEvery
        self.errorEvery = errorEvery
        self.result = result
        self.hangAfter = hangAfter
        self.newMessages = newMessages
    }

    public func synchronize(_ request: SyncRequest, callback: SyncCallback) async throws -> SyncStatus {
        let clock = ContinuousClock()
        let start = clock.now
        var errors = 0
        var step = 1
        let prefix = Array((stepText + " ").utf8)
        while step <= max(1, steps) {
            // Every step due by now, at once, then one sleep until the next is due (at least
            // ``shortestSleep``): a fast rate costs a timer per sleep, not one per step, so the
            // provider is a cheap load generator and measures the daemon rather than itself.
            let elapsed = start.duration(to: clock.now)
            let behind = Int(Self.seconds(elapsed) * rate) + 1
            // At most a burst at a time: a provider that cannot keep up with its rate would
            // otherwise hold its thread for good, and the daemon's other tasks (control requests,
            // the other stores' runs) share a pool of as many threads as there are cores.
            let due = Swift.min(max(1, steps), behind, step + Self.burst - 1)
            while step <= due {
                if let hangAfter, step > hangAfter {
                    // Silent until cancelled: what a provider stuck on a dead server looks like.
                    try await Task.sleep(for: .seconds(86_400 * 365))
                }
                if callback.progress(step: Self.stepName(prefix, step), index: UInt32(step), max: UInt32(steps)) == .cancel {
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
                // Every so often, not every step: asking takes the publisher's lock.
                if step % 64 == 0, callback.isForwarderBehind { break }
            }
            if step <= behind, step <= max(1, steps) {
                if callback.isForwarderBehind {
                    // More steps now would only be merged: leave the CPU to the forwarder.
                    try await Task.sleep(for: .milliseconds(1))
                    continue
                }
                // Still behind: let the others run, then go on at once.
                await Task.yield()
                try Task.checkCancellation()
                continue
            }
            // The last step, like every other, is followed by its interval.
            let next = start.advanced(by: .seconds(Double(step - 1) / rate))
            try await Task.sleep(until: Swift.max(next, clock.now.advanced(by: Self.shortestSleep)), clock: clock)
        }
        let status = result ?? (errors > 0 ? .partial : .ok)
        if newMessages > 0, !status.isFailure {
            let summaries = (1...min(newMessages, NewMessages.maxSummaries)).map { index in
                NewMessages.Summary(from: "Synthetic Sender <synthetic@example.org>", subject: "Synthetic message \(index) of run \(request.run)",
                                    date: Timestamp.now())
            }
            callback.newMessages(folder: "INBOX", count: newMessages, summaries: summaries)
        }
        return status
    }

    /// Most steps reported between two suspensions.
    static let burst = 1024

    /// The shortest sleep between steps: above 1 / this rate, the steps that came due meanwhile
    /// are reported together. Each sleep is a timer (on Linux a Dispatch timer, tens of µs of
    /// CPU): with 16 stores at 625 steps/s the daemon spends 80–90 % of a core at 1 ms and 12–19 %
    /// at 4 ms, but at 4 ms the bursts raised p50/p99 latency (daemon-fanout.sh, paced phase:
    /// p50 180–350 µs against 130–140 µs, p99 1.5–4.8 ms against 1.2–1.7 ms), and latency is
    /// what the paced phase measures.
    static let shortestSleep = Duration.milliseconds(1)

    /// `prefix` and the step's number: what string interpolation makes, without its heap
    /// buffer (a short result is a small string, stored inline), as this runs once per step.
    static func stepName(_ prefix: [UInt8], _ step: Int) -> String {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // up to 24 digits, least significant first
        var count = 0
        withUnsafeMutableBytes(of: &digits) { raw in
            var rest = step.magnitude
            repeat {
                raw[count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            } while rest > 0
        }
        return String(unsafeUninitializedCapacity: prefix.count + count + (step < 0 ? 1 : 0)) { buffer in
            var at = 0
            for byte in prefix {
                buffer[at] = byte
                at += 1
            }
            if step < 0 {
                buffer[at] = UInt8(ascii: "-")
                at += 1
            }
            withUnsafeBytes(of: digits) { raw in
                for index in stride(from: count - 1, through: 0, by: -1) {
                    buffer[at] = raw[index]
                    at += 1
                }
            }
            return at
        }
    }

    private static func seconds(_ duration: Duration) -> Double {
        let (whole, attoseconds) = duration.components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}

public struct SyntheticFactory: ProviderFactory {
    public init() {}
    public let name = "synthetic"
    public let optionKeys = ["steps", "rate", "step_text", "warn_every", "error_every", "result", "hang_after", "new_messages"]

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
            hangAfter: hang < 0 ? nil : hang,
            newMessages: try options.int("new_messages", default: 0, range: 0...Int(Int32.max)))
    }
}
