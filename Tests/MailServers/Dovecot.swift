#if canImport(Glibc)
import Glibc
#endif
import Foundation
import IMAPProtocol
import TestSupport

/// A throwaway Dovecot on loopback (tests/dovecot/dovecot.sh) with a generated mailbox.
public final class Dovecot {
    public static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    public let directory: String
    public let plainPort: Int
    public let tlsPort: Int
    /// What Dovecot announces after login, if not its own list (see tests/dovecot/dovecot.sh).
    public let capability: String?
    /// With an introspection URL, Dovecot also offers XOAUTH2 and OAUTHBEARER and asks that URL
    /// whether a token is good (its oauth2 passdb; see tests/dovecot/dovecot.sh).
    public let oauth2Introspection: String?
    /// Messages generated so far: the next ones get new indexes (and Message-IDs).
    private var generated: Int
    /// The server's own Maildir of user alice: the truth a sync is checked against.
    public var mailbox: String { directory + "/mail/alice" }
    public var caFile: String { directory + "/tls/ca.pem" }

    /// Dovecot offers COMPRESS=DEFLATE (its imap_zlib plugin).
    public let compress: Bool
    /// Dovecot writes each session's traffic to ``rawlogDirectory``.
    public let rawlog: Bool
    public var rawlogDirectory: String { directory + "/rawlog" }
    /// Dovecot also serves a ``Postfix``: SASL and LMTP delivery (see tests/dovecot/dovecot.sh).
    public let postfix: Bool
    /// SASL mechanisms instead of "plain login"; with "xoauth2" or "oauthbearer", the password is
    /// the token Dovecot accepts.
    public let authMechanisms: String?
    /// What Dovecot is started behind (``NetworkNamespace/prefix``: it listens on the loopback of
    /// the test's namespace); empty for the host's.
    public let prefix: [String]

    public init(messages: Int, folders: String = "INBOX,Sent,Archiv/2024,Entwürfe", seed: Int = 1, capability: String? = nil,
         oauth2Introspection: String? = nil, compress: Bool = false, rawlog: Bool = false, maxMessageSize: Int? = nil,
         mixedBodies: Bool = false, postfix: Bool = false, authMechanisms: String? = nil, prefix: [String] = []) throws {
        self.generated = 0
        self.prefix = prefix
        self.postfix = postfix
        self.authMechanisms = authMechanisms
        self.compress = compress
        self.rawlog = rawlog
        self.capability = capability
        self.oauth2Introspection = oauth2Introspection
        // scripts/test names its run in SYNCD_TEST_RUN and looks for it in what is left running
        // afterwards; Dovecot drops its environment, but its command line names the directory.
        let run = ProcessInfo.processInfo.environment["SYNCD_TEST_RUN"].map { $0 + "-" } ?? ""
        directory = "/tmp/dovecot-\(run)\(UInt32.random(in: 0...UInt32.max))"
        plainPort = Self.freePort()
        tlsPort = Self.freePort()
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/dovecot") else {
            throw DovecotError("dovecot is not installed: run scripts/test (it installs dovecot-imapd)")
        }
        try start()
        Self.running.insert(directory)
        if messages > 0 { try generate(messages: messages, folders: folders, seed: seed, maxSize: maxMessageSize, mixedBodies: mixedBodies) }
    }

    deinit {
        Self.running.remove(directory)
        _ = try? run(Self.repository.path + "/tests/dovecot/dovecot.sh", ["stop", directory])
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func start() throws {
        let arguments = ["start", directory, "\(plainPort)", "\(tlsPort)"] + (capability.map { [$0] } ?? [])
        var environment: [String] = []
        if let oauth2Introspection { environment.append("DOVECOT_OAUTH2_INTROSPECTION_URL=\(oauth2Introspection)") }
        if compress { environment.append("DOVECOT_COMPRESS=1") }
        if rawlog { environment.append("DOVECOT_RAWLOG=1") }
        if postfix { environment.append("DOVECOT_POSTFIX=1") }
        if let authMechanisms { environment.append("DOVECOT_AUTH_MECHANISMS=\(authMechanisms)") }
        let command = prefix + ["/usr/bin/env"] + environment + [Self.repository.path + "/tests/dovecot/dovecot.sh"] + arguments
        try run(command[0], Array(command.dropFirst()))
    }

    /// Stops Dovecot, lets `change` edit its files at rest, and starts it again on the same ports.
    public func restart(changing change: () throws -> Void) throws {
        try run(Self.repository.path + "/tests/dovecot/dovecot.sh", ["stop", directory])
        usleep(200_000)
        try change()
        try start()
    }

    /// A loopback port nobody listens on now (the kernel's choice for port 0).
    public static func freePort() -> Int { freeLoopbackPort() }

    /// A TCP socket bound to a port of the kernel's choice on 127.0.0.1, and that port.
    public static func boundLoopbackSocket() -> (fd: Int32, port: Int) { TestSupport.boundLoopbackSocket() }

    /// Adds generated messages to the server's mailbox (Dovecot notices them on the next SELECT).
    public func generate(messages: Int, folders: String, seed: Int) throws {
        try generate(messages: messages, folders: folders, seed: seed, maxSize: nil)
    }

    /// As ``generate(messages:folders:seed:)``, each message at most `maxSize` bytes; with
    /// `mixedBodies`, text of random words and base64 attachments of random bytes (which compress
    /// as real mail does) instead of one repeated line.
    public func generate(messages: Int, folders: String, seed: Int, maxSize: Int?, mixedBodies: Bool = false) throws {
        try run("/usr/bin/env", ["python3", Self.repository.path + "/tests/dovecot/make-mailbox.py", mailbox,
                                 "--messages", "\(messages)", "--first", "\(generated)", "--folders", folders, "--seed", "\(seed)"]
                + (maxSize.map { ["--max-size", "\($0)"] } ?? []) + (mixedBodies ? ["--body", "mixed"] : []))
        generated += messages
        if getuid() == 0 { try run("/bin/chown", ["-R", "65534:65534", directory + "/mail"]) }
    }

    /// Puts one message of about `bodyMegabytes` MB into `folder` (created if missing), with
    /// Message-ID `<big-N@example.org>`.
    public func addMessage(folder: String, bodyMegabytes: Int) throws {
        let directory = mailbox + (folder == "INBOX" ? "" : "/." + String(decoding: MailboxName(folder).bytes, as: UTF8.self))
        for sub in ["cur", "new", "tmp"] {
            try FileManager.default.createDirectory(atPath: directory + "/" + sub, withIntermediateDirectories: true)
        }
        generated += 1
        let path = directory + "/cur/big-\(generated).\(UInt32.random(in: 0...UInt32.max)).test:2,"
        guard FileManager.default.createFile(atPath: path, contents: nil), let file = FileHandle(forWritingAtPath: path) else {
            throw DovecotError("cannot create \(path)")
        }
        defer { try? file.close() }
        file.write(Data("""
            From: Big Sender <big@example.org>\r
            To: alice@example.org\r
            Subject: a very large message\r
            Message-ID: <big-\(generated)@example.org>\r
            Date: Wed, 25 Nov 2026 10:00:00 +0000\r
            \r

            """.utf8))
        let line = Array(String(repeating: "0123456789abcdef", count: 4).utf8) + [13, 10]  // 66 bytes
        let chunk = Data((0..<(1 << 20) / line.count).flatMap { _ in line })
        for _ in 0..<bodyMegabytes { file.write(chunk) }
        if getuid() == 0 { try run("/bin/chown", ["-R", "65534:65534", directory]) }
    }

    /// Delivers a small message into `folder` as a local delivery agent does (a file renamed into
    /// `new/`): Dovecot tells idling clients at once. Returns its Message-ID.
    @discardableResult
    public func deliver(folder: String = "INBOX", from: String = "Alice Example <alice@example.org>", subject: String) throws -> String {
        let directory = mailbox + (folder == "INBOX" ? "" : "/." + String(decoding: MailboxName(folder).bytes, as: UTF8.self))
        generated += 1
        let id = "<pushed-\(generated)-\(UInt32.random(in: 0...UInt32.max))@example.org>"
        let unique = "\(Int(Date().timeIntervalSince1970)).P\(getpid())Q\(generated).test"
        let text = "From: \(from)\r\nTo: alice@example.org\r\nSubject: \(subject)\r\nMessage-ID: \(id)\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\n\r\nHello.\r\n"
        let temporary = directory + "/tmp/" + unique
        try text.write(toFile: temporary, atomically: false, encoding: .utf8)
        if getuid() == 0 { try run("/bin/chown", ["65534:65534", temporary]) }
        guard rename(temporary, directory + "/new/" + unique) == 0 else { throw DovecotError("cannot deliver into \(directory)") }
        return id
    }

    /// APPENDs a small message to `folder` as another IMAP client (Python's imaplib) does: what a
    /// NOTIFY watch hears of (a file dropped into a folder not selected reaches Dovecot's indexes,
    /// and so NOTIFY, only when something opens that folder).
    public func append(folder: String, subject: String) throws {
        let script = """
            import imaplib, sys
            m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1])); m.login("alice", "secret")
            body = ("From: Alice Example <alice@example.org>\\r\\nSubject: %s\\r\\n\\r\\nHello.\\r\\n" % sys.argv[3]).encode()
            typ, _ = m.append(sys.argv[2], None, None, body); m.logout(); sys.exit(0 if typ == "OK" else 1)
            """
        try run("/usr/bin/python3", ["-c", script, "\(plainPort)", String(decoding: MailboxName(folder).bytes, as: UTF8.self), subject])
    }

    /// CREATEs `folder` as another IMAP client does.
    public func create(folder: String) throws {
        let script = """
            import imaplib, sys
            m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1])); m.login("alice", "secret")
            typ, _ = m.create(sys.argv[2]); m.logout(); sys.exit(0 if typ == "OK" else 1)
            """
        try run("/usr/bin/python3", ["-c", script, "\(plainPort)", String(decoding: MailboxName(folder).bytes, as: UTF8.self)])
    }

    /// The server's own Maildir of `user`, where LMTP delivers (alice's is ``mailbox``).
    public func mailbox(of user: String) -> String { directory + "/mail/" + user }

    /// Every message in `user`'s INBOX as IMAP gives it to a mail reader (`BODY.PEEK[]`, CRLF line
    /// ends), in UID order.
    public func fetchInbox(user: String) throws -> [Data] {
        let output = directory + "/fetched-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: output) }
        let script = """
            import imaplib, os, sys
            m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1])); m.login(sys.argv[2], "secret"); m.select("INBOX", readonly=True)
            _, found = m.uid("SEARCH", None, "ALL")
            for n, uid in enumerate(sorted(found[0].split(), key=int)):
                _, data = m.uid("FETCH", uid, "(BODY.PEEK[])")
                open(os.path.join(sys.argv[3], "%06d" % n), "wb").write(data[0][1])
            m.logout()
            """
        try run("/usr/bin/python3", ["-c", script, "\(plainPort)", user, output])
        return try FileManager.default.contentsOfDirectory(atPath: output).sorted().map {
            try Data(contentsOf: URL(fileURLWithPath: output + "/" + $0))
        }
    }

    /// Waits until `user`'s Maildir holds `count` messages (LMTP delivery follows the SMTP
    /// transaction by a moment), at most `seconds`; returns how many it holds.
    @discardableResult
    public func waitForMessages(user: String, count: Int, seconds: Double = 10) -> Int {
        let deadline = Date().addingTimeInterval(seconds)
        func held() -> Int {
            ["new", "cur"].reduce(0) { $0 + ((try? FileManager.default.contentsOfDirectory(atPath: mailbox(of: user) + "/" + $1).count) ?? 0) }
        }
        while held() < count, Date() < deadline { usleep(50_000) }
        return held()
    }

    /// Runs a tool to completion (``runTool``: the start script leaves Dovecot running in the
    /// background, which Foundation's Process mistakes for the script still running).
    @discardableResult
    public func run(_ path: String, _ arguments: [String]) throws -> String {
        try Self.run(path, arguments)
    }

    @discardableResult
    public static func run(_ path: String, _ arguments: [String]) throws -> String {
        let (status, output) = runTool(path, arguments, mergeStandardError: true)
        guard status == 0 else { throw DovecotError("\(path) \(arguments.joined(separator: " ")) failed: \(output)") }
        return output
    }

    /// Kills the imap processes (one per logged-in connection) of every Dovecot this test process
    /// runs: the connection drops mid-command, as when a server restarts. Never by name: imap
    /// processes of other Dovecots on the machine are not ours to kill.
    public static func killIMAPProcesses() {
        for directory in running.all { killIMAPProcesses(of: directory) }
    }

    /// Sends `signal` to the imap processes of every Dovecot this test process runs (SIGSTOP: a
    /// server that stops answering, its connections still open); returns their pids.
    public static func signalIMAPProcesses(_ signal: Int32) -> [pid_t] {
        running.all.flatMap { processes(named: "imap", inSessionOf: $0 + "/dovecot.pid") }.filter { kill($0, signal) == 0 }
    }

    /// The imap processes of the Dovecot in `directory`: dovecot.sh starts its master under
    /// setsid and records its pid, so they are the processes named imap in the session it leads.
    private static func killIMAPProcesses(of directory: String) {
        killProcesses(named: "imap", inSessionOf: directory + "/dovecot.pid")
    }

    /// SIGKILLs the processes named `command` in the session led by the process whose pid is in
    /// `pidFile` (a server's master, started under setsid), never the master itself.
    public static func killProcesses(named command: String, inSessionOf pidFile: String) {
        for pid in processes(named: command, inSessionOf: pidFile) { kill(pid, SIGKILL) }
    }

    /// The processes named `command` whose parent is the process whose pid is in `pidFile`.
    public static func processes(named command: String, inSessionOf pidFile: String) -> [pid_t] {
        var found: [pid_t] = []
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
              let master = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), master > 1 else { return [] }
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry), pid != master,
                  let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { continue }
            // "pid (comm) state ppid pgrp session ...": comm may hold spaces, hence the last ")".
            let name = stat[stat.index(after: open)..<close]
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard name == command, fields.count > 3, pid_t(fields[3]) == master else { continue }
            found.append(pid)
        }
        return found
    }

    /// The directories of the Dovecots this process started and has not stopped yet.
    private static let running = Registry()

    private final class Registry: @unchecked Sendable {
        private let lock = NSLock()
        private var directories: Set<String> = []
        var all: [String] { lock.withLock { Array(directories) } }
        func insert(_ directory: String) { _ = lock.withLock { directories.insert(directory) } }
        func remove(_ directory: String) { _ = lock.withLock { directories.remove(directory) } }
    }
}

public struct DovecotError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Every message of a Maildir tree, by folder and Message-ID, with its bytes' hash and flags:
/// what "the Maildir matches the server message by message" compares.
public struct MailboxContents: Equatable, CustomStringConvertible {
    public struct Message: Equatable, Hashable {
        public var digest: Int
        public var size: Int
        public var flags: String
    }

    /// folder → Message-ID → message
    public var folders: [String: [String: Message]] = [:]
    /// Message files per folder: equal to the messages when nothing is duplicated.
    public var files: [String: Int] = [:]

    public var count: Int { folders.values.reduce(0) { $0 + $1.count } }

    public var description: String { folders.map { "\($0.key): \($0.value.count)" }.sorted().joined(separator: ", ") }

    /// Reads a Maildir++ tree; `decode` turns a directory name into a folder name.
    public init(maildirPlusPlus root: String, decode: (String) -> String = { $0 }) throws {
        let fm = FileManager.default
        var directories: [(String, String)] = [("INBOX", root)]
        for entry in try fm.contentsOfDirectory(atPath: root) where entry.hasPrefix(".") && entry != "." && entry != ".." {
            var isDirectory: ObjCBool = false
            let path = root + "/" + entry
            guard fm.fileExists(atPath: path + "/cur", isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            let name = entry.dropFirst().split(separator: ".").map { decode(String($0)) }.joined(separator: "/")
            directories.append((name, path))
        }
        for (name, path) in directories {
            var messages: [String: Message] = [:]
            for sub in ["cur", "new"] {
                for file in (try? fm.contentsOfDirectory(atPath: "\(path)/\(sub)")) ?? [] {
                    // Dovecot keeps CRLF, syncd's Maildir LF (as Unix mail readers expect): compare
                    // the messages with line ends normalised.
                    let raw = try Data(contentsOf: URL(fileURLWithPath: "\(path)/\(sub)/\(file)"))
                    let data = Data(String(decoding: raw, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n").utf8)
                    let flags = file.split(separator: ":").last.flatMap { $0.hasPrefix("2,") ? String($0.dropFirst(2)) : nil } ?? ""
                    // Flags Dovecot and syncd both keep; syncd also maps T (trashed) and P (passed).
                    let kept = String(flags.filter { "DFRS".contains($0) }.sorted())
                    messages[Self.messageID(data)] = Message(digest: data.hashValue, size: data.count, flags: kept)
                    files[name, default: 0] += 1
                }
            }
            if !messages.isEmpty { folders[name] = messages }
        }
    }

    private static func messageID(_ data: Data) -> String {
        let head = String(decoding: data.prefix(2048), as: UTF8.self)
        for line in head.split(separator: "\n") where line.lowercased().hasPrefix("message-id:") {
            return String(line.dropFirst("message-id:".count)).trimmingCharacters(in: .whitespaces)
        }
        return "no-id-\(data.hashValue)"
    }
}
