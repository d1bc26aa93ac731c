#if canImport(Glibc)
import Glibc
#endif
import Foundation
import IMAPProtocol
import Logging
import MailServers
import SyncIPC
import SyncProtocol
import XCTest
@testable import IMAPProvider
@testable import SyncDaemon

/// What the imap provider's end-to-end tests share: a viewer server, one store's provider, runs,
/// and the comparison of the Maildir with what a real IMAP server has. The tests themselves are
/// in ``IMAPProviderTests`` (Dovecot) and ``CyrusIMAPProviderTests``; the bodies both run are in
/// IMAPProviderScenarios.swift.
class IMAPProviderTestCase: XCTestCase {
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

    func provider(_ mail: any IMAPTestServer, security: String = "none", password: String = "secret", extra: String = "") throws -> IMAPProvider {
        try provider(port: mail.port(security: security), security: security, password: password, extra: extra)
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

    func serverContents(_ mail: any IMAPTestServer) throws -> MailboxContents {
        try mail.contents()
    }

    func localContents() throws -> MailboxContents {
        try MailboxContents(maildirPlusPlus: local)
    }

    func assertInSync(_ mail: any IMAPTestServer, file: StaticString = #filePath, line: UInt = #line) throws {
        let server = try serverContents(mail)
        let mine = try localContents()
        XCTAssertEqual(mine.folders.keys.sorted(), server.folders.keys.sorted(), file: file, line: line)
        for (folder, messages) in server.folders {
            XCTAssertEqual(mine.folders[folder], messages, "folder \(folder)", file: file, line: line)
            XCTAssertEqual(mine.files[folder], messages.count, "\(folder): every message exactly once", file: file, line: line)
        }
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
}

/// The imap provider against a real Dovecot: every sync is checked message by message against
/// the server's own Maildir.
final class IMAPProviderTests: IMAPProviderTestCase {
    static func dovecot(capability: String? = nil) -> MakeIMAPServer {
        { messages, folders in try Dovecot(messages: messages, folders: folders, capability: capability) }
    }

    func testFirstSync_matchesTheServerMessageByMessage_andASecondFindsNothingNew() async throws {
        try await firstSyncMatchesTheServer(Self.dovecot())
    }

    func testIncremental_withQRESYNC() async throws {
        try await incrementalSyncs(Self.dovecot())  // Dovecot's own list: CONDSTORE and QRESYNC
    }

    func testIncremental_withCONDSTOREOnly() async throws {
        try await incrementalSyncs(Self.dovecot(capability: "IMAP4rev1 LITERAL+ ENABLE UIDPLUS CONDSTORE"))
    }

    func testIncremental_withPlainIMAP4rev1() async throws {
        try await incrementalSyncs(Self.dovecot(capability: "IMAP4rev1 LITERAL+ UIDPLUS"))
    }

    func testHeadersOnly_scheduledRunsFetchHeaders_andAnOnDemandRunTheBodies() async throws {
        try await headersOnlyThenBodies(Self.dovecot())
    }

    func testLocalFlagChanges_areUploaded() async throws {
        try await localFlagChangesAreUploaded(Self.dovecot())
    }

    func testWrongPassword_isOneAuthFailedError() async throws {
        try await wrongPasswordIsOneAuthFailedError(Self.dovecot())
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
        try await connectionCutMidFetchThenRerun(Self.dovecot())
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
        try await uidValidityChangeResyncs(Self.dovecot())
    }

    func testFolderDeletedOnServer_goesLocallyToo_andAFailingFolderDoesNotStopTheOthers() async throws {
        try await folderDeletedOnServerGoesLocallyToo(Self.dovecot())
    }

    func testNestedLayout_withExcludedFolders() async throws {
        try await nestedLayoutWithExcludedFolders(Self.dovecot())
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
