import IMAPProtocol
import Maildir
import NIOCore
import SyncDaemon

/// NOTIFY (RFC 5465) when the server offers it: one connection watches every pushed folder, with
/// no folder selected; the server reports a change in one as an untagged STATUS (new mail,
/// expunges) and the folder gets a run, and a folder created, deleted or renamed as an untagged
/// LIST, after which the listener lists again (a new folder that `push` names is watched). Keep-alive and dead connections as for IDLE, with a NOOP
/// round trip every `push_keepalive`; no `push_connections` cap, since it is one connection.
extension IdleListener {
    static let notifyCapability = Capability("NOTIFY")

    /// `NOTIFY SET STATUS (mailboxes ("INBOX" "Lists") (MessageNew MessageExpunge)) (personal
    /// (MailboxName))`: the first group is the pushed folders' (a mailbox takes the first group that
    /// names it), the second every other folder's creation, deletion and renaming. The names as
    /// quoted strings; nil when a name cannot travel quoted (IDLE then, which sends it as a literal).
    static func notifyNames(_ folders: [(FolderName, MailboxName)]) -> String? {
        var names: [String] = []
        for (_, mailbox) in folders {
            guard mailbox.bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) else { return nil }
            var quoted = "\""
            for byte in mailbox.bytes {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { quoted += "\\" }
                quoted += String(UnicodeScalar(byte))
            }
            names.append(quoted + "\"")
        }
        return names.joined(separator: " ")
    }

    /// Watches `folders` on one connection, made again whenever it is lost. Returns only when the
    /// server refuses NOTIFY itself; the caller then uses IDLE.
    func watchAll(_ folders: [(FolderName, MailboxName)], _ names: String) async throws {
        let all = Set(folders.map { $0.0.description })
        var failures = 0
        var reconnected = false
        while true {
            do {
                try await withSession { session in
                    try await session.complete(try await session.sendRaw("NOTIFY SET STATUS (mailboxes (\(names)) (MessageNew MessageExpunge)) (personal (MailboxName))"),
                                               name: "NOTIFY") { _ in }
                    failures = 0
                    board.set("NOTIFY", .idling)
                    if reconnected { host.requestRun(SyncScope(folders: all)) }
                    try await notifications(session, folders)
                }
                throw IMAPConnectionError.lost("the server ended the connection")
            } catch let error as CancellationError {
                throw error
            } catch IMAPCommandError.refused("NOTIFY", let status) {
                // Offered but refused (a server that takes another dialect): IDLE instead.
                host.logger.notice("push: \(account.host) refused NOTIFY (\(status.text)); using IDLE")
                board.remove("NOTIFY")
                return
            } catch {
                try Task.checkCancellation()
                failures += 1
                let wait = Self.isLoginRefusal(error) ? Self.backoff(10) : Self.backoff(failures)
                host.logger.notice("push: NOTIFY: \(error); connecting again in \(wait.configText)")
                board.set("NOTIFY", .waiting(until: .now + wait, reason: Self.reason(error)))
                try await Task.sleep(for: wait)
                board.set("NOTIFY", .connecting)
                reconnected = true
            }
        }
    }

    /// Reads notifications until the connection fails; a NOOP every keep-alive interval proves
    /// the server still answers (the read timeout ends a connection where it does not).
    private func notifications(_ session: IMAPSession, _ folders: [(FolderName, MailboxName)]) async throws {
        let byMailbox = Dictionary(folders.map { ($0.1, $0.0.description) }) { first, _ in first }
        let channel = session.connection.channel
        let keepalive = account.pushKeepalive
        let timer = Task {
            var count = 0
            while true {
                try await Task.sleep(for: keepalive)
                count += 1
                try await channel.writeAndFlush(ByteBuffer(string: "K\(count) NOOP\r\n"))
            }
        }
        defer { timer.cancel() }
        while true {
            let event = try await session.nextEvent()
            switch event {
            case .status(let mailbox, _):
                // The server names the folder as LIST did.
                if let folder = byMailbox[mailbox] { host.requestRun(SyncScope(folders: [folder])) }
            case .list(let entry):
                // A folder created, deleted or renamed: one that push names changes what to watch.
                if let name = account.syncedFolder(entry), account.pushes(name) { pushed.serverChanged() }
            case .untagged(let status) where status.condition == .bye:
                throw IMAPConnectionError.lost("the server said BYE: \(status.text)")
            case .tagged(_, let status) where status.condition != .ok:
                throw IMAPCommandError.refused("NOOP", status)
            default:
                break
            }
        }
    }
}
