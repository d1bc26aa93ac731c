#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SyncProtocol
import TOMLKit

/// The daemon's own settings: the `[daemon]` table.
public struct DaemonSettings: Sendable, Equatable {
    public var socket = "/run/syncd/syncd.sock"
    /// Applied to the socket when syncd binds it itself (socket activation sets its own).
    public var socketMode: UInt32 = 0o660
    public var stateDirectory = "/var/lib/syncd"
    /// Members (and root) may sync, cancel, pause, resume and reload; others only watch.
    public var controlGroup = "syncd"
    public var maxConcurrentRuns = 2
    /// A run silent this long is shown as stalled.
    public var stallAfter: Duration = .seconds(60)
    /// A run silent this long is cancelled (Done `stalled`) and retried with backoff.
    public var cancelStalledAfter: Duration = .seconds(300)
    /// First retry delay after a failure; it doubles per failure, with jitter, up to `maxBackoff`.
    public var retryAfter: Duration = .seconds(30)
    public var maxBackoff: Duration = .seconds(3600)
    /// Errors kept per store in the durable history (`syncctl errors`).
    public var errorHistory = 50
    /// Viewer connections at once; the last 16 only for root and the control group.
    public var maxViewers = 256
    /// Connections one watch-only user may hold at once.
    public var maxViewersPerUser = 8
    /// Follow the default route (``NetworkWatcher``): offline once it goes, a catch-up when it is
    /// back or changes. Off for a machine whose stores are reached without it (a LAN-only link).
    public var watchNetwork = true

    public init() {}

    static let keys = [
        "socket", "socket_mode", "state_directory", "control_group", "max_concurrent_runs", "stall_after",
        "cancel_stalled_after", "retry_after", "max_backoff", "error_history", "max_viewers", "max_viewers_per_user",
        "watch_network",
    ]
}

/// One `[store.NAME]` table, with its provider built and checked.
public struct StoreConfig: Sendable {
    public var name: String
    /// The provider kind (`synthetic`, `exec`, `imap`).
    public var providerName: String
    /// Scheduled runs every `interval`; nil means on demand only.
    public var interval: Duration?
    /// What a scheduled run does (MAPI flags); on-demand runs may ask for other flags.
    public var flags: SyncFlags
    /// Run once as soon as the daemon starts (or the store is added).
    public var runAtStartup: Bool
    public var provider: any StoreProvider
    /// The table's text, to tell on reload whether the store changed.
    public var fingerprint: String
    /// A command run after each run that changed something (`after_sync`), nil for none.
    public var afterSync: AfterSyncHook.Command?

    static let keys = ["provider", "interval", "flags", "run_at_startup", "after_sync", "after_sync_timeout"]
}

/// The whole configuration file.
public struct DaemonConfig: Sendable {
    public var file: String
    public var settings: DaemonSettings
    /// Stores by name.
    public var stores: [String: StoreConfig]

    public var storeNames: [String] { stores.keys.sorted() }

    /// Where `make install` puts the example configuration (`$(EXAMPLESDIR)` in the Makefile).
    public static let installedExample = "/usr/lib/syncd/examples/syncd.example.toml"

    /// What `syncd --check` says of a valid file: "OK: 2 stores (a, b)", "OK: no stores".
    public var checkSummary: String {
        switch stores.count {
        case 0: return "OK: no stores"
        case 1: return "OK: 1 store (\(storeNames[0]))"
        default: return "OK: \(stores.count) stores (\(storeNames.joined(separator: ", ")))"
        }
    }

    /// Reads and checks `file`; every mistake names the file, line and key.
    /// `defaults` are what keys the file leaves out mean (``DaemonLocations/defaultSettings``).
    public static func load(file: String, factories: [any ProviderFactory], defaults: DaemonSettings = DaemonSettings()) throws -> DaemonConfig {
        guard let data = FileManager.default.contents(atPath: file) else {
            let reason = FileManager.default.fileExists(atPath: file) ? "cannot be read (permissions?)" : "does not exist"
            throw ConfigError(file: file, "the configuration file \(reason); pass --config FILE, or start from the example installed at \(installedExample) (see syncd --help)")
        }
        return try parse(String(decoding: data, as: UTF8.self), file: file, factories: factories, defaults: defaults)
    }

    /// Checks a configuration given as text; `file` names it in errors.
    public static func parse(
        _ text: String, file: String, factories: [any ProviderFactory], defaults: DaemonSettings = DaemonSettings()
    ) throws -> DaemonConfig {
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigError(file: file, line: error.source.begin.line, "not valid TOML: \(error.description)")
        }
        let sourceMap = SourceMap(text: text)
        let top = ConfigSection(file: file, path: "", table: root, sourceMap: sourceMap)
        var config = DaemonConfig(file: file, settings: defaults, stores: [:])
        if let daemon = try top.section("daemon") {
            config.settings = try parseSettings(daemon, defaults: defaults)
        }
        if let stores = try top.section("store") {
            for name in stores.table.keys.sorted() {
                guard let section = try stores.section(name) else { continue }
                config.stores[name] = try parseStore(name, section.renamed("store.\(name)"), factories: factories)
            }
        }
        try top.finishTop()
        return config
    }

    private static func parseSettings(_ section: ConfigSection, defaults: DaemonSettings) throws -> DaemonSettings {
        var settings = defaults
        settings.socket = try section.string("socket", default: defaults.socket)
        guard settings.socket.hasPrefix("/"), settings.socket.utf8.count < 108 else {
            throw section.error("socket", "expected an absolute path shorter than 108 bytes")
        }
        if let mode = try section.string("socket_mode") {
            guard let value = UInt32(mode, radix: 8), value <= 0o777 else {
                throw section.error("socket_mode", "expected an octal mode such as \"0660\"")
            }
            settings.socketMode = value
        }
        settings.stateDirectory = try section.string("state_directory", default: defaults.stateDirectory)
        if let group = try section.string("control_group") {
            // Named explicitly, a group that does not exist is a mistake (a typo would leave
            // control to root alone); the default may be absent on a machine run by hand.
            guard getgrnam(group) != nil else {
                throw section.error("control_group", "no group named '\(group)' exists (create it with `sudo groupadd \(group)`, or name an existing group)")
            }
            settings.controlGroup = group
        }
        settings.maxConcurrentRuns = try section.int("max_concurrent_runs", default: defaults.maxConcurrentRuns, range: 1...1024)
        settings.stallAfter = try section.duration("stall_after", default: defaults.stallAfter)
        settings.cancelStalledAfter = try section.duration("cancel_stalled_after", default: defaults.cancelStalledAfter)
        guard settings.cancelStalledAfter >= settings.stallAfter else {
            throw section.error("cancel_stalled_after", "must not be shorter than stall_after (\(settings.stallAfter.configText))")
        }
        settings.retryAfter = try section.duration("retry_after", default: defaults.retryAfter)
        settings.maxBackoff = try section.duration("max_backoff", default: defaults.maxBackoff)
        settings.errorHistory = try section.int("error_history", default: defaults.errorHistory, range: 1...10_000)
        settings.maxViewers = try section.int("max_viewers", default: defaults.maxViewers, range: 32...65_536)
        settings.maxViewersPerUser = try section.int("max_viewers_per_user", default: defaults.maxViewersPerUser, range: 1...65_536)
        settings.watchNetwork = try section.bool("watch_network", default: defaults.watchNetwork)
        try section.finish(expected: DaemonSettings.keys)
        return settings
    }

    private static func parseStore(_ name: String, _ section: ConfigSection, factories: [any ProviderFactory]) throws -> StoreConfig {
        guard !name.isEmpty, name.utf8.count <= 128, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw section.error(nil, "a store name may use letters, digits, '-', '_' and '.' (at most 128 bytes)")
        }
        let kinds = factories.map(\.name)
        let providerName = try section.requiredString("provider")
        guard let factory = factories.first(where: { $0.name == providerName }) else {
            throw section.error("provider", "unknown provider '\(providerName)'; known providers: \(kinds.joined(separator: ", "))")
        }
        let interval = try section.duration("interval")
        if let interval, interval < .seconds(1) { throw section.error("interval", "must be at least 1s") }
        var flags = SyncFlags.full
        if let names = try section.stringArray("flags") {
            flags = []
            for flagName in names {
                guard let flag = SyncFlags.names.first(where: { $0.name == flagName })?.flag else {
                    throw section.error("flags", "unknown flag '\(flagName)'; known: \(SyncFlags.names.map(\.name).joined(separator: ", "))")
                }
                flags.insert(flag)
            }
        }
        let runAtStartup = try section.bool("run_at_startup", default: true)
        let afterSync = try AfterSyncHook.Command(section)
        let provider = try factory.makeProvider(for: name, options: section)
        try section.finish(expected: StoreConfig.keys + factory.optionKeys)
        return StoreConfig(
            name: name, providerName: providerName, interval: interval, flags: flags, runAtStartup: runAtStartup,
            provider: provider, fingerprint: section.table.convert(), afterSync: afterSync)
    }
}

extension ConfigSection {
    func renamed(_ path: String) -> ConfigSection {
        ConfigSection(file: file, path: path, table: table, sourceMap: sourceMap)
    }

    /// Unknown top-level tables: only `[daemon]` and `[store.*]` exist.
    func finishTop() throws {
        for key in table.keys.sorted() where key != "daemon" && key != "store" {
            throw ConfigError(file: file, line: sourceMap.line(of: key), key: key,
                              "unknown table or key; the configuration has [daemon] and [store.NAME] tables")
        }
    }
}
