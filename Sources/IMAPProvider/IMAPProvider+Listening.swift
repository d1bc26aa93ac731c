#if canImport(Glibc)
import Glibc
#endif
import Maildir
import SyncDaemon
import SyncProtocol

/// Push for imap stores: IDLE on the server's side (``IdleListener``), inotify on the Maildir's
/// (``MaildirWatcher``), side by side; `push = []` turns off the one, `push_local = false` the other.
extension IMAPProvider: ChangeListening {
    public func listen(_ host: ListenerHost) async throws {
        let board = PushBoard(host: host)
        let watcher: MaildirWatcher?
        if account.pushLocal {
            do {
                // The root, as the first run would make it, so that there is something to watch.
                if mkdir(account.maildir, 0o700) == 0 { host.logger.info("push: created \(account.maildir)") }
                // The tree, not the store: runs open (and lock) the store meanwhile.
                let tree = MaildirTree(root: account.maildir, layout: account.layout == .nested ? .nested : .maildirPlusPlus)
                watcher = try MaildirWatcher(store: tree, account: account)
                board.setWatchingMaildir(true)
            } catch {
                host.logger.warning("push: cannot watch the Maildir \(account.maildir): \(error)")
                watcher = nil
            }
        } else {
            watcher = nil
        }
        guard watcher != nil || !account.push.isEmpty else {
            host.setState(.notConfigured)
            try await Task.sleep(for: .seconds(365 * 86400))
            return
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            if let watcher { group.addTask { try await watcher.watch(host) } }
            if !account.push.isEmpty {
                group.addTask { [account, pushedFolders] in
                    try await IdleListener(account: account, host: host, board: board, pushed: pushedFolders).run()
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }
}
