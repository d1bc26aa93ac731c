import ArgumentParser
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

@main
struct SyncdHTTP: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "syncd-http",
        abstract: "Serve syncd's state over HTTP: a live dashboard, Server-Sent Events, JSON, and Prometheus metrics.",
        discussion: """
            Routes: / (dashboard), /events (SSE; id = seq, Last-Event-ID resumes), /api/status, /api/errors, \
            /api/runs (the JSON of syncctl status/errors --json), /metrics (Prometheus text), \
            POST /api/stores/STORE/{sync,cancel,pause,resume} (only with --control-token-file or --trust-proxy).
            syncd-http is one viewer of the daemon however many browsers watch; the daemon checks its uid for controls.
            """)

    @Option(help: ArgumentHelp("The daemon's socket.", discussion: "Default: $SYNCD_SOCKET, else /run/syncd/syncd.sock."))
    var socket: String?

    @Option(help: ArgumentHelp(
        "Where to serve: HOST:PORT (127.0.0.1:9477 by default; port 0 picks one) or unix:PATH.",
        discussion: "Only the loopback unless you name another address: 0.0.0.0 and [::] are served only when written out."))
    var listen = "127.0.0.1:9477"

    @Option(help: "Mode of the unix:PATH socket (octal): who may reach it, e.g. the proxy's group.")
    var socketMode = "660"

    @Option(help: "A file holding the control token (mode 600): requests with `Authorization: Bearer TOKEN` may sync, cancel, pause.")
    var controlTokenFile: String?

    @Flag(help: "Every request on the unix:PATH socket may control: a reverse proxy in front authenticates users.")
    var trustProxy = false

    func validate() throws {
        if trustProxy, !listen.hasPrefix("unix:") {
            throw ValidationError("--trust-proxy needs --listen unix:PATH: on a TCP port anyone on the host could reach the controls")
        }
        if trustProxy, controlTokenFile != nil { throw ValidationError("use one of --trust-proxy and --control-token-file") }
        if UInt32(socketMode, radix: 8) == nil { throw ValidationError("--socket-mode \(socketMode): expected octal, like 660") }
        _ = try Self.address(listen)
    }

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "syncd-http")
        logger.logLevel = .info
        let gate: ControlGate
        do {
            gate = try controlTokenFile.map(ControlGate.token(file:)) ?? (trustProxy ? .proxy : .off)
        } catch let error as GateError {
            throw ValidationError(error.description)
        }
        let daemonSocket = socket ?? ProcessInfo.processInfo.environment["SYNCD_SOCKET"] ?? "/run/syncd/syncd.sock"
        let bridge = Bridge(socket: daemonSocket, controlsConfigured: gate.offersControls, logger: logger)
        let address = try Self.address(listen)
        let mode = mode_t(UInt32(socketMode, radix: 8) ?? 0o660)
        if case .unix(let path) = address {
            try Self.clearStaleSocket(path)
            // The socket is born with the mode, not chmod'ed after a window where others could
            // connect; syncd-http writes no other files.
            umask(~mode & 0o777)
        }
        let app = Application(
            router: Routes.router(bridge: bridge, gate: gate),
            configuration: .init(address: address.bind, serverName: "syncd-http"),
            services: [BridgeService(bridge: bridge)],
            onServerRunning: { channel in
                switch address {
                case .unix(let path):
                    chmod(path, mode)
                    Self.announce("listening on unix:\(path)")
                case .tcp(let host, _):
                    let port = channel.localAddress?.port ?? 0
                    let shown = host.contains(":") ? "[\(host)]" : host
                    Self.announce("listening on http://\(shown):\(port)/")
                }
            },
            logger: logger)
        try await app.runService()
    }

    enum ListenAddress {
        case tcp(String, Int)
        case unix(String)

        var bind: BindAddress {
            switch self {
            case .tcp(let host, let port): return .hostname(host, port: port)
            case .unix(let path): return .unixDomainSocket(path: path)
            }
        }
    }

    static func address(_ text: String) throws -> ListenAddress {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard path.hasPrefix("/") else { throw ValidationError("--listen \(text): expected unix:/absolute/path") }
            return .unix(path)
        }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("--listen \(text): expected HOST:PORT, like 127.0.0.1:9477, or unix:PATH")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw ValidationError("--listen \(text): name the address (127.0.0.1:\(port); 0.0.0.0:\(port) for every interface)") }
        return .tcp(host, port)
    }

    /// A socket file left by an earlier run that nobody listens on any more is removed; anything
    /// else at the path is left alone and reported.
    static func clearStaleSocket(_ path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw ValidationError("--listen unix:\(path): the path exists and is not a socket")
        }
        unlink(path)
    }

    /// One line on stderr once the server listens (tests and scripts wait for it).
    static func announce(_ line: String) {
        FileHandle.standardError.write(Data("syncd-http: \(line)\n".utf8))
    }
}

/// The bridge as a service beside the HTTP server: follows the daemon until shutdown.
struct BridgeService: Service {
    let bridge: Bridge

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await bridge.run()
        }
    }
}
