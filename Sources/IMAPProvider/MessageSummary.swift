import Foundation
import Maildir
import MessageHeaders
import SyncProtocol

/// From, Subject and Date of a message file, for a NewMessages event: read from its header only,
/// encoded words (RFC 2047) decoded.
enum MessageSummary {
    /// The most of a file read to find its header.
    static let headerLimit = 64 * 1024

    /// The summary of the message in `path`, nil if it cannot be read.
    static func read(path: String) -> NewMessages.Summary? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let data = try? handle.read(upToCount: headerLimit) else { return nil }
        return summary(of: Array(data))
    }

    static func summary(of bytes: [UInt8]) -> NewMessages.Summary {
        let fields = MessageHeaders.headerFields(bytes)
        func field(_ name: String) -> String? { fields.first { $0.name == name }?.value }
        return NewMessages.Summary(
            from: field("from").map(MessageHeaders.decodeEncodedWords) ?? "",
            subject: field("subject").map(MessageHeaders.decodeEncodedWords) ?? "",
            date: field("date").flatMap(parseDate))
    }

    static func parseDate(_ text: String) -> Timestamp? {
        MessageHeaders.parseDate(text).map { Timestamp(seconds: $0.timeIntervalSince1970) }
    }
}

extension IMAPSyncRun {
    /// Reports messages just committed to `local` as new mail, with the summaries of the first
    /// few of the folder's (a run's later batches only add to the count).
    func reportNew(_ uids: [UInt32], in folder: RemoteFolder, _ local: MaildirFolder) {
        guard !uids.isEmpty else { return }
        let wanted = max(0, NewMessages.maxSummaries - (summarized[folder.name] ?? 0))
        let summaries = uids.prefix(wanted).compactMap { local.filePath(for: $0).flatMap(MessageSummary.read) }
        summarized[folder.name, default: 0] += summaries.count
        callback.newMessages(folder: folder.name.description, count: uids.count, summaries: summaries)
    }
}
