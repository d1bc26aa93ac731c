#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MailServers
import SyncIPC
import SyncProtocol
import TestSupport
import XCTest

/// `syncctl add imap`, the real binary, against a real Dovecot, a real syncd, a DNS server
/// (dnsmasq) and an HTTP server (python3) the tests start on loopback, and a terminal (tmux).
final class AddIMAPTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        let run = ProcessInfo.processInfo.environment["SYNCD_TEST_RUN"].map { $0 + "-" } ?? ""
        directory = "/tmp/addimap-\(run)\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory + "/home", withIntermediateDirectories: true)
        try "secret\n".write(toFile: directory + "/password", atomically: true, encoding: .utf8)
        try "wrong\n".write(toFile: directory + "/wrong", atomically: true, encoding: .utf8)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The whole way without questions: the section appended after the file's own bytes (which
    /// stay as they were, mode too), `syncd --check` accepts the file, the running daemon reloads
    /// and the first sync downloads every message.
    func testNonInteractive_appendsCheckedStore_reloadsTheDaemon_andSyncs() async throws {
        let dovecot = try Dovecot(messages: 12, folders: "INBOX,Sent,Archiv/2024")
        let original = "# my own notes, kept as they are\n[store.keep]\nprovider = \"synthetic\"\nrun_at_startup = false"  // no final newline
        let daemon = try DaemonProcess(config: original)
        chmod(daemon.configPath, 0o640)
        try await daemon.start()
        let maildir = directory + "/Mail/work"

        let result = try await syncctl([
            "add", "imap", "alice@example.test", "--host", "127.0.0.1", "--port", "\(dovecot.plainPort)", "--security", "none",
            "--user", "alice", "--password-file", directory + "/password", "--maildir", maildir, "--store", "work",
            "--config", daemon.configPath, "--socket", daemon.socket,
        ])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("logged in; 3 folders: INBOX, Archiv/2024, Sent"), result.output)
        XCTAssertTrue(result.output.contains("added [store.work] to \(daemon.configPath)"), result.output)
        XCTAssertTrue(result.output.contains("syncd reloaded"), result.output)
        XCTAssertTrue(result.output.contains("work: done in "), result.output)

        let written = try String(contentsOfFile: daemon.configPath, encoding: .utf8)
        XCTAssertTrue(written.hasPrefix(original + "\n\n# alice@example.test: added by `syncctl add imap`"), written)
        XCTAssertTrue(written.contains("[store.work]\n# The imap provider"), written)
        XCTAssertTrue(written.contains("password = { file = \"\(directory)/password\" }"), written)
        var info = stat()
        XCTAssertEqual(stat(daemon.configPath, &info), 0)
        XCTAssertEqual(info.st_mode & 0o7777, 0o640, "the file keeps its mode")

        let check = runTool(try builtProduct("syncd"), ["--check", "--config", daemon.configPath], mergeStandardError: true)
        XCTAssertEqual(check.status, 0, check.stdout)
        XCTAssertTrue(check.stdout.contains("OK: 2 stores (keep, work)"), check.stdout)

        let server = try MailboxContents(maildirPlusPlus: dovecot.mailbox)
        let local = try MailboxContents(maildirPlusPlus: maildir)
        XCTAssertEqual(local.count, 12)
        XCTAssertEqual(local.count, server.count)
    }

    /// A refused login: exit 1, the server's refusal said, the file untouched, no Maildir made.
    func testWrongPassword_writesNothing() async throws {
        let dovecot = try Dovecot(messages: 1, folders: "INBOX")
        let config = directory + "/syncd.toml"
        let original = "[daemon]\nmax_concurrent_runs = 1\n"
        try original.write(toFile: config, atomically: true, encoding: .utf8)
        let result = try await syncctl([
            "add", "imap", "alice@example.test", "--host", "127.0.0.1", "--port", "\(dovecot.plainPort)", "--security", "none",
            "--user", "alice", "--password-file", directory + "/wrong", "--maildir", directory + "/Mail/work",
            "--config", config, "--socket", directory + "/none.sock",
        ])
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(result.output.contains("syncctl: 127.0.0.1: login failed: "), result.output)
        XCTAssertTrue(result.output.contains("nothing written"), result.output)
        XCTAssertEqual(try String(contentsOfFile: config, encoding: .utf8), original)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/Mail"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix(".syncd.toml") }, [],
                       "no temporary file left")
    }

    /// Without a terminal, what cannot be guessed is a flag to pass, named.
    func testNonInteractive_missingPasswordSource_namesTheFlag() async throws {
        let result = try await syncctl([
            "add", "imap", "alice@example.test", "--host", "127.0.0.1", "--port", "1", "--security", "none",
            "--config", directory + "/syncd.toml", "--socket", directory + "/none.sock",
        ])
        XCTAssertEqual(result.status, 64, result.output)
        XCTAssertTrue(result.output.contains("syncctl: missing --password-file, --password-command or --password-credential"), result.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/syncd.toml"))
    }

    /// The built-in presets, said in one line with what the provider needs; what cannot be
    /// guessed (Microsoft's client id, Gmail's token helper when none is installed) is a flag to pass.
    func testPresets_outlookNeedsAClientID_gmailATokenHelper() async throws {
        let outlook = try await syncctl([
            "add", "imap", "me@outlook.com", "--config", directory + "/syncd.toml", "--socket", directory + "/none.sock",
        ])
        XCTAssertEqual(outlook.status, 64, outlook.output)
        XCTAssertTrue(outlook.output.contains("found outlook.office365.com:993 (TLS) in the built-in preset for Outlook.com and Microsoft 365\n"), outlook.output)
        XCTAssertTrue(outlook.output.contains("note: Microsoft takes no passwords over IMAP"), outlook.output)
        XCTAssertTrue(outlook.output.contains("syncctl: missing --client-id"), outlook.output)

        let gmail = try await syncctl([
            "add", "imap", "me@gmail.com", "--config", directory + "/syncd.toml", "--socket", directory + "/none.sock",
        ])
        XCTAssertEqual(gmail.status, 64, gmail.output)
        XCTAssertTrue(gmail.output.contains("found imap.gmail.com:993 (TLS) in the built-in preset for Gmail\n"), gmail.output)
        XCTAssertTrue(gmail.output.contains("note: Gmail takes no passwords over IMAP"), gmail.output)
        XCTAssertTrue(gmail.output.contains("syncctl: --token-command: the guess 'oama access me@gmail.com' will not do (there is no program 'oama'"), gmail.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/syncd.toml"))
    }

    /// A store of the name exists already: refused, nothing written.
    func testExistingStoreName_isRefused() async throws {
        let config = directory + "/syncd.toml"
        let original = "[store.work]\nprovider = \"synthetic\"\n"
        try original.write(toFile: config, atomically: true, encoding: .utf8)
        let result = try await syncctl([
            "add", "imap", "alice@example.test", "--host", "127.0.0.1", "--port", "1", "--security", "none", "--user", "alice",
            "--password-file", directory + "/password", "--maildir", directory + "/Mail/work", "--store", "work",
            "--config", config, "--socket", directory + "/none.sock",
        ])
        XCTAssertEqual(result.status, 64, result.output)
        XCTAssertTrue(result.output.contains("syncctl: --store: a store named work exists already"), result.output)
        XCTAssertEqual(try String(contentsOfFile: config, encoding: .utf8), original)
    }

    /// RFC 6186: the server from `_imaps._tcp.example.test`, asked of a dnsmasq on loopback;
    /// TLS to it, trusting the test CA.
    func testSRV_fromADNSServer_TLS() async throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/sbin/dnsmasq"), "needs dnsmasq (scripts/test installs dnsmasq-base)")
        let dovecot = try Dovecot(messages: 2, folders: "INBOX,Sent")
        let dnsPort = freeLoopbackPort()
        let dns = try startServer("/usr/sbin/dnsmasq", [
            "--no-daemon", "--port=\(dnsPort)", "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
            "--pid-file=\(directory)/dnsmasq.pid", "--srv-host=_imaps._tcp.example.test,localhost,\(dovecot.tlsPort),0,10",
        ], log: directory + "/dnsmasq.log", ready: { (try? String(contentsOfFile: self.directory + "/dnsmasq.log", encoding: .utf8))?.contains("started") == true })
        defer { stop(dns) }
        let config = directory + "/syncd.toml"
        let result = try await syncctl([
            "add", "imap", "alice@example.test", "--nameserver", "127.0.0.1:\(dnsPort)", "--ca-file", dovecot.caFile,
            "--user", "alice", "--password-command", "cat \(directory)/password", "--maildir", directory + "/Mail/work",
            "--config", config, "--socket", directory + "/none.sock", "--no-sync",
        ])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("found localhost:\(dovecot.tlsPort) (TLS) in DNS SRV _imaps._tcp.example.test\n"), result.output)
        XCTAssertTrue(result.output.contains("logged in; 2 folders: INBOX, Sent"), result.output)
        XCTAssertTrue(result.output.contains("syncd is not running at \(directory)/none.sock"), result.output)
        let written = try String(contentsOfFile: config, encoding: .utf8)
        XCTAssertTrue(written.contains("host = \"localhost\"\nport = \(dovecot.tlsPort)\nsecurity = \"tls\""), written)
        XCTAssertTrue(written.contains("password = { command = [\"cat\", \"\(directory)/password\"] }"), written)
        let check = runTool(try builtProduct("syncd"), ["--check", "--config", config], mergeStandardError: true)
        XCTAssertEqual(check.status, 0, check.stdout)
    }

    /// The same server without the test CA: the certificate is not trusted, said so, nothing written.
    func testTLS_untrustedCertificate_writesNothing() async throws {
        let dovecot = try Dovecot(messages: 0)
        let config = directory + "/syncd.toml"
        let result = try await syncctl([
            "add", "imap", "alice@example.test", "--host", "localhost", "--port", "\(dovecot.tlsPort)", "--security", "tls",
            "--user", "alice", "--password-file", directory + "/password", "--maildir", directory + "/Mail/work",
            "--config", config, "--socket", directory + "/none.sock",
        ])
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(result.output.contains("the server's certificate is not trusted"), result.output)
        XCTAssertTrue(result.output.contains("(--ca-file FILE); nothing written"), result.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: config))
    }

    /// A Mozilla-style autoconfig document from an HTTP server on loopback (`--autoconfig`):
    /// its host, port, socket type and user name (`%EMAILLOCALPART%`) are taken.
    func testAutoconfig_fromAnHTTPServer() async throws {
        let dovecot = try Dovecot(messages: 1, folders: "INBOX")
        let url = try startAutoconfig(port: dovecot.plainPort)
        defer { stop(url.server) }
        let config = directory + "/syncd.toml"
        let result = try await syncctl([
            "add", "imap", "alice@example.test", "--autoconfig", url.url, "--password-file", directory + "/password",
            "--maildir", directory + "/Mail/work", "--config", config, "--socket", directory + "/none.sock", "--no-sync",
        ])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("found 127.0.0.1:\(dovecot.plainPort) (no encryption) in autoconfig \(url.url)\n"), result.output)
        let written = try String(contentsOfFile: config, encoding: .utf8)
        XCTAssertTrue(written.contains("user = \"alice\"\n"), written)
        XCTAssertTrue(written.contains("[store.example]\n"), written)
    }

    /// On a terminal (tmux): every question asked with its guess, three bad answers caught at
    /// their questions and asked again, then the store written.
    func testInteractive_onATerminal_asksAndReasksBadAnswers() async throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux"), "needs tmux")
        let dovecot = try Dovecot(messages: 1, folders: "INBOX,Sent")
        let url = try startAutoconfig(port: dovecot.plainPort)
        defer { stop(url.server) }
        let config = directory + "/syncd.toml"
        let server = "addimap-" + (directory as NSString).lastPathComponent
        let tmux = ["-L", server]
        let command = "env HOME=\(directory)/home \(try builtProduct("syncctl")) add imap --autoconfig \(url.url) --config \(config) --socket \(directory)/none.sock; echo EXIT=$?; sleep 60"
        XCTAssertEqual(runTool("/usr/bin/tmux", tmux + ["new-session", "-d", "-s", "add", "-x", "220", "-y", "80", command], captureOutput: false).status, 0)
        defer { _ = runTool("/usr/bin/tmux", tmux + ["kill-server"], captureOutput: false) }

        func answer(_ prompt: String, _ text: String) async throws {
            let deadline = ContinuousClock.now + .seconds(20)
            while !screen(tmux).contains(where: { $0.hasPrefix(prompt) && $0.hasSuffix(":") }) {
                guard ContinuousClock.now < deadline else { throw TestError("no prompt \(prompt): \(screen(tmux).joined(separator: "\n"))") }
                try await Task.sleep(for: .milliseconds(100))
            }
            _ = runTool("/usr/bin/tmux", tmux + ["send-keys", "-t", "add", "-l", text], captureOutput: false)
            _ = runTool("/usr/bin/tmux", tmux + ["send-keys", "-t", "add", "Enter"], captureOutput: false)
            // The prompt's line no longer ends with ':' once the answer is on it.
            try await Task.sleep(for: .milliseconds(300))
        }
        try await answer("Mail address", "alice@")
        try await answer("Mail address", "alice@example.test")
        try await answer("IMAP server [127.0.0.1]", "")
        try await answer("Security (tls, starttls, none) [none]", "")
        try await answer("Port [\(dovecot.plainPort)]", "")
        try await answer("User name [alice]", "")
        try await answer("Login (password, oauth2: syncd's own, token-command: a token helper) [password]", "")
        try await answer("Password from", directory + "/missing")
        try await answer("Password from", directory + "/password")
        try await answer("Store name [example]", "work")
        // The guess is ~/Mail/work for a user, /var/lib/syncd/mail/work for root (the system daemon's).
        try await answer("Maildir [", "Mail/work")
        try await answer("Maildir [", directory + "/Mail/work")
        try await answer("Sync every [15m]", "")
        try await answer("Add this to \(config)? [Y/n]", "y")
        let deadline = ContinuousClock.now + .seconds(20)
        while !screen(tmux).contains(where: { $0.hasPrefix("EXIT=") }) {
            guard ContinuousClock.now < deadline else { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let lines = screen(tmux)
        let text = lines.joined(separator: "\n")
        XCTAssertTrue(lines.contains("EXIT=0"), text)
        XCTAssertTrue(text.contains("'alice@' is not a mail address (name@domain); try again"), text)
        XCTAssertTrue(text.contains("\(directory)/missing does not exist or cannot be read; try again"), text)
        XCTAssertTrue(text.contains("'Mail/work' is not an absolute path; try again"), text)
        XCTAssertTrue(text.contains("logged in; 1 folder: INBOX"), text)
        let written = try String(contentsOfFile: config, encoding: .utf8)
        XCTAssertTrue(written.contains("[store.work]\n"), written)
        XCTAssertTrue(written.contains("maildir = \"\(directory)/Mail/work\"\n"), written)
    }

    // MARK: Helpers

    /// Runs syncctl with stdin from /dev/null (no terminal), its output and errors together.
    private func syncctl(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try builtProduct("syncctl"))
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["SYNCD_SOCKET"] = nil
        environment["HOME"] = directory + "/home"
        process.environment = environment
        let outputFile = directory + "/syncctl.out"
        _ = FileManager.default.createFile(atPath: outputFile, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputFile))
        defer { try? output.close() }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let deadline = ContinuousClock.now + .seconds(60)
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                kill(process.processIdentifier, SIGKILL)
                throw TestError("syncctl \(arguments) did not end within 60 s")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return (process.terminationStatus, try String(contentsOfFile: outputFile, encoding: .utf8))
    }

    /// Starts a server process of the test's (with default signal handling, unlike a Process,
    /// which hands on the runner's blocked signals), waits until `ready`, and returns its pid.
    private func startServer(_ path: String, _ arguments: [String], log: String, ready: () -> Bool) throws -> pid_t {
        guard let pid = startTool(path, arguments, outputFile: log) else { throw TestError("cannot start \(path)") }
        let deadline = Date().addingTimeInterval(10)
        while !ready() {
            var status: Int32 = 0
            guard waitpid(pid, &status, WNOHANG) == 0, Date() < deadline else {
                stop(pid)
                throw TestError("\(path) did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
            }
            usleep(50_000)
        }
        return pid
    }

    /// Ends a process the test started, by its pid, and reaps it.
    private func stop(_ pid: pid_t) {
        kill(pid, SIGTERM)
        _ = waitForTool(pid)
    }

    /// python3's http.server serving an autoconfig document for Dovecot's plain port.
    private func startAutoconfig(port: Int) throws -> (server: pid_t, url: String) {
        let root = directory + "/www"
        try FileManager.default.createDirectory(atPath: root + "/mail", withIntermediateDirectories: true)
        try """
            <?xml version="1.0" encoding="UTF-8"?>
            <clientConfig version="1.1">
              <emailProvider id="example.test">
                <domain>example.test</domain>
                <incomingServer type="pop3"><hostname>pop.example.test</hostname><port>995</port><socketType>SSL</socketType></incomingServer>
                <incomingServer type="imap">
                  <hostname>127.0.0.1</hostname>
                  <port>\(port)</port>
                  <socketType>plain</socketType>
                  <username>%EMAILLOCALPART%</username>
                  <authentication>password-cleartext</authentication>
                </incomingServer>
              </emailProvider>
            </clientConfig>
            """.write(toFile: root + "/mail/config-v1.1.xml", atomically: true, encoding: .utf8)
        let httpPort = freeLoopbackPort()
        let server = try startServer("/usr/bin/env", ["python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory", root, "\(httpPort)"],
                                     log: directory + "/http.log") { canConnect(port: httpPort) }
        return (server, "http://127.0.0.1:\(httpPort)/mail/config-v1.1.xml")
    }

    private func canConnect(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    private func screen(_ tmux: [String]) -> [String] {
        let (_, output) = runTool("/usr/bin/tmux", tmux + ["capture-pane", "-p", "-J", "-S", "-200", "-t", "add"])
        return output.split(separator: "\n").map { String($0).trimmingCharacters(in: .whitespaces) }
    }
}
