// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "syncd",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SyncProtocol", targets: ["SyncProtocol"]),
        .library(name: "SyncIPC", targets: ["SyncIPC"]),
        .executable(name: "syncd", targets: ["syncd"]),
        .executable(name: "syncctl", targets: ["syncctl"]),
        .executable(name: "syncd-http", targets: ["syncd-http"]),
        .executable(name: "syncd-desktop", targets: ["syncd-desktop"]),
        .executable(name: "syncd-sendmail", targets: ["syncd-sendmail"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.5.0"),
        // syncd-http: the HTTP server (no swift-configuration: its default traits are off) and the metrics text.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        // Wire format only: frames, messages, status codes. No I/O; ByteBuffer is its only dependency.
        .target(
            name: "SyncProtocol",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")]
        ),
        // IMAP4rev1 wire format (RFC 3501, 7162): response parser, command encoder. Pure code, no sockets.
        .target(name: "IMAPProtocol", dependencies: [.product(name: "NIOCore", package: "swift-nio")]),
        // SMTP submission wire format (RFC 5321, 4954, 3463): reply parser, commands, EHLO, dot-stuffing. No sockets.
        .target(name: "SMTPProtocol", dependencies: [.product(name: "NIOCore", package: "swift-nio")]),
        // Sending an outbox through SMTP: the send phase imap stores run first, and the send-only
        // `smtp` provider.
        .target(
            name: "SMTPProvider",
            dependencies: [
                "SMTPClient", "Outbox", "Maildir", "SyncDaemon", "SyncProtocol",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The SMTP submission client (RFC 6409): STARTTLS or implicit TLS, AUTH, pipelined envelopes, streamed DATA.
        .target(
            name: "SMTPClient",
            dependencies: [
                "SMTPProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The Unix-socket fan-out server and the viewer client.
        .target(
            name: "SyncIPC",
            dependencies: [
                "SyncProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // libsystemd (Debian: libsystemd-dev): sd_notify, sd_listen_fds, the journal, sd-bus (syncd-desktop).
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        // The daemon's parts: config, scheduler, provider host, providers, durable state, systemd glue.
        .target(
            name: "SyncDaemon",
            dependencies: [
                "SyncIPC", "SyncProtocol", "CSystemd",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]
        ),
        // The imap provider: an IMAP account synchronised into a Maildir.
        .target(
            name: "IMAPProvider",
            dependencies: [
                "IMAPProtocol", "Maildir", "MessageHeaders", "OAuth2", "SyncDaemon", "SyncProtocol", "SMTPProvider", "SMTPClient", "Outbox",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ]
        ),
        // OAuth2 for the imap provider: the device authorization grant (RFC 8628), refresh, token
        // endpoint errors, the presets for Google and Microsoft. HTTP through async-http-client.
        .target(
            name: "OAuth2",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ]
        ),
        // Local Maildir store for the imap provider: delivery, UID map, crash recovery. No networking.
        // statfs(2) for the Maildir store (is a folder on a network file system?).
        .systemLibrary(name: "CLinuxVFS"),
        .target(name: "Maildir", dependencies: ["CLinuxVFS"]),
        // A message's header read: fields, RFC 2047 encoded words, dates. Pure code.
        .target(name: "MessageHeaders"),
        // A store's outbox: queued, sending, sent / deferred / failed, each step one durable rename.
        .target(name: "Outbox", dependencies: ["Maildir", "MessageHeaders"]),
        // sendmail's command line into a store's outbox, then a send run asked of syncd.
        .executableTarget(
            name: "syncd-sendmail",
            dependencies: ["Outbox", "Maildir", "MessageHeaders", "IMAPProvider", "SMTPProvider", "SyncDaemon", "SyncIPC", "SyncProtocol"]
        ),
        .executableTarget(
            name: "syncd",
            dependencies: [
                "SyncDaemon", "IMAPProvider", "SMTPProvider",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "syncctl",
            dependencies: [
                "SyncIPC", "SyncProtocol", "SyncJSON", "CSystemd",
                // `syncctl add imap`: the imap provider's login and the daemon's config parser,
                // DNS SRV through libresolv, autoconfig over HTTPS.
                "IMAPProvider", "SMTPProvider", "SyncDaemon", "CResolv",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // glibc's DNS resolver (res_nquery), for RFC 6186 SRV records.
        .systemLibrary(name: "CResolv"),
        // The JSON documents viewers print or serve (syncctl --json, syncd-http's /api): one shape for both.
        .target(name: "SyncJSON", dependencies: ["SyncProtocol"]),
        // The web dashboard, SSE and Prometheus metrics: a viewer process on SyncIPC's client.
        .executableTarget(
            name: "syncd-http",
            dependencies: [
                "SyncIPC", "SyncProtocol", "SyncJSON",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The desktop viewer: notifications, KDE job views, the dock's launcher entry, over sd-bus.
        .executableTarget(
            name: "syncd-desktop",
            dependencies: [
                "SyncIPC", "SyncProtocol", "CSystemd",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "syncipc-bench",
            dependencies: [
                "SyncIPC", "SyncProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "Benchmarks/syncipc-bench"
        ),
        .testTarget(
            name: "SyncProtocolTests",
            dependencies: ["SyncProtocol", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(name: "IMAPProtocolTests", dependencies: ["IMAPProtocol", .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(name: "SMTPProtocolTests", dependencies: ["SMTPProtocol", .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(name: "MaildirTests", dependencies: ["Maildir"]),
        .testTarget(
            name: "OutboxTests",
            dependencies: ["Outbox", "Maildir", "MessageHeaders", "SyncIPC", "SyncProtocol", "TestSupport"]
        ),
        // What the integration tests share: real syncd processes, and running tools.
        .target(
            name: "TestSupport",
            dependencies: ["SyncIPC", "SyncProtocol"],
            path: "Tests/TestSupport"
        ),
        // Real mail servers the tests start on loopback: Dovecot, Cyrus, Postfix.
        .target(name: "MailServers", dependencies: ["IMAPProtocol", "TestSupport"], path: "Tests/MailServers"),
        .testTarget(
            name: "IMAPProviderTests",
            dependencies: [
                "IMAPProvider", "IMAPProtocol", "MailServers", "Maildir", "MessageHeaders", "OAuth2", "SyncDaemon", "SyncIPC", "SyncProtocol", "TestSupport", "SMTPProvider", "Outbox",
                "syncctl",  // AddIMAPParsingTests: syncctl add imap's DNS and autoconfig readers
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        // The SMTP client against a real Postfix (submission, SASL and LMTP through a real Dovecot).
        .testTarget(
            name: "SMTPClientTests",
            dependencies: [
                "SMTPClient", "SMTPProtocol", "MailServers", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "SyncdTests",
            dependencies: [
                "SyncDaemon", "SyncIPC", "SyncProtocol", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The real daemon against a hostile local user and faults (slow: churn, fuzzing, floods).
        .testTarget(
            name: "HostileClientTests",
            dependencies: ["SyncIPC", "SyncProtocol", "TestSupport"]
        ),
        // syncd-http against real syncd, Prometheus, promtool and headless Chromium.
        .testTarget(name: "SyncHTTPTests", dependencies: ["SyncIPC", "SyncProtocol", "TestSupport"]),
        // syncd-desktop on a private session bus against dunst and a JobViewServer peer.
        .testTarget(
            name: "DesktopTests",
            dependencies: ["syncd-desktop", "SyncIPC", "SyncProtocol", "TestSupport"]
        ),
        .testTarget(
            name: "SyncIPCTests",
            dependencies: [
                "SyncIPC", "SyncProtocol", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
