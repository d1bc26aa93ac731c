#if canImport(Glibc)
import Glibc
#endif
import Foundation
import IMAPProtocol
import MailServers
import SyncIPC
import SyncProtocol
import TestSupport
import XCTest

/// The built syncd binary syncing a real Dovecot, as a user runs it.
final class IMAPDaemonTests: XCTestCase {
    /// `kill -9` of syncd in the middle of INBOX, then a restart and a second run: every message
    /// exactly once. The second run also downloads a 100 MB message, which must stream to disk: the
    /// daemon's peak RSS stays far below the message's size.
    func testKill9MidSync_thenRestart_everyMessageOnce_andA100MBMessageStreams() async throws {
        let dovecot = try Dovecot(messages: 600, folders: "INBOX,Sent")
        // "Zeitung" sorts after INBOX, so the big message is left for the restarted daemon.
        try dovecot.addMessage(folder: "Zeitung", bodyMegabytes: 100)
        let daemon = try DaemonProcess(config: "")
        let maildir = daemon.directory + "/mail"
        try daemon.writeIMAPStore(dovecot, """
            fetch_batch = 10
            run_at_startup = false
            """)

        try await daemon.start()
        var client = try await daemon.client()
        var (_, updates) = try await client.subscribe()
        _ = try await client.send(.syncNow(store: "mail", flags: []))
        let before = try await events(from: updates) { event in
            guard case .progress(let step?, let index, _) = event.kind else { return false }
            return step.hasPrefix("INBOX") && index >= 50
        }
        daemon.signal(SIGKILL)
        _ = try await daemon.waitForExit()
        XCTAssertFalse(before.contains { $0.isDone }, "killed mid-run")
        let partial = try MailboxContents(maildirPlusPlus: maildir)
        XCTAssertLessThan(partial.count, 601, "the kill came before the end")

        try await daemon.start()
        client = try await daemon.client()
        (_, updates) = try await client.subscribe()
        _ = try await client.send(.syncNow(store: "mail", flags: []))
        let after = try await events(from: updates, timeout: .seconds(120)) { $0.isDone }
        XCTAssertEqual(after.last?.doneResult, .ok, "\(after.filter { if case .error = $0.kind { true } else { false } })")

        let peak = try peakResidentMegabytes(of: daemon)
        XCTAssertLessThan(peak, 70, "the 100 MB message must stream to disk, not through memory")

        let server = try MailboxContents(maildirPlusPlus: dovecot.mailbox) { (try? MailboxName.decode($0)) ?? $0 }
        let local = try MailboxContents(maildirPlusPlus: maildir)
        XCTAssertEqual(local.count, 601)
        XCTAssertEqual(local.folders.keys.sorted(), server.folders.keys.sorted())
        for (folder, messages) in server.folders {
            XCTAssertEqual(local.folders[folder], messages, "folder \(folder)")
            XCTAssertEqual(local.files[folder], messages.count, "\(folder): every message exactly once")
        }
        await client.close()
    }

    private func peakResidentMegabytes(of daemon: DaemonProcess) throws -> Int {
        let pid = try XCTUnwrap(daemon.process?.processIdentifier)
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try XCTUnwrap(status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") })
        let kilobytes = try XCTUnwrap(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
        return kilobytes / 1024
    }
}
