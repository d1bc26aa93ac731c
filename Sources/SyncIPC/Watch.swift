import NIOCore
import Synchronization
import SyncProtocol

/// What ``SyncClient/watch(socketPath:clientName:stores:retryDelay:)`` yields.
public enum WatchUpdate: Hashable, Sendable {
    /// Connected (or reconnected) and subscribed.
    case connected(Welcome)
    case snapshot(Snapshot)
    case event(SyncEvent)
    /// On reconnecting, the server no longer held the events after `since`: those up to `oldest`
    /// are lost to this viewer, and a snapshot follows.
    case resynced(since: UInt64, oldest: UInt64)
    /// The connection ended or could not be made; the watch retries after the delay.
    case disconnected(reason: String)
}

extension SyncClient {
    /// A subscription that survives server restarts: on disconnect it reconnects and resumes with
    /// "since seq" from the last event it delivered, so nothing is missed silently.
    ///
    /// After `heartbeat` without a frame it sends a Ping; a daemon that does not answer within
    /// another `heartbeat` hangs (a stopped daemon still holds the connection open), and the watch
    /// says so (``WatchUpdate/disconnected(reason:)``) and reconnects.
    ///
    /// The stream ends only when the consumer stops iterating it.
    public static func watch(
        socketPath: String, clientName: String, stores: [String] = [],
        retryDelay: Duration = .milliseconds(500), heartbeat: Duration = .seconds(10)
    ) -> AsyncStream<WatchUpdate> {
        AsyncStream { continuation in
            let task = Task {
                var lastSeq: UInt64?
                var lastReason: String?
                while !Task.isCancelled {
                    let hung = Mutex<String?>(nil)
                    do {
                        let client = try await SyncClient.connect(
                            to: socketPath, clientName: clientName, timeout: .init(heartbeat), requestTimeout: .init(heartbeat))
                        let (start, updates) = try await client.subscribe(stores: stores, since: lastSeq)
                        lastReason = nil
                        continuation.yield(.connected(client.welcome))
                        if case .resync(let since, let oldest) = start {
                            continuation.yield(.resynced(since: since, oldest: oldest))
                        }
                        let heard = Mutex(ContinuousClock.now)
                        let beat = Task {
                            while !Task.isCancelled {
                                try? await Task.sleep(for: heartbeat)
                                guard !Task.isCancelled, heard.withLock({ $0 }) < .now - heartbeat else { continue }
                                do {
                                    try await client.ping()
                                } catch {
                                    if Task.isCancelled { return }
                                    let tenths = heartbeat.components.seconds * 10 + heartbeat.components.attoseconds / 100_000_000_000_000_000
                                    let seconds = tenths % 10 == 0 ? "\(tenths / 10)" : "\(tenths / 10).\(tenths % 10)"
                                    hung.withLock { $0 = "syncd did not answer a ping within \(seconds)s: it hangs" }
                                    await client.close()
                                    return
                                }
                            }
                        }
                        defer { beat.cancel() }
                        for try await update in updates {
                            heard.withLock { $0 = .now }
                            switch update {
                            case .snapshot(let snapshot):
                                lastSeq = snapshot.seq
                                continuation.yield(.snapshot(snapshot))
                            case .event(let event):
                                lastSeq = event.seq
                                continuation.yield(.event(event))
                            }
                        }
                        await client.close()
                        throw SyncClientError.disconnected
                    } catch {
                        let reason = hung.withLock { $0 } ?? "\(error)"
                        // Say it once per outage, not once per retry.
                        if reason != lastReason { continuation.yield(.disconnected(reason: reason)) }
                        lastReason = reason
                    }
                    try? await Task.sleep(for: retryDelay)
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
