import Maildir
import SyncDaemon

/// The folders of a store that sends (`outbox`, `sent_folder`, `failed_folder`, `save_sent`),
/// read the same way for an imap store and a send-only smtp store.
public struct OutboxFolders: Sendable {
    /// The folder whose messages a run with `SYNC_OUTGOING_MAIL` sends (`outbox`).
    public var outbox: FolderName
    /// Where a sent message is filed (`sent_folder`), unless ``saveSent`` is false.
    public var sent: FolderName
    /// Where a message refused for good goes, with the server's reply (`failed_folder`).
    public var failed: FolderName
    /// File sent mail into ``sent`` (`save_sent`); false where the server does (Gmail).
    public var saveSent: Bool
    /// The Maildir directories of the three folders in the store's layout.
    public var outboxPath: String, sentPath: String, failedPath: String

    public static let keys = ["outbox", "sent_folder", "failed_folder", "save_sent"]

    /// Reads the keys from `options`, mapping each folder to its directory in `tree`.
    public init(options: ConfigSection, tree: MaildirTree) throws {
        (outbox, outboxPath) = try Self.folder(options, "outbox", default: "Outbox", in: tree)
        (sent, sentPath) = try Self.folder(options, "sent_folder", default: "Sent", in: tree)
        (failed, failedPath) = try Self.folder(options, "failed_folder", default: "Failed", in: tree)
        saveSent = try options.bool("save_sent", default: true)
        if outbox == sent || outbox == failed || outbox == .inbox {
            throw options.error("outbox", "must be a folder of its own, not INBOX, sent_folder or failed_folder")
        }
    }

    /// A folder-name key (levels separated by "/") and its Maildir directory.
    private static func folder(_ options: ConfigSection, _ key: String, default fallback: String, in tree: MaildirTree) throws -> (FolderName, String) {
        let text = try options.string(key, default: fallback)
        do {
            let name = try FolderName(imapName: text, delimiter: "/")
            return (name, try tree.directory(for: name))
        } catch {
            throw options.error(key, "expected a folder name such as \"\(fallback)\" (levels separated by /): \(error)")
        }
    }
}
