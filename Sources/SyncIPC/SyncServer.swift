#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOPosix
import Synchronization
import SyncProtocol

/// The Unix-socket server that fans events out to any number of viewers.
///
/// All connections and the forwarder share one event loop thread: fan-out is per-batch work on
/// shared buffers, so one thread keeps every viewer's order without locks, and leaves the other
/// cores to providers. Publish from any thread through ``publisher`` or a ``RunReporter``.
public final class SyncServer: Sendable {
    /// Where the server listens.
    public enum Listener: Sendable, Hashable {
        /// Bind a path; `mode` (e.g. 0o660) is applied to the socket file. A stale socket file is
        /// replaced; a live one (another server answers) is an error.
        case path(String, mode: UInt32? = nil)
        /// Adopt an already bound, listening socket, such as systemd's fd 3.
        case descriptor(CInt)
    }

    /// Bounds that keep one viewer from costing the others.
    public struct Limits: Sendable {
        /// Connections beyond this get a ``SyncStatus/tooManyViewers`` goodbye.
        public var maxViewers = 256
        /// Of ``maxViewers``, the slots only control peers (root, the control group) may take, so
        /// watch-only peers can never lock them out.
        public var reservedControlSlots = 16
        /// Connections one watch-only user may hold at once.
        public var maxViewersPerUser = 8
        /// A connection that sends no hello in this time is closed.
        public var handshakeTimeout = TimeAmount.seconds(5)
        /// A connection that has said hello but neither subscribed nor has a request open is
        /// closed after this long: it holds a slot and asks for nothing.
        public var idleTimeout = TimeAmount.seconds(30)
        /// Control and error-history requests one connection may have unanswered; more are
        /// answered `busy` at once.
        public var requestsInFlight = 8
        /// Bytes one viewer may have waiting (after superseding stale Progress) before it is
        /// disconnected as too slow.
        public var viewerQueueBytes = 4 * 1024 * 1024
        /// Events kept for viewers that reconnect with "since seq".
        public var replayEvents = 16_384
        /// Events waiting for the forwarder from which on a run's Progress is merged into its
        /// pending one instead of taking a sequence number of its own; 0 merges whenever one is
        /// pending. Below it every callback is forwarded: merging is for a forwarder that is
        /// behind, and a backlog of this size keeps its batches large.
        public var progressMergeBacklog = 1024
        /// Largest frame accepted from a viewer.
        public var requestFrameLimit = Frame.defaultClientFrameLimit
        /// How long a closing connection is given to take its goodbye notice.
        public var goodbyeGrace = TimeAmount.seconds(1)
        /// How long a viewer dropped as too slow is given to read up to its goodbye notice: it
        /// is behind by definition, so it needs longer than ``goodbyeGrace``.
        public var slowViewerGrace = TimeAmount.seconds(30)

        public init() {}
    }

    public struct Configuration: Sendable {
        public var listener: Listener
        /// Sent in the welcome ("syncd 0.1").
        public var serverName: String
        public var access: AccessPolicy
        /// Handles sync-now, cancel, pause, resume and reload; without one they are refused.
        public var control: (any ControlHandler)?
        public var limits: Limits
        /// The first sequence number to give out; a daemon continues where its state left off so
        /// reconnecting viewers never see numbers repeat.
        public var firstSeq: UInt64
        /// Makes blocks of sequence numbers durable before they are handed out; nil: none (tests,
        /// or a server whose numbers need not survive it).
        public var seqReserver: (any SeqReserver)?
        /// Sent in the welcome: a new value each time a daemon starts, so a viewer can tell a
        /// restart from missed events.
        public var instance: UInt64
        public var logger: Logger

        public init(
            listener: Listener, serverName: String = "syncd", access: AccessPolicy = .watchOnly,
            control: (any ControlHandler)? = nil, limits: Limits = Limits(), firstSeq: UInt64 = 1,
            seqReserver: (any SeqReserver)? = nil, instance: UInt64 = UInt64.random(in: 1...UInt64.max),
            logger: Logger = Logger(label: "syncd.ipc")
        ) {
            self.seqReserver = seqReserver
            self.instance = instance
            self.listener = listener
            self.serverName = serverName
            self.access = access
            self.control = control
            self.limits = limits
            self.firstSeq = Swift.max(1, firstSeq)
            self.logger = logger
        }
    }

    public let configuration: Configuration
    /// Publish events here, from any thread.
    public let publisher: EventPublisher
    private let group: MultiThreadedEventLoopGroup
    private let hub: NIOLoopBound<Hub>
    private let listening = Mutex<Channel?>(nil)

    public init(configuration: Configuration) {
        self.configuration = configuration
        let ticks = LoopTicks()
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1, metricsDelegate: ticks)
        let loop = group.next()
        // The hub is loop-bound, so it is made on its loop; the loop was just started, so these
        // waits cannot fail or block for long.
        let bound = try! loop.submit {
            NIOLoopBound(
                Hub(eventLoop: loop, limits: configuration.limits, access: configuration.access,
                    firstSeq: configuration.firstSeq, ticks: ticks, logger: configuration.logger),
                eventLoop: loop)
        }.wait()
        let publisher = EventPublisher(firstSeq: configuration.firstSeq, reserver: configuration.seqReserver,
                                       logger: configuration.logger,
                                       mergeBacklog: configuration.limits.progressMergeBacklog) {
            loop.execute { bound.value.drain() }
        }
        try! loop.submit { bound.value.publisher = publisher }.wait()
        self.hub = bound
        self.publisher = publisher
    }

    /// Binds or adopts the listening socket and starts accepting viewers.
    public func start() async throws {
        let hub = self.hub
        let configuration = self.configuration
        let bootstrap = ServerBootstrap(group: hub.eventLoop)
            .serverChannelOption(.backlog, value: 128)
            .childChannelOption(.allowRemoteHalfClosure, value: false)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        ByteToMessageHandler(MessageDecoder(limit: configuration.limits.requestFrameLimit)),
                        ViewerHandler(hub: hub.value, server: configuration))
                }
            }
        let channel: Channel, boundAt: String
        switch configuration.listener {
        case .path(let path, let mode):
            try Self.removeStaleSocket(at: path)
            channel = try await Self.bind(bootstrap, at: path, mode: mode)
            boundAt = path
        case .descriptor(let fd):
            channel = try await bootstrap.withBoundSocket(fd).get()
            boundAt = channel.localAddress?.pathname ?? "fd \(fd)"
        }
        listening.withLock { $0 = channel }
        configuration.logger.info("listening for viewers", metadata: ["socket": "\(boundAt)"])
    }

    /// A callback object for one run of one store, for the provider's sync thread.
    public func reporter(store: String, run: RunID) -> RunReporter {
        RunReporter(store: store, run: run, publisher: publisher)
    }

    /// Replaces who may control (a reload changed the control group). Takes effect for every
    /// connection's next request, open connections included.
    public func setAccess(_ access: AccessPolicy) async {
        let hub = self.hub
        try? await hub.eventLoop.submit { hub.value.access = access }.get()
    }

    /// Viewer handler objects alive in this process, connected or not: 0 once every connection
    /// has closed, or something keeps them alive.
    public static var liveViewerHandlers: Int { ViewerHandler.live.load(ordering: .relaxed) }

    /// Connected viewers, subscribed or not.
    public func viewerCount() async -> Int {
        let hub = self.hub
        return (try? await hub.eventLoop.submit { hub.value.viewers.count }.get()) ?? 0
    }

    /// Every store's state as of the last forwarded event.
    public func snapshot() async -> Snapshot {
        let hub = self.hub
        return (try? await hub.eventLoop.submit { hub.value.table.snapshot() }.get()) ?? Snapshot(seq: 0, stores: [])
    }

    /// Delivers what was published, says goodbye (`shuttingDown`) to every viewer, closes the
    /// socket and stops the event loop thread. The socket file is removed when this server bound it.
    public func stop() async {
        let hub = self.hub
        let channel = listening.withLock { $0 }
        try? await channel?.close()
        if case .path(let path, _) = configuration.listener, channel != nil { unlink(path) }
        try? await hub.eventLoop.submit {
            hub.value.drain()
            for viewer in hub.value.viewers.values {
                viewer.goodbye(.shuttingDown, "the daemon is shutting down")
            }
        }.get()
        // Give the goodbyes a moment to leave; the grace timer bounds it.
        let grace = configuration.limits.goodbyeGrace
        var waited = TimeAmount.zero
        while await viewerCount() > 0, waited < grace {
            try? await Task.sleep(nanoseconds: 10_000_000)
            waited = waited + .milliseconds(10)
        }
        try? await group.shutdownGracefully()
    }

    /// Binds `path` so that it appears already with `mode`: bound under a private name beside it,
    /// given its mode, then linked into place (which, unlike a rename, never replaces what
    /// appeared at `path` meanwhile), because a socket bound in place is born with the umask's
    /// mode and a viewer could connect before a chmod narrows it. A private name too long for a
    /// socket address falls back to binding in place.
    static func bind(_ bootstrap: ServerBootstrap, at path: String, mode: UInt32?) async throws -> Channel {
        let limit = MemoryLayout.size(ofValue: sockaddr_un().sun_path)
        guard path.utf8.count < limit else {
            throw SyncServerError("socket path is too long (\(path.utf8.count) bytes; the limit is \(limit - 1)): \(path)")
        }
        let directory = path.lastIndex(of: "/").map { String(path[...$0]) } ?? "./"
        let staging = directory + ".syncd-bind.\(getpid())"
        guard let mode, staging.utf8.count < limit else {
            let channel = try await bootstrap.bind(unixDomainSocketPath: path).get()
            if let mode { try setMode(mode, on: path, closing: channel) }
            return channel
        }
        let channel = try await bootstrap.bind(unixDomainSocketPath: staging, cleanupExistingSocketFile: true).get()
        defer { unlink(staging) }
        try setMode(mode, on: staging, closing: channel)
        guard link(staging, path) == 0 else {
            let reason = errno == EEXIST ? "something else appeared there meanwhile" : String(cString: strerror(errno))
            channel.close(promise: nil)
            throw SyncServerError("cannot put the socket in place at \(path): \(reason)")
        }
        return channel
    }

    private static func setMode(_ mode: UInt32, on path: String, closing channel: Channel) throws {
        guard chmod(path, mode_t(mode)) != 0 else { return }
        let reason = String(cString: strerror(errno))
        channel.close(promise: nil)
        throw SyncServerError("cannot set mode \(String(mode, radix: 8)) on \(path): \(reason)")
    }

    /// Removes a socket file nobody listens on; refuses to steal one a live server answers on.
    static func removeStaleSocket(at path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw SyncServerError("\(path) exists and is not a socket; refusing to replace it")
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw SyncServerError("socket path is too long (\(bytes.count) bytes; the limit is 107): \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if connected == 0 {
            throw SyncServerError("another server is already listening on \(path)")
        }
        unlink(path)
    }
}

/// A server setup failure, with a message that says what to do.
public struct SyncServerError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
