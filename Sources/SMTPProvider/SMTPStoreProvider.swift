import Maildir
import Outbox
import SyncDaemon
import SyncProtocol

/// The `smtp` provider: a send-only store. Its outbox, a Maildir folder a mail client or
/// `syncd-sendmail` saves into, goes out through the server at each run with
/// `SYNC_OUTGOING_MAIL`; sent copies are filed into the local Sent folder (`save_sent`, default
/// true), refused messages into `Failed`. For an account that is also read here, give the imap
/// store an `smtp` table instead: then Sent goes up to the server too.
public struct SMTPStoreProvider: StoreProvider {
    public struct Settings: Sendable {
        public var smtp: SMTPSettings
        public var maildir: String
        public var layout: MaildirLayout
        public var folders: OutboxFolders
    }

    public let settings: Settings

    public init(settings: Settings) {
        self.settings = settings
    }

    public func synchronize(_ request: SyncRequest, callback: SyncCallback) async throws -> SyncStatus {
        guard request.flags.contains(.outgoingMail) else { return .ok }
        guard let user = settings.smtp.user, let source = settings.smtp.password else {
            callback.error(.config, "no user and password to log in to \(settings.smtp.server.host)")
            return .config
        }
        let sender: OutboxSender
        do {
            let tree = MaildirTree(root: settings.maildir, layout: settings.layout)
            let folders = settings.folders
            let outbox = try Outbox(tree: tree, folder: folders.outbox, failedFolder: folders.failed)
            sender = OutboxSender(outbox: outbox, server: settings.smtp.server, sentFolder: folders.saveSent ? folders.sent : nil)
        } catch {
            callback.error(.storage, "cannot open the outbox \(settings.folders.outboxPath): \(error)")
            return .storage
        }
        let password: String
        do {
            password = try callback.secret(source)
        } catch {
            callback.error(.config, "\(error)")
            return .config
        }
        do {
            let outcome = try await sender.send(login: .password(user: user, password: password), callback: callback, alreadySent: nil)
            callback.changed(sent: outcome.sent)
            return outcome.result
        } catch is CancellationError {
            return .cancelled
        } catch {
            callback.error(.storage, "outbox: \(error)")
            return .storage
        }
    }
}

/// Builds ``SMTPStoreProvider``s: `provider = "smtp"`.
public struct SMTPFactory: ProviderFactory {
    public init() {}
    public let name = "smtp"
    public var optionKeys: [String] {
        SMTPSettings.keys.filter { $0 != "same_as_imap" } + ["maildir", "layout"] + OutboxFolders.keys
    }

    public func makeProvider(for store: String, options: ConfigSection) throws -> any StoreProvider {
        let smtp = try SMTPSettings(options: options, imap: false)
        let maildir = try options.requiredString("maildir")
        guard maildir.hasPrefix("/") else { throw options.error("maildir", "expected an absolute path") }
        let layout: MaildirLayout
        switch try options.string("layout", default: "maildir++") {
        case "maildir++": layout = .maildirPlusPlus
        case "nested": layout = .nested
        default: throw options.error("layout", "expected one of maildir++, nested")
        }
        let folders = try OutboxFolders(options: options, tree: MaildirTree(root: maildir, layout: layout))
        return SMTPStoreProvider(settings: .init(smtp: smtp, maildir: maildir, layout: layout, folders: folders))
    }
}

extension SMTPStoreProvider: OutboxOwning {
    public var outboxLocation: OutboxLocation? {
        OutboxLocation(tree: MaildirTree(root: settings.maildir, layout: settings.layout), folder: settings.folders.outbox,
                       failedFolder: settings.folders.failed, user: settings.smtp.user)
    }
}
