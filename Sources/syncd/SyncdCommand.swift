import ArgumentParser
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import IMAPProvider
import Logging
import SMTPProvider
import SyncDaemon

/// Exit statuses, mirrored in packaging/syncd.service (`RestartPreventExitStatus=`).
enum ExitStatus {
    /// The configuration or state cannot be used: restarting will not help.
    static let config: Int32 = 78  // EX_CONFIG
    /// The socket could not be bound or adopted.
    static let unavailable: Int32 = 69  // EX_UNAVAILABLE
}

@main
struct SyncdCommand: AsyncParsableCommand {
    /// What `--version` prints.
    static let version = "0.2.0"

    static let configuration = CommandConfiguration(
        commandName: "syncd",
        abstract: "The background sync daemon: hosts store providers and streams their progress to viewers.",
        discussion: """
            Under systemd, syncd is started by syncd.socket (socket activation) and reports readiness, status and watchdog pings. Run by hand, it listens on the config's socket or --socket.

            SIGHUP re-reads the configuration; SIGTERM cancels running syncs and exits.

            Exit status: 0 after a clean stop, 78 for a configuration or state error, 69 when the socket cannot be used, 1 for anything else.
            """,
        version: version)

    /// Every provider this build hosts.
    static let providers: [any ProviderFactory] = Daemon.factories + [IMAPFactory(), SMTPFactory()]

    @Option(name: .long, help: ArgumentHelp(
        "Configuration file (an example with every daemon key: \(DaemonConfig.installedExample)).",
        discussion: "Default: /etc/syncd/syncd.toml as root, else $XDG_CONFIG_HOME/syncd/syncd.toml (~/.config/syncd/syncd.toml).",
        valueName: "file"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp(
        "Listen on this socket path instead of the config's (ignored when socket-activated).",
        discussion: "Default: the config's socket, else /run/syncd/syncd.sock as root, else $XDG_RUNTIME_DIR/syncd/syncd.sock (mode 0600).",
        valueName: "path"))
    var socket: String?

    @Option(name: .customLong("state-dir"), help: ArgumentHelp(
        "Keep durable state here instead of the config's state_directory.",
        discussion: "Default: the config's state_directory, else /var/lib/syncd as root, else $XDG_STATE_HOME/syncd (~/.local/state/syncd).",
        valueName: "directory"))
    var stateDirectory: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    @Flag(name: .long, help: "Check the configuration and exit (0 if valid).")
    var check = false

    @Flag(name: .long, help: ArgumentHelp(
        "Take the system service's defaults (/etc/syncd, /run/syncd, /var/lib/syncd) whoever runs it.",
        discussion: "The system unit runs syncd as the unprivileged user syncd, which would otherwise get a user's own daemon's XDG directories."))
    var system = false

    func run() async throws {
        let level = logLevel
        let useJournal = JournalLogHandler.stderrIsJournal
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = useJournal
                ? JournalLogHandler(identifier: "syncd")
                : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "syncd")
        // Root (or --system: the system unit's user syncd) runs the system service; anyone else
        // their own daemon, in their XDG directories.
        let locations = system ? .system : DaemonLocations.forProcess(environment: ProcessInfo.processInfo.environment)
        let config = self.config ?? locations.configFile
        if self.config == nil, locations.scope == .user, !FileManager.default.fileExists(atPath: config) {
            printError("syncd: no configuration at \(config) (a user's own syncd reads it from there): start from the example, `mkdir -p \(config.dropLast("/syncd.toml".count)) && cp \(DaemonLocations.userExample) \(config)`, or pass --config FILE")
            throw ExitCode(ExitStatus.config)
        }

        if check {
            do {
                let parsed = try DaemonConfig.load(file: config, factories: Self.providers, defaults: locations.defaultSettings)
                print("\(config): \(parsed.checkSummary)")
                return
            } catch {
                printError("\(error)")
                throw ExitCode(ExitStatus.config)
            }
        }

        let daemon: Daemon
        do {
            let listening = try SocketActivation.listeningSocket()
            daemon = try Daemon(
                options: .init(configFile: config, socket: socket, stateDirectory: stateDirectory, listeningSocket: listening,
                               locations: locations),
                factories: Self.providers, logger: logger)
        } catch let error as SocketActivationError {
            printError("syncd: \(error)")
            throw ExitCode(ExitStatus.unavailable)
        } catch {
            printError("syncd: \(error)")
            throw ExitCode(ExitStatus.config)
        }

        let signals = SignalHandlers(daemon: daemon)
        signals.install()
        do {
            try await daemon.run()
        } catch {
            printError("syncd: \(error)")
            throw ExitCode(ExitStatus.unavailable)
        }
        _ = signals
    }
}

func printError(_ message: String) {
    var line = message + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// SIGTERM and SIGINT stop the daemon gracefully; SIGHUP reloads its configuration.
final class SignalHandlers {
    let daemon: Daemon
    let sources: [DispatchSourceSignal]

    init(daemon: Daemon) {
        self.daemon = daemon
        var sources: [DispatchSourceSignal] = []
        for (signal, action) in [(SIGTERM, "stop"), (SIGINT, "stop"), (SIGHUP, "reload")] {
            Glibc.signal(signal, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signal, queue: .global())
            source.setEventHandler {
                Task {
                    if action == "stop" { await daemon.stop() } else { _ = await daemon.reload() }
                }
            }
            sources.append(source)
        }
        self.sources = sources
    }

    func install() {
        sources.forEach { $0.resume() }
    }
}
