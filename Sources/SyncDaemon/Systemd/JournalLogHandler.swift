import CSystemd
#if canImport(Glibc)
import Glibc
#endif
import Logging

/// A swift-log backend writing structured entries to the systemd journal.
///
/// Metadata become journal fields, upper-cased: `store` → `STORE=`, `run` → `RUN=`,
/// `code` → `SYNC_CODE=` (the status name), so `journalctl STORE=mail` finds one store's lines.
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let identifier: String

    public init(identifier: String) {
        self.identifier = identifier
    }

    /// Whether stderr already goes to the journal (systemd sets `$JOURNAL_STREAM` for services),
    /// which is when journal entries, not plain lines, are wanted.
    public static var stderrIsJournal: Bool { getenv("JOURNAL_STREAM") != nil }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = [
            "MESSAGE=\(event.message)",
            "PRIORITY=\(Self.priority(event.level))",
            "SYSLOG_IDENTIFIER=\(identifier)",
            "CODE_FILE=\(event.file)",
            "CODE_LINE=\(event.line)",
            "CODE_FUNC=\(event.function)",
        ]
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        for (key, value) in merged {
            fields.append("\(Self.fieldName(key))=\(value)")
        }
        Self.send(fields)
    }

    static func fieldName(_ key: String) -> String {
        if key == "code" { return "SYNC_CODE" }
        // Journal field names: A-Z, 0-9 and _, not starting with _ or a digit.
        let name = String(key.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
        return name.first?.isLetter == true ? name : "F_" + name
    }

    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    private static func send(_ fields: [String]) {
        let cStrings = fields.map { strdup($0)! }
        defer { cStrings.forEach { free($0) } }
        var vectors = cStrings.map { iovec(iov_base: UnsafeMutableRawPointer($0), iov_len: strlen($0)) }
        _ = sd_journal_sendv(&vectors, Int32(vectors.count))
    }
}
