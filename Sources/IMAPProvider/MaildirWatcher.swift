#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Maildir
import Synchronization
import SyncDaemon

/// Local changes push: inotify on every synced folder's `cur/` and `new/`. A message saved, moved
/// or deleted, or a flag set (a rename in `cur/`), by the mail client becomes a targeted run of
/// that folder within a second (the host's 100 ms debounce, plus the run).
///
/// syncd's own writes are not the user's: an event while a run of the store is in progress, or
/// within 300 ms of its end (``ListenerHost/mayBeOwnChange(grace:)``), only makes its folder a
/// suspect. Once the run is over, each suspect is read (``MaildirTree/hasUnsyncedChanges(_:)``):
/// one that holds a change its UID map does not record (the user's, made during the run) gets a
/// targeted run at once; one the run left as it recorded it gets none, so a run never starts a
/// run of itself. Reading is cheap: a folder the run re-listed is proved clean by its listing
/// stamp without reading its directories. The root and
/// every folder's directory are watched too, so a folder created later (by the first run, or the
/// mail client) is watched from then on; at most ``maxWatches`` directories are watched.
final class MaildirWatcher: Sendable {
    static let maxWatches = 8192
    static let events = UInt32(IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE)
    /// On the root and the folders' own directories: a directory made there may be a new folder.
    static let directoryEvents = UInt32(IN_CREATE | IN_MOVED_TO | IN_ONLYDIR)

    private let inotify: Int32
    /// Written to end the watching thread.
    private let wake: (read: Int32, write: Int32)
    private let store: MaildirTree
    private let account: IMAPAccount

    /// Watches the store's folders that the account syncs.
    init(store: MaildirTree, account: IMAPAccount) throws {
        inotify = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard inotify >= 0 else { throw MaildirWatcherError("inotify_init1: \(String(cString: strerror(errno)))") }
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else {
            close(inotify)
            throw MaildirWatcherError("pipe: \(String(cString: strerror(errno)))")
        }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        wake = (fds[0], fds[1])
        self.store = store
        self.account = account
    }

    /// Watch descriptor → folder, for the message directories (`cur/`, `new/`); nil for a
    /// directory watched for new folders only.
    private typealias Watches = [Int32: FolderName?]

    /// Adds watches for every folder not watched yet (adding one twice gives the same descriptor).
    private func watchFolders(_ watches: inout Watches) {
        if watches.count < Self.maxWatches {
            let wd = inotify_add_watch(inotify, store.root, Self.directoryEvents)
            if wd >= 0, watches[wd] == nil { watches[wd] = .some(nil) }
        }
        var folders = ((try? store.listFolders()) ?? []).filter { account.wants($0.description) }
        // A message saved into the outbox is sent within a second (the outbox is no synced folder).
        if account.smtp != nil { folders.append(account.outbox) }
        for name in folders {
            guard let directory = try? store.directory(for: name) else { continue }
            for sub in ["", "/cur", "/new"] where watches.count < Self.maxWatches {
                let wd = inotify_add_watch(inotify, directory + sub, sub.isEmpty ? Self.directoryEvents : Self.events)
                if wd >= 0 { watches[wd] = sub.isEmpty ? (watches[wd] ?? .some(nil)) : .some(name) }
            }
        }
    }

    deinit {
        close(inotify)
        close(wake.read)
        close(wake.write)
    }

    /// Watches until cancelled, asking `host` for a run of each folder that changed.
    func watch(_ host: ListenerHost) async throws {
        let finished = Mutex<CheckedContinuation<Void, Never>?>(nil)
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                finished.withLock { $0 = continuation }
                // A thread of its own: it blocks in poll(2), which must not hold a pool thread.
                let thread = Thread { [self] in
                    self.loop(host)
                    finished.withLock { $0?.resume(); $0 = nil }
                }
                thread.name = "inotify \(host.store)"
                thread.start()
            }
        } onCancel: {
            var byte: UInt8 = 1
            _ = write(wake.write, &byte, 1)
        }
        throw CancellationError()
    }

    /// How often the folders changed during a run are looked at until the run is over.
    static let suspectPollMilliseconds: Int32 = 100

    private func loop(_ host: ListenerHost) {
        let outbox = account.smtp == nil ? nil : account.outbox
        var watches = Watches()
        watchFolders(&watches)
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        // Folders changed while a run was on or had just ended: read once it is over.
        var suspects = Set<FolderName>()
        while true {
            var fds = [pollfd(fd: inotify, events: Int16(POLLIN), revents: 0), pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 2, suspects.isEmpty ? -1 : Self.suspectPollMilliseconds)
            if ready < 0 {
                if errno == EINTR { continue }
                return
            }
            if fds[1].revents != 0 { return }
            var changed = Set<FolderName>()
            var newDirectories = false
            var outboxArrival = false
            while ready > 0 {
                let n = read(inotify, &buffer, buffer.count)
                guard n > 0 else { break }
                var offset = 0
                while offset + MemoryLayout<inotify_event>.size <= n {
                    let (wd, mask, length, name) = buffer.withUnsafeBytes { raw -> (Int32, UInt32, Int, String) in
                        let wd = raw.loadUnaligned(fromByteOffset: offset, as: Int32.self)
                        let mask = raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
                        let length = Int(raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                        let start = offset + MemoryLayout<inotify_event>.size
                        let bytes = raw[start..<start + length].prefix { $0 != 0 }
                        return (wd, mask, length, String(decoding: bytes, as: UTF8.self))
                    }
                    offset += MemoryLayout<inotify_event>.size + length
                    if mask & UInt32(IN_ISDIR) != 0 { newDirectories = true }
                    // Dot files are other programs' temporaries, not messages.
                    if case .some(.some(let folder)) = watches[wd], !name.hasPrefix(".") {
                        changed.insert(folder)
                        if folder == outbox, mask & UInt32(IN_MOVED_TO) != 0 { outboxArrival = true }
                    }
                }
            }
            if newDirectories { watchFolders(&watches) }
            // A message renamed into the outbox is never syncd's own doing (its runs only take
            // messages out): it goes even while a run is on, as the run after it.
            if outboxArrival, let outbox {
                host.requestRun(SyncScope(folders: [outbox.description], localOnly: true))
                changed.remove(outbox)
            }
            guard !changed.isEmpty || !suspects.isEmpty else { continue }
            if host.mayBeOwnChange() {
                suspects.formUnion(changed)
                continue
            }
            var due = changed
            let checked = suspects.subtracting(changed)
            // Unreadable (a map being replaced, a folder half deleted): a run finds out.
            for folder in checked where (try? store.hasUnsyncedChanges(folder)) ?? true { due.insert(folder) }
            suspects = []
            if host.mayBeOwnChange() {
                // A run began while the folders were read: what they showed may be its work.
                suspects = checked
                due.subtract(checked)
            }
            guard !due.isEmpty else { continue }
            host.requestRun(SyncScope(folders: Set(due.map(\.description)), localOnly: true))
        }
    }
}

struct MaildirWatcherError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
