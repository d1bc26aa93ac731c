import IMAPProtocol
import Maildir
import Outbox
import SMTPClient
import SMTPProvider
import SyncDaemon
import SyncProtocol

/// Send before receive, as Outlook's Send/Receive does: a run with `SYNC_OUTGOING_MAIL` on a store
/// with an `smtp` table first sends its outbox (``OutboxSender``); the copies it files into the
/// local Sent folder then go up to the server with the run's upload, through the same
/// exactly-once APPEND as any message saved there.
extension IMAPProvider {
    /// What a run sends, and what it then synchronises.
    struct SendPlan {
        var outcome: OutboxSender.Outcome
        /// The run asked for nothing but sending (syncd-sendmail, a change in the outbox): the
        /// receive part only uploads what was filed into Sent.
        var sendOnly: Bool
    }

    /// Sends the outbox if the run asks for it; nil when it does not (or the store cannot send).
    func sendOutbox(_ request: SyncRequest, credential: Credential, callback: SyncCallback) async throws -> SendPlan? {
        guard request.flags.contains(.outgoingMail), let smtp = account.smtp else { return nil }
        let outboxName = account.outbox.description
        if let scope = request.scope, !scope.folders.contains(outboxName) { return nil }
        let receiving: SyncFlags = [.uploadContents, .downloadContents, .uploadHierarchy, .downloadHierarchy]
        let sendOnly = request.flags.isDisjoint(with: receiving) || request.scope?.folders == [outboxName]
        let sender: OutboxSender
        do {
            let outbox = try Outbox(tree: account.mailTree, folder: account.outbox, failedFolder: account.failedFolder)
            sender = OutboxSender(outbox: outbox, server: smtp.server, sentFolder: account.saveSent ? account.sentFolder : nil)
        } catch {
            callback.error(.storage, "cannot open the outbox \(account.outboxPath): \(error)")
            var outcome = OutboxSender.Outcome()
            outcome.result = .storage
            return SendPlan(outcome: outcome, sendOnly: sendOnly)
        }
        let login = try smtpLogin(smtp, credential: credential, callback: callback)
        let lookup: OutboxSender.Lookup? = account.saveSent ? nil : { @Sendable [self] messageID in
            try await isInServerSent(messageID, credential: credential, callback: callback)
        }
        let outcome = try await sender.send(login: login, callback: callback, alreadySent: lookup)
        callback.changed(sent: outcome.sent)
        return SendPlan(outcome: outcome, sendOnly: sendOnly)
    }

    /// The request for the receive part after sending: a send-only run uploads the Sent folder
    /// when it filed something there, and nothing else; nil when nothing is left to do.
    func receiveRequest(after plan: SendPlan?, _ request: SyncRequest) -> SyncRequest? {
        guard let plan, plan.sendOnly else {
            guard let scope = request.scope else { return request }
            // A push run that covered the outbox: the outbox itself is no server folder.
            let folders = scope.folders.subtracting([account.outbox.description])
            if folders.isEmpty { return nil }
            var receive = request
            receive.scope = SyncScope(folders: folders, localOnly: scope.localOnly)
            return receive
        }
        guard plan.outcome.sent > 0, account.saveSent else { return nil }
        var upload = request
        upload.flags.formUnion([.uploadContents, .uploadHierarchy])
        upload.scope = SyncScope(folders: [account.sentFolder.description], localOnly: true)
        return upload
    }

    /// The SMTP login: the smtp table's own user and password, or the imap store's credentials.
    private func smtpLogin(_ smtp: SMTPSettings, credential: Credential, callback: SyncCallback) throws -> SMTPLogin {
        guard smtp.sameAsIMAP else {
            guard let user = smtp.user, let password = smtp.password else { throw NoCredentials(store: callback.store) }
            return .password(user: user, password: try callback.secret(password))
        }
        let user = smtp.user ?? account.user
        switch credential {
        case .password(let password): return .password(user: user, password: password)
        case .token(let token), .managed(let token, _, _): return .oauth2(user: user, accessToken: token)
        }
    }

    /// Whether the server's Sent folder has a message with this Message-ID: for a message a crash
    /// left mid-send on a server that files sent mail itself (`save_sent = false`).
    private func isInServerSent(_ messageID: String, credential: Credential, callback: SyncCallback) async throws -> Bool {
        try await IMAPConnection.with(account) { connection in
            let session = IMAPSession(connection)
            try await session.prepare(account)
            try await logIn(session, credential, callback: callback)
            try await session.finishLogin()
            let delimiter = try await session.hierarchyDelimiter()
            var found = false
            do {
                try await session.run(.examine(MailboxName(account.sentFolder.imapName(delimiter: delimiter))))
                try await session.run(.uidSearch([.header("Message-ID", messageID)])) { event in
                    if case .search(let uids, _) = event, !uids.isEmpty { found = true }
                }
            } catch IMAPCommandError.refused {
                found = false  // no such folder there: not filed
            }
            await session.logout()
            return found
        }
    }
}

extension IMAPProvider: OutboxOwning {
    public var outboxLocation: OutboxLocation? {
        account.smtp.map { _ in
            OutboxLocation(tree: account.mailTree, folder: account.outbox, failedFolder: account.failedFolder, user: account.user)
        }
    }
}
