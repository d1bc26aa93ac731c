#if canImport(Glibc)
import Glibc
#endif
import Foundation
import IMAPProtocol
import Logging
import SyncIPC
import SyncProtocol
import XCTest
@testable import IMAPProvider
@testable import SyncDaemon

/// The imap provider against a real Dovecot: every sync is checked message by message against
/// the server's own Maildir.
final class IMAPProviderTests: XCTestCase {
    var server: SyncServer!
    var local: String!
    var run: RunID = 0

    override func setUp() async throws {
        local = "/tmp/imap-local-\(UInt32.random(in: 0...UInt32.max))"
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        server = SyncServer(configuration: .init(listener: .path(local + ".sock"), logger: logger))
        try await server.start()
    }

    override func tearDown() async throws {
        await server.stop()
        try? FileManager.default.removeItem(atPath: local)
    }

    func provider(_ dovecot: Dovecot, security: String = "none", password: String = "secret", extra: String = "") throws -> IMAPProvider {
        try provider(
            port: security == "tls" ? dovecot.tlsPort : dovecot.plainPort, security: security, password: password, extra: extra)
    }

    func provider(port: Int, security: String = "none", password: String = "secret", extra: String = "") throws -> IMAPProvider {
        try FileManager.default.createDirectory(atPath: local + "-secrets", withIntermediateDirectories: true)
        try password.write(toFile: local + "-secrets/pw", atomically: true, encoding: .utf8)
        let config = try DaemonConfig.parse("""
            [store.mail]
            provider = "imap"
            host = "\(security == "none" ? "127.0.0.1" : "localhost")"
            port = \(port)
            security = "\(security)"
            user = "alice"
            password = { file = "\(local!)-secrets/pw" }
            maildir = "\(local!)"
            \(extra)
            """, file: "test.toml", factories: [IMAPFactory()])
        return config.stores["mail"]!.provider as! IMAPProvider
    }

    /// Runs one sync and returns its result and the Error callbacks it made.
    func sync(
        _ provider: IMAPProvider, flags: SyncFlags = .full, trigger: RunTrigger = .onDemand, cancelAfter: Duration? = nil
    ) async throws -> (SyncStatus, [DurableState.ErrorRecord]) {
        run += 1
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let callback = SyncCallback(reporter: server.reporter(store: "mail", run: run), logger: logger)
        let request = SyncRequest(store: "mail", run: run, flags: flags, trigger: trigger)
        let task = Task { try await provider.synchronize(request, callback: callback) }
        if let cancelAfter {
            try await Task.sleep(for: cancelAfter)
            callback.reporter.requestCancel()
            task.cancel()
        }
        let result = try await task.value
        return (result, callback.errorCounts.records)
    }

    func serverContents(_ dovecot: Dovecot) throws -> MailboxContents {
        try MailboxContents(maildirPlusPlus: dovecot.mailbox) { (try? MailboxName.decode($0)) ?? $0 }
    }

    func localContents() throws -> MailboxContents {
        try MailboxContents(maildirPlusPlus: local)
    }

    func assertInSync(_ dovecot: Dovecot, file: StaticString = #filePath, line: UInt = #line) throws {
        let server = try serverContents(dovecot)
        let mine = try localContents()
        XCTAssertEqual(mine.folders.keys.sorted(), server.folders.keys.sorted(), file: file, line: line)
        for (folder, messages) in server.folders {
            XCTAssertEqual(mine.folders[folder], messages, "folder \(folder)", file: file, line: line)
            XCTAssertEqual(mine.files[folder], messages.count, "\(folder): every message exactly once", file: file, line: line)
        }
    }

    // MARK: Tests

    func testFirstSync_matchesTheServerMessageByMessage_andASecondFindsNothingNew() async throws {
        let dovecot = try Dovecot(messages: 240)
        let imap = try provider(dovecot)
        let (result, errors) = try await sync(imap)
        XCTAssertEqual(result, .ok, "\(errors)")
        try assertInSync(dovecot)
        XCTAssertEqual(try localContents().count, 240)
        XCTAssertNotNil(try localContents().folders["Entwürfe"], "non-ASCII folder names arrive decoded")

        let (again, _) = try await sync(imap)
        XCTAssertEqual(again, .ok)
        try assertInSync(dovecot)
    }

    func testIncremental_withQRESYNC() async throws {
        try await incrementalSyncs(capability: nil)  // Dovecot's own list: CONDSTORE and QRESYNC
    }

    func testIncremental_withCONDSTOREOnly() async throws {
        try await incrementalSyncs(capability: "IMAP4rev1 LITERAL+ ENABLE UIDPLUS CONDSTORE")
    }

    func testIncremental_withPlainIMAP4rev1() async throws {
        try await incrementalSyncs(capability: "IMAP4rev1 LITERAL+ UIDPLUS")
    }

    /// New mail, server flag changes and expunges; then a flag change alone (same message count
    /// and UIDNEXT, so only the mod-sequence or a flag fetch shows it); then one message changed on
    /// both sides, which must end with both changes.
    func incrementalSyncs(capability: String?, file: StaticString = #filePath, line: UInt = #line) async throws {
        let dovecot = try Dovecot(messages: 100, folders: "INBOX,Sent", capability: capability)
        let imap = try provider(dovecot)
        try await IMAPScript.run(port: dovecot.plainPort, [
            "a LOGIN alice secret", "b SELECT INBOX", "c UID STORE 10 -FLAGS (\\Seen \\Flagged)", "d LOGOUT",
        ])
        _ = try await sync(imap)

        try dovecot.generate(messages: 20, folders: "INBOX,Sent", seed: 99)
        try await IMAPScript.run(port: dovecot.plainPort, [
            "a LOGIN alice secret", "b SELECT INBOX", "c UID STORE 1:5 +FLAGS (\\Flagged \\Seen)",
            "d UID STORE 6 -FLAGS (\\Seen)", "e UID STORE 7:8 +FLAGS (\\Deleted)", "f EXPUNGE", "g LOGOUT",
        ])
        var (result, errors) = try await sync(imap)
        XCTAssertEqual(result, .ok, "\(errors)", file: file, line: line)
        try assertInSync(dovecot, file: file, line: line)

        try await IMAPScript.run(port: dovecot.plainPort, [
            "a LOGIN alice secret", "b SELECT Sent", "c UID STORE 3 +FLAGS (\\Answered)", "d LOGOUT",
        ])
        (result, errors) = try await sync(imap)
        XCTAssertEqual(result, .ok, "\(errors)", file: file, line: line)
        try assertInSync(dovecot, file: file, line: line)

        // UID 10 of INBOX: read here, flagged on the server before the next sync.
        let cur = local + "/cur"
        let name = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: cur).first { $0.contains(",U=10:2,") })
        XCTAssertFalse(name.hasSuffix("S"), name, file: file, line: line)
        try FileManager.default.moveItem(atPath: "\(cur)/\(name)", toPath: "\(cur)/\(name)S")
        try await IMAPScript.run(port: dovecot.plainPort, [
            "a LOGIN alice secret", "b SELECT INBOX", "c UID STORE 10 +FLAGS (\\Flagged)", "d LOGOUT",
        ])
        (result, errors) = try await sync(imap)
        XCTAssertEqual(result, .ok, "\(errors)", file: file, line: line)
        let merged = try FileManager.default.contentsOfDirectory(atPath: cur).filter { $0.contains(",U=10:2,") }
        XCTAssertEqual(merged.map { $0.split(separator: ",").last! }, ["FS"], "both changes kept", file: file, line: line)
        try assertInSync(dovecot, file: file, line: line)
    }

    func testHeadersOnly_scheduledRunsFetchHeaders_andAnOnDemandRunTheBodies() async throws {
        let dovecot = try Dovecot(messages: 60, folders: "INBOX,Sent")
        let imap = try provider(dovecot, extra: "headers_only = true")
        var (result, errors) = try await sync(imap, trigger: .schedule)
        XCTAssertEqual(result, .ok, "\(errors)")
        let server = try headers(under: dovecot.mailbox)
        let local = try headers(under: local)
        XCTAssertEqual(local.count, 60)
        XCTAssertEqual(local, server, "each message's header")
        let files = try FileManager.default.subpathsOfDirectory(atPath: self.local).filter { $0.contains(",U=") && !$0.hasPrefix("tmp") && !$0.contains("/tmp/") }
        XCTAssertEqual(files.count, 60)
        for file in files {
            XCTAssertTrue(file.contains(",H=1:2,"), file)
            let text = try String(contentsOfFile: self.local + "/" + file, encoding: .utf8)
            XCTAssertTrue(text.hasSuffix("\n\n") && text.components(separatedBy: "\n\n").count == 2, "nothing after the header: \(file)")
        }

        // Meanwhile on the server: a flag changes and a message arrives.
        try dovecot.generate(messages: 4, folders: "INBOX,Sent", seed: 7)
        try await IMAPScript.run(port: dovecot.plainPort, [
            "a LOGIN alice secret", "b SELECT INBOX", "c UID STORE 2 +FLAGS (\\Flagged)", "d LOGOUT",
        ])
        (result, errors) = try await sync(imap, trigger: .onDemand)
        XCTAssertEqual(result, .ok, "\(errors)")
        try assertInSync(dovecot)
        let left = try FileManager.default.subpathsOfDirectory(atPath: self.local).filter { $0.contains(",H=1") }
        XCTAssertEqual(left, [], "every header file was replaced by its whole message")
    }

    /// Message-ID → header (up to the blank line, line ends normalised) of every message file below `root`.
    func headers(under root: String) throws -> [String: String] {
        var found: [String: String] = [:]
        for path in try FileManager.default.subpathsOfDirectory(atPath: root)
        where path.contains("/cur/") || path.contains("/new/") || path.hasPrefix("cur/") || path.hasPrefix("new/") {
            let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: root + "/" + path)), as: UTF8.self)
                .replacingOccurrences(of: "\r\n", with: "\n")
            let header = String(text[..<(text.range(of: "\n\n")?.upperBound ?? text.endIndex)])
            let id = header.split(separator: "\n").first { $0.lowercased().hasPrefix("message-id:") }.map(String.init) ?? path
            found[id] = header
        }
        return found
    }

    func testLocalFlagChanges_areUploaded() async throws {
        let dovecot = try Dovecot(messages: 20, folders: "INBOX")
        let imap = try provider(dovecot)
        _ = try await sync(imap)
        // The user reads everything in their mail client: ":2," gains "S".
        let cur = local + "/cur"
        for file in try FileManager.default.contentsOfDirectory(atPath: cur) where !file.hasSuffix("S") {
            let parts = file.split(separator: ":", maxSplits: 1)
            let flags = String((parts[1].dropFirst(2) + "S").sorted())
            try FileManager.default.moveItem(atPath: "\(cur)/\(file)", toPath: "\(cur)/\(parts[0]):2,\(flags)")
        }
        let (result, errors) = try await sync(imap)
        XCTAssertEqual(result, .ok, "\(errors)")
        let server = try serverContents(dovecot)
        XCTAssertTrue(server.folders["INBOX"]!.values.allSatisfy { $0.flags.contains("S") }, "\(server.folders["INBOX"]!.values.map(\.flags))")
        try assertInSync(dovecot)
    }

    func testWrongPassword_isOneAuthFailedError() async throws {
        let dovecot = try Dovecot(messages: 5)
        let (result, errors) = try await sync(try provider(dovecot, password: "wrong"))
        XCTAssertEqual(result, .authFailed)
        XCTAssertEqual(errors.count, 1)
        XCTAssertEqual(errors.first?.code, SyncStatus.authFailed.rawValue)
        XCTAssertTrue(errors.first?.message.contains("login failed") ?? false, "\(errors)")
    }

    func testTLS_verifiesTheServerAgainstTheGivenCA() async throws {
        let dovecot = try Dovecot(messages: 10, folders: "INBOX")
        let trusted = try provider(dovecot, security: "tls", extra: "ca_file = \"\(dovecot.caFile)\"")
        let (ok, errors) = try await sync(trusted)
        XCTAssertEqual(ok, .ok, "\(errors)")
        try assertInSync(dovecot)

        // The same self-signed server without trusting its CA: refused, with a reason.
        try FileManager.default.removeItem(atPath: local)
        let untrusted = try provider(dovecot, security: "tls")
        let (refused, reasons) = try await sync(untrusted)
        XCTAssertEqual(refused, .network)
        XCTAssertTrue(reasons.first?.message.contains("TLS") ?? false || reasons.first?.message.contains("certificate") ?? false, "\(reasons)")
    }

    func testSTARTTLS_upgradesThePlainPort() async throws {
        let dovecot = try Dovecot(messages: 10, folders: "INBOX")
        let imap = try provider(dovecot, security: "starttls", extra: "ca_file = \"\(dovecot.caFile)\"")
        let (result, errors) = try await sync(imap)
        XCTAssertEqual(result, .ok, "\(errors)")
        try assertInSync(dovecot)
    }

    func testConnectionCutMidFetch_thenRerun_deliversEveryMessageOnce() async throws {
        let dovecot = try Dovecot(messages: 600, folders: "INBOX")
        let imap = try provider(dovecot, extra: "fetch_batch = 20")
        let cutter = Task {
            try await Task.sleep(for: .milliseconds(150))
            Dovecot.killIMAPProcesses()
        }
        let (first, _) = try await sync(imap)
        _ = try await cutter.value
        XCTAssertTrue([.network, .ok].contains(first), "\(first)")
        let (second, errors) = try await sync(imap)
        XCTAssertEqual(second, .ok, "\(errors)")
        try assertInSync(dovecot)
    }

    func testCancelMidSync_stopsQuickly_andARerunCompletesExactlyOnce() async throws {
        let dovecot = try Dovecot(messages: 800, folders: "INBOX")
        let imap = try provider(dovecot, extra: "fetch_batch = 20")
        let started = ContinuousClock.now
        let (result, _) = try await sync(imap, cancelAfter: .milliseconds(100))
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(2))
        XCTAssertTrue([.cancelled, .ok].contains(result), "\(result)")
        let (second, errors) = try await sync(imap)
        XCTAssertEqual(second, .ok, "\(errors)")
        try assertInSync(dovecot)
    }

    func testUIDValidityChange_resyncsWithoutDuplicates() async throws {
        let dovecot = try Dovecot(messages: 30, folders: "INBOX")
        let imap = try provider(dovecot)
        _ = try await sync(imap)
        // Make Dovecot renumber INBOX: drop its UID list and indexes. (UIDVALIDITY is a time in
        // seconds: wait so the new one differs.)
        try await Task.sleep(for: .milliseconds(1100))
        try dovecot.restart {
            for file in try FileManager.default.contentsOfDirectory(atPath: dovecot.mailbox) where file.hasPrefix("dovecot") {
                try FileManager.default.removeItem(atPath: dovecot.mailbox + "/" + file)
            }
        }
        let (result, errors) = try await sync(imap)
        XCTAssertEqual(result, .ok, "\(errors)")
        XCTAssertTrue(errors.contains { $0.message.contains("UIDVALIDITY changed") }, "\(errors)")
        try assertInSync(dovecot)
    }

    func testFolderDeletedOnServer_goesLocallyToo_andAFailingFolderDoesNotStopTheOthers() async throws {
        let dovecot = try Dovecot(messages: 60, folders: "INBOX,Sent,Old")
        let imap = try provider(dovecot)
        _ = try await sync(imap)
        XCTAssertNotNil(try localContents().folders["Old"])
        try dovecot.run("/bin/rm", ["-rf", dovecot.mailbox + "/.Old"])
        // Sent becomes unreadable for Dovecot: SELECT fails, the rest goes on.
        try dovecot.run("/bin/chmod", ["000", dovecot.mailbox + "/.Sent/cur"])
        try dovecot.generate(messages: 10, folders: "INBOX", seed: 7)
        let (result, errors) = try await sync(imap)
        try dovecot.run("/bin/chmod", ["755", dovecot.mailbox + "/.Sent/cur"])
        XCTAssertNil(try localContents().folders["Old"], "deleted on the server, deleted here")
        XCTAssertEqual(try localContents().folders["INBOX"]?.count, try serverContents(dovecot).folders["INBOX"]?.count)
        if result == .partial {
            XCTAssertTrue(errors.contains { $0.message.hasPrefix("Sent:") }, "\(errors)")
        } else {
            XCTAssertEqual(result, .ok, "root ignores the permission bits; nothing failed: \(errors)")
        }
    }

    func testNestedLayout_withExcludedFolders() async throws {
        let dovecot = try Dovecot(messages: 80, folders: "INBOX,Sent,Archiv/2024,Entwürfe")
        let imap = try provider(dovecot, extra: """
            layout = "nested"
            exclude = ["Archiv*"]
            """)
        let (result, errors) = try await sync(imap)
        XCTAssertEqual(result, .ok, "\(errors)")
        let server = try serverContents(dovecot)
        func messages(_ directory: String) throws -> Int {
            try ["cur", "new"].reduce(0) { $0 + (try FileManager.default.contentsOfDirectory(atPath: "\(local!)/\(directory)/\($1)").count) }
        }
        XCTAssertEqual(try messages("INBOX"), server.folders["INBOX"]?.count)
        XCTAssertEqual(try messages("Sent"), server.folders["Sent"]?.count)
        XCTAssertEqual(try messages("Entwürfe"), server.folders["Entwürfe"]?.count, "non-ASCII names as directory names")
        XCTAssertFalse(FileManager.default.fileExists(atPath: local + "/Archiv"), "excluded folders are not synced")
        XCTAssertFalse(FileManager.default.fileExists(atPath: local + "/.Sent"), "no Maildir++ directories")
    }

    /// A server that accepts the connection and then says nothing: the run ends with a network
    /// error after `timeout`, instead of hanging, and the Maildir is left as it was.
    func testSilentServer_endsTheRunAfterTheTimeout() async throws {
        let (fd, port) = Dovecot.boundLoopbackSocket()
        defer { close(fd) }
        XCTAssertEqual(listen(fd, 8), 0)  // the kernel completes the handshake; nobody ever answers
        let imap = try provider(port: port, extra: #"timeout = "1s""#)
        let started = ContinuousClock.now
        let (result, errors) = try await sync(imap)
        XCTAssertEqual(result, .network)
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(10))
        XCTAssertEqual(errors.count, 1, "\(errors)")
        XCTAssertTrue(errors.first?.message.contains("127.0.0.1: the server did not answer in time") == true, "\(errors)")
    }
}

/// Sends IMAP lines to the test server and waits for each tagged answer (to change things on
/// the server side the way another mail client would).
enum IMAPScript {
    static func run(port: Int, _ lines: [String]) async throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw DovecotError("connect: \(errno)") }
        var pending = ""
        func readLine() -> String {
            while !pending.contains("\r\n") {
                var chunk = [UInt8](repeating: 0, count: 4096)
                let n = recv(fd, &chunk, chunk.count, 0)
                if n <= 0 { return "" }
                pending += String(decoding: chunk[0..<n], as: UTF8.self)
            }
            let range = pending.range(of: "\r\n")!
            let line = String(pending[..<range.lowerBound])
            pending = String(pending[range.upperBound...])
            return line
        }
        _ = readLine()  // greeting
        for line in lines {
            let bytes = Array((line + "\r\n").utf8)
            _ = send(fd, bytes, bytes.count, 0)
            let tag = line.split(separator: " ")[0]
            while true {
                let answer = readLine()
                if answer.isEmpty || answer.hasPrefix("\(tag) ") {
                    guard answer.hasPrefix("\(tag) OK") || line.hasSuffix("LOGOUT") else {
                        throw DovecotError("\(line) -> \(answer)")
                    }
                    break
                }
            }
        }
    }
}
