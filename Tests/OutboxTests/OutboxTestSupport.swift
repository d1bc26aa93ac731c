#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Maildir
@testable import Outbox
import XCTest

/// A fresh directory under /tmp, removed with everything in it on deinit.
final class TemporaryDirectory {
    let path: String

    init() throws {
        let run = ProcessInfo.processInfo.environment["SYNCD_TEST_RUN"].map { $0 + "-" } ?? ""
        var template = Array("/tmp/outbox-test-\(run)XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw OutboxTestFailure("mkdtemp: \(String(cString: strerror(errno)))")
        }
        path = String(cString: made)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

struct OutboxTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A store's tree and outbox in a temporary directory.
struct OutboxFixture {
    let root: String
    let tree: MaildirTree
    let outbox: Outbox
    static let sent = try! FolderName(["Sent"])
    static let failed = try! FolderName(["Failed"])

    init(root: String, layout: MaildirLayout = .maildirPlusPlus) throws {
        self.root = root
        tree = MaildirTree(root: root, layout: layout)
        outbox = try Outbox(tree: tree, folder: FolderName(["Outbox"]), failedFolder: Self.failed)
    }

    /// Queues `text` as a mail client would: tmp/, then a rename into new/ (or cur/ with flags).
    @discardableResult
    func queue(_ text: String, name: String? = nil, flags: String? = nil, modified: Double? = nil) throws -> String {
        let name = name ?? DurableFiles.uniqueName()
        let temporary = outbox.path + "/tmp/" + name
        try text.write(toFile: temporary, atomically: false, encoding: .utf8)
        if let modified {
            var times = [timespec(tv_sec: Int(modified), tv_nsec: 0), timespec(tv_sec: Int(modified), tv_nsec: 0)]
            utimensat(AT_FDCWD, temporary, &times, 0)
        }
        let target = flags.map { outbox.path + "/cur/" + name + ":2," + $0 } ?? outbox.path + "/new/" + name
        guard rename(temporary, target) == 0 else { throw OutboxTestFailure("rename \(temporary)") }
        return target
    }

    func files(_ folder: String, _ sub: String) -> [String] {
        let directory = (folder == "Outbox" ? outbox.path : try! tree.directory(for: FolderName([folder]))) + "/" + sub
        return ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
    }

    func read(_ folder: String, _ sub: String, _ name: String) throws -> String {
        let directory = (folder == "Outbox" ? outbox.path : try tree.directory(for: FolderName([folder]))) + "/" + sub
        return try String(contentsOfFile: directory + "/" + name, encoding: .utf8)
    }

    /// Every file of the outbox: queued and in sending/.
    var outboxFiles: [String] {
        files("Outbox", "new").map { "new/" + $0 } + files("Outbox", "cur").map { "cur/" + $0 }
            + files("Outbox", "sending").map { "sending/" + $0 }
    }
}

/// A message with a Bcc, and no Message-ID or Date.
func sampleMessage(_ number: Int, bcc: Bool = true, body: String? = nil) -> String {
    var text = "From: Alice <alice@example.test>\nTo: Bob <bob@example.test>\n"
    if bcc { text += "Bcc: carol@example.test\n" }
    text += "Subject: message \(number)\n\n" + (body ?? "Body of message \(number).\n")
    return text
}

/// Runs the built syncd-sendmail with `input` on stdin and returns its status, stderr, and its
/// peak resident set size in KiB: VmHWM of its own address space, read from /proc while it runs
/// (wait4's ru_maxrss would count the test process's pages, which the spawned child shares
/// until it execs).
func runSendmail(_ binary: String, _ arguments: [String], input: String, environment: [String: String] = [:]) throws
    -> (status: Int32, stderr: String, maxRSSKiB: Int)
{
    let errors = input + ".stderr"
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, input, O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, errors, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    var env = ProcessInfo.processInfo.environment
    env["SYNCD_SOCKET"] = nil
    env.merge(environment) { $1 }
    let envp = env.map { strdup("\($0)=\($1)") } + [nil]
    let argv = ([binary] + arguments).map { strdup($0) } + [nil]
    defer {
        envp.forEach { free($0) }
        argv.forEach { free($0) }
    }
    var pid: pid_t = 0
    guard posix_spawn(&pid, binary, &actions, nil, argv, envp) == 0 else { throw OutboxTestFailure("cannot start \(binary)") }
    var status: Int32 = 0
    var peak = 0
    while true {
        let done = waitpid(pid, &status, WNOHANG)
        if done == pid { break }
        if done < 0, errno != EINTR { throw OutboxTestFailure("waitpid: \(errno)") }
        if let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kib = Int(line.split(separator: " ").dropFirst().first ?? "")
        {
            peak = max(peak, kib)
        }
        usleep(2_000)
    }
    let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return (code, (try? String(contentsOfFile: errors, encoding: .utf8)) ?? "", peak)
}
