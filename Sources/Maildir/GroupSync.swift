#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

extension MaildirStore {
    /// The most threads ``syncFiles(_:)`` runs at once.
    static let syncThreads = 16

    /// fsyncs every file (one fsync each), several at a time. Issued one after another, each fsync
    /// waits for its own journal commit; issued together, ext4 and XFS fold them into a few shared
    /// commits — about 5× faster for a batch of 1000 small messages. Returns once all are done.
    /// - Throws: the first failure; the batch is then not durable, whatever else succeeded.
    func syncFiles(_ paths: [String]) throws {
        guard paths.count > 1 else {
            for path in paths { try syncFile(path) }
            return
        }
        let job = GroupSyncJob(paths: paths, store: self)
        var threads: [pthread_t] = []
        for _ in 1..<min(paths.count, Self.syncThreads) {
            let context = Unmanaged.passRetained(job).toOpaque()
            var thread = pthread_t()
            let started = pthread_create(&thread, nil, { raw in
                Unmanaged<GroupSyncJob>.fromOpaque(raw!).takeRetainedValue().run()
                return nil
            }, context)
            guard started == 0 else {
                Unmanaged<GroupSyncJob>.fromOpaque(context).release()
                break  // fewer helpers (or none): this thread still does all the remaining work
            }
            threads.append(thread)
        }
        job.run()
        for thread in threads { pthread_join(thread, nil) }
        if let failure = job.failure.withLock({ $0 }) { throw failure }
    }
}

/// Shared by the threads of one ``MaildirStore/syncFiles(_:)``: each takes the next path until none
/// are left or one has failed.
private final class GroupSyncJob: Sendable {
    let paths: [String]
    let store: MaildirStore
    let next = Atomic<Int>(0)
    let failure = Mutex<MaildirError?>(nil)

    init(paths: [String], store: MaildirStore) {
        self.paths = paths
        self.store = store
    }

    func run() {
        while failure.withLock({ $0 == nil }) {
            let index = next.add(1, ordering: .relaxed).oldValue
            guard index < paths.count else { return }
            do {
                try store.syncFile(paths[index])
            } catch let error as MaildirError {
                failure.withLock { if $0 == nil { $0 = error } }
            } catch {
                failure.withLock { if $0 == nil { $0 = MaildirError(.io, "\(error)") } }
            }
        }
    }
}
