import IMAPProtocol
import Maildir
import NIOCore
import OAuth2
import SyncDaemon
import SyncProtocol

/// IMAP IDLE (RFC 2177) on the account's pushed folders between runs: one connection per folder
/// (at most `push_connections`), each EXAMINEd (read-only) and idling. An untagged EXISTS,
/// EXPUNGE, VANISHED or FETCH asks the host for a run of that folder.
///
/// Keep-alive and dead connections: every `push_keepalive` (10 min, under RFC 2177's 29) the
/// listener ends the IDLE with DONE and starts another; a server that does not answer DONE in
/// time, or says nothing at all for keep-alive plus `timeout`, is taken for gone (a NAT box that
/// forgot the connection, a server restarted), and the connection is made again after a backoff
/// (1 s doubling to 5 min, ±20 %), followed by a run of the folder for what came meanwhile.
///
/// Its own runs' changes: an EXPUNGE or FETCH seen while a run of the store is in progress (or
/// just ended) is taken for that run's doing and ignored; EXISTS always counts, since new mail
/// matters most and a run it asks for in vain costs little.
struct IdleListener {
    let account: IMAPAccount
    let host: ListenerHost
    let board: PushBoard
    /// Where runs and NOTIFY say that the server's folders changed.
    let pushed: PushedFolders

    /// Runs until cancelled; never throws anything else.
    func run() async throws {
        defer { pushed.stopWatching() }
        var known: Set<String>?
        while true {
            let (folders, notify) = try await listFolders()
            let names = Set(folders.map { $0.0.description })
            let changes = pushed.watch(names)
            if let known {
                let added = names.subtracting(known)
                host.logger.info("push: the server's folders changed; watching \(names.count) (\(added.count) new)")
                // What a new folder holds already, and what came to the others while the listener
                // listed again (its connections were closed meanwhile).
                if !names.isEmpty { host.requestRun(SyncScope(folders: names)) }
            }
            known = names
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await listen(folders, notify: notify) }
                group.addTask { for await _ in changes { return } }
                try await group.next()
                group.cancelAll()
            }
            try Task.checkCancellation()
            board.removeServerConnections()
        }
    }

    /// The pushed folders, and whether NOTIFY is offered: retried like a lost connection.
    private func listFolders() async throws -> ([(FolderName, MailboxName)], Bool) {
        var failures = 0
        while true {
            do {
                let found = try await withSession { session in
                    (try await pushedFolders(session), session.capabilities.contains(Self.notifyCapability))
                }
                board.remove("")
                return found
            } catch IdleError.notOffered {
                board.setNotOffered()
                host.logger.notice("push: \(account.host) does not offer IDLE; the store syncs on its interval only")
                try await Task.sleep(for: .seconds(365 * 86400))
            } catch {
                try Task.checkCancellation()
                failures += 1
                let wait = Self.isLoginRefusal(error) ? Self.backoff(10) : Self.backoff(failures)
                board.set("", .waiting(until: .now + wait, reason: "\(error)"))
                try await Task.sleep(for: wait)
            }
        }
    }

    /// Watches `folders` until cancelled: one NOTIFY connection where offered, else IDLE on each.
    private func listen(_ folders: [(FolderName, MailboxName)], notify: Bool) async throws {
        guard !folders.isEmpty else {
            // Until a run, or a restart, finds one.
            host.logger.notice("push: no folder on the server matches push = \(account.push)")
            try await Task.sleep(for: .seconds(365 * 86400))
            return
        }
        if notify, account.pushNotify, let names = Self.notifyNames(folders) {
            board.setNotify(folders: folders.count)
            board.set("NOTIFY", .connecting)
            try await watchAll(folders, names)
            board.clearNotify()
        }
        let watched = Array(folders.prefix(account.pushConnections))
        board.setLeftOut(folders.count - watched.count)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (name, mailbox) in watched {
                board.set(name.description, .connecting)
                group.addTask { try await watch(name.description, mailbox) }
            }
            try await group.waitForAll()
        }
    }

    /// The server's folders that `push` names (and `include`/`exclude` allow), in name order.
    private func pushedFolders(_ session: IMAPSession) async throws -> [(FolderName, MailboxName)] {
        guard session.capabilities.contains(.idle) else { throw IdleError.notOffered }
        var found: [(FolderName, MailboxName)] = []
        try await session.run(.list()) { event in
            guard case .list(let entry) = event, let name = account.pushedFolder(entry) else { return }
            found.append((name, entry.name))
        }
        return found.sorted { $0.0 < $1.0 }
    }

    /// One folder's IDLE connection, made again whenever it is lost.
    private func watch(_ folder: String, _ mailbox: MailboxName) async throws {
        var failures = 0
        var reconnected = false
        while true {
            do {
                try await withSession { session in
                    try await session.run(.examine(mailbox))
                    failures = 0
                    // What came while it was away.
                    if reconnected { host.requestRun(SyncScope(folders: [folder])) }
                    try await idle(session, folder)
                }
                throw IMAPConnectionError.lost("the server ended the connection")
            } catch let error as CancellationError {
                throw error
            } catch {
                try Task.checkCancellation()
                failures += 1
                // A refused login is not retried soon: servers lock accounts after failed logins.
                let wait = Self.isLoginRefusal(error) ? Self.backoff(10) : Self.backoff(failures)
                host.logger.notice("push: \(folder): \(error); connecting again in \(wait.configText)")
                board.set(folder, .waiting(until: .now + wait, reason: Self.reason(error)))
                try await Task.sleep(for: wait)
                board.set(folder, .connecting)
                reconnected = true
            }
        }
    }

    /// IDLE after IDLE on a selected folder, until the connection fails.
    private func idle(_ session: IMAPSession, _ folder: String) async throws {
        let channel = session.connection.channel
        while true {
            let tag = try await session.send(.idle)
            while true {
                let event = try await session.nextEvent()
                if case .continuation = event { break }
                if case .tagged(tag, let status) = event { throw IMAPCommandError.refused("IDLE", status) }
                noticed(event, folder)
            }
            board.set(folder, .idling)
            // The keep-alive: DONE after push_keepalive, from a task of its own since this one
            // waits for the server. Written to the channel directly: nothing else writes meanwhile.
            let keepalive = account.pushKeepalive
            let timer = Task {
                try await Task.sleep(for: keepalive)
                try await channel.writeAndFlush(CommandEncoder.idleDone)
            }
            defer { timer.cancel() }
            while true {
                let event = try await session.nextEvent()
                if case .tagged(tag, let status) = event {
                    guard status.condition == .ok else { throw IMAPCommandError.refused("IDLE", status) }
                    break
                }
                if case .tagged(let other, _) = event { throw IMAPCommandError.protocolViolation("completion for unknown tag \(other)") }
                if case .untagged(let status) = event, status.condition == .bye {
                    throw IMAPConnectionError.lost("the server said BYE: \(status.text)")
                }
                noticed(event, folder)
            }
        }
    }

    func noticed(_ event: ResponseEvent, _ folder: String) {
        switch event {
        case .exists:
            host.requestRun(SyncScope(folders: [folder]))
        case .expunge, .vanished(_, earlier: false), .fetchStart:
            if !host.mayBeOwnChange() { host.requestRun(SyncScope(folders: [folder])) }
        default:
            break
        }
    }

    /// Connects and logs in as a run does, with a read timeout that lets an IDLE be silent for a
    /// keep-alive interval, plus the account's timeout for the answer to DONE.
    func withSession<T>(_ body: (IMAPSession) async throws -> T) async throws -> T {
        try await IMAPConnection.with(account, readTimeout: account.pushKeepalive + account.timeout) { connection in
            let session = IMAPSession(connection)
            try await session.prepare(account)
            try await logIn(session)
            try await session.finishLogin(compress: account.compress)
            let result = try await body(session)
            await session.logout()
            return result
        }
    }

    private func logIn(_ session: IMAPSession) async throws {
        switch (account.auth, account.password, account.oauth2) {
        case (.password, let source?, _):
            try await session.login(account, password: try host.secret(source))
        case (.oauth2, let source?, _):
            try await session.authenticate(try session.oauthMechanism(forced: account.saslMechanism), account: account, token: try host.secret(source))
        case (.oauth2, nil, let settings?):
            let secret = try settings.clientSecret.map { try host.secret($0) }
            let client = OAuth2Client(configuration: settings.configuration, clientSecret: secret, timeout: account.timeout)
            let tokens = OAuth2Tokens(client: client, file: TokenFile(stateDirectory: host.stateDirectory, store: host.store))
            let token = try await tokens.accessToken().token
            try await session.authenticate(try session.oauthMechanism(forced: account.saslMechanism), account: account, token: token)
        default:
            throw IMAPCommandError.authenticationFailed("the store has no credentials")
        }
    }

    /// 1 s, 2 s, 4 s ... up to 5 min, ±20 %: never a storm of reconnects at a server that is down.
    static func backoff(_ failures: Int) -> Duration {
        let base = min(300.0, Double(1 << min(failures - 1, 9)))
        return .milliseconds(Int64(base * Double.random(in: 0.8...1.2) * 1000))
    }

    static func isLoginRefusal(_ error: Error) -> Bool {
        switch error {
        case IMAPCommandError.authenticationFailed, IMAPCommandError.tokenRefused, is OAuth2Tokens.Failure: return true
        default: return false
        }
    }

    /// The failure in a few words, for `status`.
    static func reason(_ error: Error) -> String {
        switch error {
        case IMAPConnectionError.timedOut: return "no answer from the server"
        case IMAPConnectionError.lost(let why): return why
        case IMAPConnectionError.connectFailed(_, _, let why): return "cannot connect: \(why)"
        default: return "\(error)"
        }
    }

    enum IdleError: Error {
        case notOffered
    }
}
