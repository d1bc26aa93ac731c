import CSystemd
import SyncProtocol

/// The journal entries syncd wrote about one store (`journalctl SYSLOG_IDENTIFIER=syncd STORE=`):
/// what its runs logged, including an exec command's stderr and malformed lines, which reach no
/// viewer. Readable by root and the groups systemd-journal and adm; others see only their own.
enum Journal {
    struct Entry {
        var time: Timestamp
        /// syslog priority: 3 error, 4 warning, 5 notice, 6 info, 7 debug.
        var priority: Int
        var message: String

        var level: String {
            switch priority {
            case ...3: return "error"
            case 4: return "warning"
            case 5: return "notice"
            case 6: return "info"
            default: return "debug"
            }
        }
    }

    /// The newest `limit` entries for `store`, oldest first; nil when there is no journal to read.
    static func entries(store: String, limit: Int) -> [Entry]? {
        var journal: OpaquePointer?
        guard sd_journal_open(&journal, Int32(SD_JOURNAL_LOCAL_ONLY)) >= 0, let journal else { return nil }
        defer { sd_journal_close(journal) }
        // Matches on different fields must all hold.
        for match in ["SYSLOG_IDENTIFIER=syncd", "STORE=\(store)"] {
            guard match.withCString({ sd_journal_add_match(journal, $0, 0) }) >= 0 else { return nil }
        }
        guard sd_journal_seek_tail(journal) >= 0 else { return nil }
        var entries: [Entry] = []
        while entries.count < limit, sd_journal_previous(journal) > 0 {
            var usec: UInt64 = 0
            _ = sd_journal_get_realtime_usec(journal, &usec)
            let message = field(journal, "MESSAGE") ?? ""
            let priority = field(journal, "PRIORITY").flatMap { Int($0) } ?? 6
            entries.append(Entry(time: Timestamp(rawValue: usec), priority: priority, message: message))
        }
        return entries.reversed()
    }

    /// The value of one field of the current entry.
    private static func field(_ journal: OpaquePointer, _ name: String) -> String? {
        var data: UnsafeRawPointer?
        var length = 0
        guard name.withCString({ sd_journal_get_data(journal, $0, &data, &length) }) >= 0, let data else { return nil }
        let bytes = UnsafeRawBufferPointer(start: data, count: length)
        // "NAME=value"
        return String(decoding: bytes.dropFirst(name.utf8.count + 1), as: UTF8.self)
    }
}
