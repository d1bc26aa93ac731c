import NIOCore
import NIOPosix
import Synchronization

/// Counts the server's event loop ticks. A tick ends when the loop has run every task that is due
/// and goes back to poll its sockets, so the forwarder can tell whether viewers' sockets were
/// polled since it last ran: tasks that keep arriving in one tick would keep the loop from them.
final class LoopTicks: NIOEventLoopMetricsDelegate {
    private let count = Atomic<UInt64>(0)

    func processedTick(info: NIOEventLoopTickInfo) {
        count.add(1, ordering: .relaxed)
    }

    /// Ticks ended so far; read on the loop, where it is written.
    var current: UInt64 { count.load(ordering: .relaxed) }
}
