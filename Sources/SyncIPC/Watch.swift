import NIOCore
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
    /// The stream ends only when the consumer stops iterating it.
    public static func watch(
        socketPath: String, clientName: String, stores: [String] = [],
        retryDelay: Duration = .milliseconds(500)
    ) -> AsyncStream<WatchUpdate> {
        AsyncStream { continuation in
            let task = Task {
                var lastSeq: UInt64?
                var lastReason: String?
                while !Task.isCancelled {
                    do {
                        let client = try await SyncClient.connect(to: socketPath, clientName: clientName)
                        let (start, updates) = try await client.subscribe(stores: stores, since: lastSeq)
                        lastReason = nil
                        continuation.yield(.connected(client.welcome))
                        if case .resync(let since, let oldest) = start {
                            continuation.yield(.resynced(since: since, oldest: oldest))
                        }
                        for try await update in updates {
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
                        let reason = "\(error)"
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
