import Foundation
import IMAPProvider
import SyncDaemon

/// Which store's outbox takes the message: `--store`, else the only imap store, else the one
/// whose `user` is the sender's address.
enum StoreChoice {
    static func choose(in config: DaemonConfig, named: String?, sender: String?) throws -> (name: String, account: IMAPAccount) {
        let imap = config.stores.values
            .compactMap { store in (store.provider as? IMAPProvider).map { (store.name, $0.account) } }
            .sorted { $0.0 < $1.0 }
        let names = imap.map(\.0).joined(separator: ", ")
        if let named {
            guard let found = imap.first(where: { $0.0 == named }) else {
                let reason = config.stores[named] == nil ? "no store named '\(named)'" : "store '\(named)' is not an imap store"
                throw SendmailArguments.UsageError(
                    description: "\(reason) in \(config.file) (imap stores: \(names.isEmpty ? "none" : names))")
            }
            return found
        }
        guard !imap.isEmpty else {
            throw SendmailArguments.UsageError(description: "\(config.file) has no imap store to send through")
        }
        if imap.count == 1 { return imap[0] }
        if let sender {
            let matching = imap.filter { $0.1.user.lowercased() == sender.lowercased() }
            if matching.count == 1 { return matching[0] }
        }
        throw SendmailArguments.UsageError(
            description: "\(config.file) has several imap stores (\(names)) and none has the sender \(sender.map { "<\($0)>" } ?? "(none)") as its user: pick one with --store NAME")
    }
}
