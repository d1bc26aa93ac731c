// syncipc-bench: fan-out throughput, latency and publish cost of SyncIPC, each beside a baseline
// measured in the same run: the same frames written straight to socketpairs by a minimal loop.
//
//   swift run -c release syncipc-bench            # full run (about a minute)
//   swift run -c release syncipc-bench --quick    # smaller counts, for a smoke test
//
// Viewers are threads, each with its own socket, reading with blocking recv() and counting.
// Latency is publish → viewer read, from the event's own timestamp.

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Histogram
import Logging
import NIOCore
import Synchronization
import SyncIPC
import SyncProtocol

let quick = CommandLine.arguments.contains("--quick")
let floodEvents = quick ? 100_000 : 1_000_000
let pacedRate = 10_000
let pacedSeconds = quick ? 1 : 3
/// A ~64-byte Progress frame: the common case.
let step = "INBOX/Archive"

// MARK: - Readers

struct ReaderResult: Sendable {
    var events = 0
    var latency = Histogram<UInt64>(numberOfSignificantValueDigits: .three)
}

/// A viewer thread: reads frames until it sees a Done, recording each event's latency.
final class Reader: Sendable {
    let fd: CInt
    private let result = Mutex(ReaderResult())
    private let finished = DispatchSemaphore(value: 0)

    init(fd: CInt) { self.fd = fd }

    func start() {
        let thread = Thread { [self] in run() }
        thread.stackSize = 1 << 20
        thread.start()
    }

    private func run() {
        var local = ReaderResult()
        var inbox = ByteBuffer()
        inbox.reserveCapacity(1 << 18)
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        reading: while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { break }
            inbox.writeBytes(chunk[0..<n])
            let now = Timestamp.now().rawValue
            while let (type, payload) = try! Frame.next(in: &inbox, limit: Frame.defaultServerFrameLimit) {
                guard (0x0010...0x001F).contains(type.rawValue) else { continue }
                local.events += 1
                let time = payload.getInteger(at: payload.readerIndex + 8, as: UInt64.self)!
                local.latency.record(now >= time ? now - time : 0)
                if type == .done { break reading }
            }
            inbox.discardReadBytes()
        }
        result.withLock { $0 = local }
        finished.signal()
    }

    func wait() -> ReaderResult {
        finished.wait()
        return result.withLock { $0 }
    }
}

func connectViewer(_ path: String, subscribe: Bool = true, receiveBuffer: CInt? = nil) -> CInt {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    if var size = receiveBuffer {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<CInt>.size))
    }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
    let rc = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    precondition(rc == 0, "connect failed: \(errno)")
    var hello = Frame.encode(.hello(Hello(client: "bench")))
    if subscribe { Frame.encode(.request(Request(id: 1, command: .subscribe(stores: [], since: nil))), into: &hello) }
    writeAll(fd, hello)
    // Read up to the snapshot, so the viewer is subscribed before the benchmark publishes.
    var inbox = ByteBuffer()
    var chunk = [UInt8](repeating: 0, count: 4096)
    var seenSnapshot = !subscribe
    var seenWelcome = false
    while !(seenSnapshot && seenWelcome) {
        let n = recv(fd, &chunk, chunk.count, 0)
        precondition(n > 0)
        inbox.writeBytes(chunk[0..<n])
        while let message = try! Frame.decode(from: &inbox, limit: Frame.defaultServerFrameLimit) {
            if case .welcome = message { seenWelcome = true }
            if case .snapshot = message { seenSnapshot = true }
        }
    }
    return fd
}

func writeAll(_ fd: CInt, _ buffer: ByteBuffer) {
    buffer.withUnsafeReadableBytes { raw in
        var offset = 0
        while offset < raw.count {
            let n = send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            if n <= 0 { return }
            offset += n
        }
    }
}

// MARK: - Clocks and memory

func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

func sleepUntil(_ nanos: UInt64) {
    var ts = timespec(tv_sec: Int(nanos / 1_000_000_000), tv_nsec: Int(nanos % 1_000_000_000))
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil)
}

func residentBytes() -> Int {
    let text = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? "0 0"
    return (Int(text.split(separator: " ")[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
}

// MARK: - Sources: what publishes, syncd's or the baseline's

struct Run {
    var seconds: Double
    var events: Int
    var results: [ReaderResult]
    /// Median and p99 over batches of 1000 calls of the per-call cost, in ns.
    var publishCost: (p50: Double, p99: Double)

    var deliveries: Int { results.reduce(0) { $0 + $1.events } }
    var deliveriesPerSecond: Double { Double(deliveries) / seconds }
    var latency: Histogram<UInt64> {
        var merged = Histogram<UInt64>(numberOfSignificantValueDigits: .three)
        for result in results { merged.add(result.latency) }
        return merged
    }
    /// Share of published events each viewer received (Progress may be superseded for a lagging viewer).
    var delivered: Double { Double(deliveries) / Double(events * results.count) }
}

/// How events are produced: `paced` = events per second, nil = as fast as possible.
struct Load {
    var events: Int
    var paced: Int?
    /// Every n-th event is an Error (never dropped) instead of a Progress; 0 = none, 1 = all.
    var errorEvery = 0
}

func costs(_ batches: [Double]) -> (Double, Double) {
    let sorted = batches.sorted()
    guard !sorted.isEmpty else { return (0, 0) }
    return (sorted[sorted.count / 2], sorted[min(sorted.count - 1, sorted.count * 99 / 100)])
}

/// Drives `emit(i)` for each event per the load, timing batches of 1000 calls.
func drive(_ load: Load, emit: (Int) -> Void) -> [Double] {
    var batchCosts: [Double] = []
    batchCosts.reserveCapacity(load.events / 1000 + 1)
    let start = monotonicNanos()
    var i = 0
    // Paced loads sleep between chunks: at most ~20 000 wake-ups a second, whatever the rate.
    let chunk = load.paced.map { max(1, $0 / 20_000) } ?? 1000
    while i < load.events {
        let end = min(i + chunk, load.events)
        if let rate = load.paced { sleepUntil(start + UInt64(i) * 1_000_000_000 / UInt64(rate)) }
        let t0 = monotonicNanos()
        while i < end {
            emit(i)
            i += 1
        }
        batchCosts.append(Double(monotonicNanos() - t0) / Double(chunk))
    }
    return batchCosts
}

func kind(_ i: Int, _ load: Load) -> SyncEvent.Kind {
    if load.errorEvery > 0, i % load.errorEvery == 0 {
        return .error(code: .warning, message: "skipped one")
    }
    return .progress(step: step, index: UInt32(i), max: UInt32(load.events))
}

func runSyncd(
    viewers: Int, load: Load, stalled: Int = 0, queueCap: Int = SyncServer.Limits().viewerQueueBytes
) async throws -> (Run, rssGrowth: Int, stalledDropped: Bool) {
    let path = "/tmp/sipc-bench-\(getpid()).sock"
    var logger = Logger(label: "bench")
    logger.logLevel = .critical
    var limits = SyncServer.Limits()
    limits.viewerQueueBytes = queueCap
    let server = SyncServer(configuration: .init(listener: .path(path), limits: limits, logger: logger))
    try await server.start()
    server.publisher.publish(store: "bench", run: 0, .storeChanged(StoreInfo(provider: "synthetic")))
    let stalledFDs = (0..<stalled).map { _ in connectViewer(path, receiveBuffer: 4096) }
    let readers = (0..<viewers).map { _ in Reader(fd: connectViewer(path)) }
    readers.forEach { $0.start() }
    let rssBefore = residentBytes()

    let publisher = server.publisher
    let t0 = monotonicNanos()
    let batches = drive(load) { i in publisher.publish(store: "bench", run: 1, kind(i, load)) }
    let last = publisher.publish(store: "bench", run: 1, .done(result: .ok))
    let results = readers.map { $0.wait() }
    while await server.snapshot().seq < last { try await Task.sleep(for: .milliseconds(1)) }
    let rssAtEnd = residentBytes()
    let seconds = Double(monotonicNanos() - t0) / 1e9
    let rssGrowth = rssAtEnd - rssBefore
    // A viewer told it is too slow is closed once the notice is written or after a 1 s grace.
    if stalled > 0 { try await Task.sleep(for: .milliseconds(1200)) }
    let stillConnected = await server.viewerCount() == viewers + stalled
    readers.forEach { close($0.fd) }
    stalledFDs.forEach { close($0) }
    await server.stop()
    return (Run(seconds: seconds, events: load.events + 1, results: results, publishCost: costs(batches)),
            rssGrowth, !stillConnected)
}

/// The baseline: one thread encodes each event and write()s it to every viewer's socketpair,
/// in batches of up to 1024 frames when unpaced (as syncd batches), one frame when paced.
func runBaseline(viewers: Int, load: Load) -> Run {
    var pairs: [(CInt, CInt)] = []
    for _ in 0..<viewers {
        var fds: [CInt] = [0, 0]
        socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds)
        pairs.append((fds[0], fds[1]))
    }
    let readers = pairs.map { Reader(fd: $0.1) }
    readers.forEach { $0.start() }
    let writers = pairs.map(\.0)
    var buffer = ByteBuffer()
    buffer.reserveCapacity(1024 * 80)
    var pending = 0
    let batchSize = load.paced == nil ? 1024 : 1
    func flush() {
        for fd in writers { writeAll(fd, buffer) }
        buffer.clear()
        pending = 0
    }
    var seq: UInt64 = 0
    func encode(_ kind: SyncEvent.Kind) {
        seq += 1
        Frame.encode(SyncEvent(seq: seq, time: .now(), store: "bench", run: 1, kind: kind), into: &buffer)
        pending += 1
    }
    let t0 = monotonicNanos()
    let batches = drive(load) { i in
        encode(kind(i, load))
        if pending == batchSize { flush() }
    }
    encode(.done(result: .ok))
    flush()
    let results = readers.map { $0.wait() }
    let seconds = Double(monotonicNanos() - t0) / 1e9
    pairs.forEach { close($0.0); close($0.1) }
    return Run(seconds: seconds, events: load.events + 1, results: results, publishCost: costs(batches))
}

// MARK: - Report

/// The highest paced publish rate at which every viewer still receives at least 99 % of the
/// events (so nothing is being superseded for lack of capacity), found by bisection.
func sustainedRate(viewers: Int, stalled: Int = 0) async throws -> Double {
    var low = 10_000.0, high = 20_000_000.0
    for _ in 0..<(quick ? 6 : 9) {
        let rate = (low * high).squareRoot()
        let events = Int(min(rate * (quick ? 0.1 : 0.25), 3_000_000))
        let load = Load(events: max(events, 1000), paced: Int(rate), errorEvery: stalled > 0 ? 100 : 0)
        let (run, _, _) = try await runSyncd(viewers: viewers, load: load, stalled: stalled)
        let worst = run.results.map(\.events).min() ?? 0
        if Double(worst) >= 0.99 * Double(run.events) { low = rate } else { high = rate }
    }
    return low
}

func fmt(_ value: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", value) }
func millions(_ value: Double) -> String { fmt(value / 1e6, 2) + " M/s" }
func micros(_ value: UInt64) -> String { "\(value) µs" }

let command = "swift run -c release syncipc-bench" + (quick ? " --quick" : "")
print("# syncipc-bench — \(command)")
print("# \(ProcessInfo.processInfo.activeProcessorCount) cores; ~64-byte Progress events; baseline = the same frames written")
print("# straight to socketpairs by a minimal loop (blocking writes), measured in the same run")
print()

print("## Fan-out capacity: deliveries/s, nothing dropped")
print("Every event is an Error (~54 bytes, never superseded), published as fast as possible; syncd's")
print("viewer queues may hold the whole run (cap raised to 1 GiB), the baseline's writer blocks.")
print()
print("| viewers | syncd | baseline | ratio | syncd forwarder done after | baseline |")
print("|---|---|---|---|---|---|")
let lossless = { (n: Int) in Load(events: n == 100 ? floodEvents / 5 : floodEvents, paced: nil, errorEvery: 1) }
for n in [1, 10, 100] {
    let (syncd, _, _) = try await runSyncd(viewers: n, load: lossless(n), queueCap: 1 << 30)
    let base = runBaseline(viewers: n, load: lossless(n))
    precondition(syncd.delivered == 1 && base.delivered == 1, "lossless runs lost events")
    print("| \(n) | \(millions(syncd.deliveriesPerSecond)) | \(millions(base.deliveriesPerSecond)) | \(fmt(syncd.deliveriesPerSecond / base.deliveriesPerSecond))× | \(fmt(syncd.seconds * 1000, 0)) ms | \(fmt(base.seconds * 1000, 0)) ms |")
}
print()

print("## Flood: the publisher as fast as it can (providers never wait; a lagging viewer gets the latest Progress)")
print("| viewers | publish cost p50 / p99 | baseline cost per event p50 | all viewers done after | baseline | delivered (syncd) |")
print("|---|---|---|---|---|---|")
for n in [1, 10, 100] {
    let load = Load(events: n == 100 ? floodEvents / 5 : floodEvents, paced: nil)
    let (syncd, _, _) = try await runSyncd(viewers: n, load: load)
    let base = runBaseline(viewers: n, load: load)
    print("| \(n) | \(fmt(syncd.publishCost.p50, 0)) / \(fmt(syncd.publishCost.p99, 0)) ns | \(fmt(base.publishCost.p50, 0)) ns | \(fmt(syncd.seconds * 1000, 0)) ms | \(fmt(base.seconds * 1000, 0)) ms | \(fmt(syncd.delivered * 100, 1)) % |")
}
let (idle, _, _) = try await runSyncd(viewers: 0, load: Load(events: floodEvents, paced: nil))
print()
print("publish cost with no viewers: p50 \(fmt(idle.publishCost.p50, 0)) ns, p99 \(fmt(idle.publishCost.p99, 0)) ns per call (batches of 1000 calls)")
print()

print("## Latency at \(pacedRate) events/s, 10 viewers (publish → viewer read)")
let paced = Load(events: pacedRate * pacedSeconds, paced: pacedRate)
let (pacedSyncd, _, _) = try await runSyncd(viewers: 10, load: paced)
let pacedBase = runBaseline(viewers: 10, load: paced)
let (psl, pbl) = (pacedSyncd.latency, pacedBase.latency)
print("| | p50 | p99 | p99.9 | max | delivered |")
print("|---|---|---|---|---|---|")
print("| syncd | \(micros(psl.valueAtPercentile(50))) | \(micros(psl.valueAtPercentile(99))) | \(micros(psl.valueAtPercentile(99.9))) | \(micros(psl.max)) | \(fmt(pacedSyncd.delivered * 100, 1)) % |")
print("| baseline | \(micros(pbl.valueAtPercentile(50))) | \(micros(pbl.valueAtPercentile(99))) | \(micros(pbl.valueAtPercentile(99.9))) | \(micros(pbl.max)) | \(fmt(pacedBase.delivered * 100, 1)) % |")
print()
print("p99 ratio syncd/baseline: \(fmt(Double(psl.valueAtPercentile(99)) / Double(max(1, pbl.valueAtPercentile(99)))))×")
print()

print("## One stalled viewer among 10 readers")
print("Errors only (never superseded, so the stalled viewer's queue must fill), paced at 100 000/s for")
print("\(pacedSeconds * 2) s, default queue cap (4 MiB). The stalled viewer subscribes and never reads.")
print()
print("| | delivered to the 10 readers | their p50 / p99 latency | RSS growth | stalled viewer |")
print("|---|---|---|---|---|")
let stallLoad = Load(events: 100_000 * pacedSeconds * 2, paced: 100_000, errorEvery: 1)
var stallRuns: [(Run, Int)] = []
for stalled in [0, 1] {
    let (run, growth, dropped) = try await runSyncd(viewers: 10, load: stallLoad, stalled: stalled)
    stallRuns.append((run, growth))
    let latency = run.latency
    print("| 10 readers\(stalled > 0 ? " + 1 stalled" : "") | \(fmt(run.delivered * 100, 1)) % | \(micros(latency.valueAtPercentile(50))) / \(micros(latency.valueAtPercentile(99))) | \(stallRuns.last!.1 / 1024) KiB | \(stalled == 0 ? "—" : dropped ? "disconnected: too slow" : "connected") |")
}
print()
let (clean, stalledRun) = (stallRuns[0].0, stallRuns[1].0)
print("others' p50 latency with a stalled viewer: \(fmt(Double(stalledRun.latency.valueAtPercentile(50)) / Double(max(1, clean.latency.valueAtPercentile(50)))))× of without; delivered \(fmt(stalledRun.delivered * 100, 1)) % vs \(fmt(clean.delivered * 100, 1)) %")
print()
print("Memory under a flood of Errors (published faster than the forwarder drains, so the publisher's")
print("backlog grows either way); the difference is what the stalled viewer costs:")
print()
print("| flood | RSS growth, no viewer | with one stalled viewer | stalled viewer |")
print("|---|---|---|---|")
for events in [floodEvents / 4, floodEvents] {
    let load = Load(events: events, paced: nil, errorEvery: 1)
    let (_, alone, _) = try await runSyncd(viewers: 0, load: load)
    let (_, growth, dropped) = try await runSyncd(viewers: 0, load: load, stalled: 1)
    print("| \(events) | \(alone / 1024) KiB | \(growth / 1024) KiB | \(dropped ? "disconnected at its 4 MiB cap" : "connected") |")
}
