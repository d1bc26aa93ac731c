import Foundation
import SMTPProvider
import SyncDaemon

/// Which store's outbox takes the message: `--store`, else the only store that sends (an imap
/// store with an smtp table, or an smtp store), else the one whose `user` is the sender's address.
enum StoreChoice {
    static func choose(in config: DaemonConfig, named: String?, sender: String?) throws -> (name: String, outbox: OutboxLocation) {
        let sending = config.stores.values
            .compactMap { store in (store.provider as? OutboxOwning)?.outboxLocation.map { (store.name, $0) } }
            .sorted { $0.0 < $1.0 }
        let names = sending.map(\.0).joined(separator: ", ")
        if let named {
            guard let found = sending.first(where: { $0.0 == named }) else {
                let reason = config.stores[named] == nil
                    ? "no store named '\(named)'" : "store '\(named)' does not send (an imap store needs an smtp table)"
                throw SendmailArguments.UsageError(
                    description: "\(reason) in \(config.file) (stores that send: \(names.isEmpty ? "none" : names))")
            }
            return found
        }
        guard !sending.isEmpty else {
            throw SendmailArguments.UsageError(
                description: "\(config.file) has no store that sends: give an imap store an smtp table, or add a provider = \"smtp\" store")
        }
        if sending.count == 1 { return sending[0] }
        if let sender {
            let matching = sending.filter { $0.1.user?.lowercased() == sender.lowercased() }
            if matching.count == 1 { return matching[0] }
        }
        throw SendmailArguments.UsageError(
            description: "\(config.file) has several stores that send (\(names)) and none has the sender \(sender.map { "<\($0)>" } ?? "(none)") as its user: pick one with --store NAME")
    }
}
