#if canImport(Glibc)
import Glibc
#endif
import Foundation
import IMAPProvider
import Maildir
import MessageHeaders
import Outbox
import SMTPProvider
import SyncDaemon
import SyncIPC
import SyncProtocol

/// `syncd-sendmail`: a sendmail-compatible entry point that queues a message durably in an imap
/// store's outbox, then asks syncd for a run that sends it. Without a running syncd the message
/// waits in the outbox for syncd's next run (exit 0, as a queueing MTA does).
@main
struct SendmailCommand {
    static let version = "0.2.0"
    /// The most of a message's start held in memory to read its header (the rest is streamed).
    static let headerLimit = 1 << 20

    static func main() async {
        let arguments: SendmailArguments
        do {
            arguments = try SendmailArguments.parse(Array(CommandLine.arguments.dropFirst()))
        } catch {
            complain("\(error)")
            FileHandle.standardError.write(Data((SendmailArguments.usage + "\n").utf8))
            exit(Sysexit.usage)
        }
        if arguments.help {
            print(SendmailArguments.usage)
            exit(Sysexit.ok)
        }
        if arguments.version {
            print("syncd-sendmail \(version)")
            exit(Sysexit.ok)
        }
        exit(await run(arguments))
    }

    static func run(_ arguments: SendmailArguments) async -> Int32 {
        if !arguments.extractRecipients, arguments.recipients.isEmpty {
            complain("no recipients: give them as arguments, or -t to take them from the message's To, Cc and Bcc")
            return Sysexit.usage
        }
        let environment = ProcessInfo.processInfo.environment
        let config: DaemonConfig
        do {
            config = try loadConfig(arguments.config, environment: environment)
        } catch {
            complain("\(error)")
            return Sysexit.config
        }

        var input = MessageInput(ignoreDots: arguments.ignoreDots)
        // The header first, held in memory: it names the sender (which may choose the store) and,
        // with -t, the recipients. The body is streamed after it.
        var start: [UInt8] = []
        var headerEnd: Int?
        do {
            while headerEnd == nil, start.count < headerLimit, let piece = try input.next() {
                let from = max(0, start.count - 2)
                start += piece
                headerEnd = headerEndIndex(start, from: from)
            }
        } catch {
            complain("\(error)")
            return Sysexit.temporaryFailure
        }
        let header = Array(start[..<(headerEnd ?? start.count)])
        let fields = MessageHeaders.headerFields(header)
        func values(_ name: String) -> [String] { fields.filter { $0.name == name }.map(\.value) }
        let headerFrom = values("from").first.flatMap { AddressList.addresses($0).first }

        let store: (name: String, outbox: OutboxLocation)
        do {
            store = try StoreChoice.choose(in: config, named: arguments.store, sender: arguments.sender ?? headerFrom)
        } catch {
            complain("\(error)")
            return Sysexit.usage
        }
        let location = store.outbox
        let outboxPath = (try? location.tree.directory(for: location.folder)) ?? location.folder.description
        let fallbackSender = location.user.flatMap { $0.contains("@") ? $0 : nil }

        var recipients = arguments.recipients
        if arguments.extractRecipients {
            recipients += ["to", "cc", "bcc"].flatMap(values).flatMap(AddressList.addresses)
        }
        if recipients.isEmpty {
            complain("no recipients: the message has no To, Cc or Bcc address")
            return Sysexit.usage
        }

        // What goes before the message: the envelope when it did not come from the header alone,
        // and a From field if the message has none (as sendmail adds one).
        var prefix = ""
        let sender = arguments.sender ?? headerFrom ?? fallbackSender
        if !arguments.recipients.isEmpty || arguments.sender != nil {
            prefix += Envelope(from: sender ?? "", recipients: recipients).headerFields
        }
        if headerFrom == nil, values("from").isEmpty, let address = arguments.sender ?? fallbackSender {
            prefix += "From: " + (arguments.fullName.map { "\(quotedName($0)) <\(address)>" } ?? address) + "\n"
        }

        let outbox: Outbox
        let delivery: OutboxDelivery
        do {
            outbox = try Outbox(tree: location.tree, folder: location.folder, failedFolder: location.failedFolder)
            delivery = try OutboxDelivery(into: outbox)
        } catch {
            complain("cannot queue the message in \(outboxPath): \(error)")
            return Sysexit.forWriting(error)
        }
        do {
            try delivery.write(Array(prefix.utf8))
            try delivery.write(start)
            while let piece = try input.next() { try delivery.write(piece) }
            try delivery.commit()
        } catch let error as MessageInput.ReadError {
            delivery.abandon()
            complain("\(error)")
            return Sysexit.temporaryFailure
        } catch {
            delivery.abandon()
            complain("cannot queue the message in \(outboxPath): \(error)")
            return Sysexit.forWriting(error)
        }

        await askForRun(store: store.name, socket: socketPath(arguments, config: config, environment: environment),
                        outbox: outboxPath)
        return Sysexit.ok
    }

    /// Asks syncd for a send run of `store`; the message is queued whatever the answer.
    static func askForRun(store: String, socket: String, outbox: String) async {
        let later = "the message is queued in \(outbox) and goes at syncd's next run of '\(store)'"
        let client: SyncClient
        do {
            client = try await SyncClient.connect(to: socket, clientName: "syncd-sendmail", timeout: .seconds(5), requestTimeout: .seconds(10))
        } catch {
            complain("syncd is not running (\(error)): \(later)")
            return
        }
        do {
            let reply = try await client.send(.syncNow(store: store, flags: [.outgoingMail, .onDemand]))
            if !reply.status.isOK {
                complain("syncd did not start a run (\(reply.message.isEmpty ? reply.status.text : reply.message)): \(later)")
            }
        } catch {
            complain("syncd did not answer (\(error)): \(later)")
        }
        await client.close()
    }

    /// `--config`, else where syncd itself looks: the user's own configuration if there is one,
    /// else the system service's.
    static func loadConfig(_ path: String?, environment: [String: String]) throws -> DaemonConfig {
        let factories = Daemon.factories + [IMAPFactory(), SMTPFactory()]
        var locations = DaemonLocations.forProcess(environment: environment)
        if path == nil, locations.scope == .user, !FileManager.default.fileExists(atPath: locations.configFile) {
            locations = .system
        }
        return try DaemonConfig.load(file: path ?? locations.configFile, factories: factories, defaults: locations.defaultSettings)
    }

    /// `--socket`, else `$SYNCD_SOCKET`, else the configuration's (whose default is where that
    /// daemon listens: the system's socket, or the user's own).
    static func socketPath(_ arguments: SendmailArguments, config: DaemonConfig, environment: [String: String]) -> String {
        arguments.socket ?? environment["SYNCD_SOCKET"] ?? config.settings.socket
    }

    /// Where the empty line ending a header starts (LF line ends: MessageInput made them so).
    static func headerEndIndex(_ bytes: [UInt8], from start: Int) -> Int? {
        if bytes.first == UInt8(ascii: "\n") { return 0 }
        var i = max(start, 0)
        while i + 1 < bytes.count {
            if bytes[i] == UInt8(ascii: "\n"), bytes[i + 1] == UInt8(ascii: "\n") { return i + 1 }
            i += 1
        }
        return nil
    }

    /// A display name as a quoted string when it needs one.
    static func quotedName(_ name: String) -> String {
        if name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == " " || $0 == "-" }) { return name }
        return "\"" + name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
