import SyncProtocol
import TestSupport
import XCTest
@testable import SyncDaemon

final class ConfigTests: XCTestCase {
    let factories: [any ProviderFactory] = [SyntheticFactory()]

    private func parse(_ text: String) throws -> DaemonConfig {
        try DaemonConfig.parse(text, file: "/etc/syncd/syncd.toml", factories: factories)
    }

    private func error(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> ConfigError? {
        do {
            _ = try parse(text)
            XCTFail("accepted a broken config", file: file, line: line)
            return nil
        } catch let error as ConfigError {
            return error
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
            return nil
        }
    }

    func testValidConfig_readsDaemonSettingsAndStores() throws {
        let config = try parse("""
            [daemon]
            socket = "/tmp/s.sock"
            max_concurrent_runs = 3
            stall_after = "30s"
            cancel_stalled_after = "2m"

            [store.mail]
            provider = "synthetic"
            interval = "15m"
            flags = ["download-hierarchy", "download-contents"]
            steps = 10

            [store.notes]
            provider = "synthetic"
            run_at_startup = false
            """)
        XCTAssertEqual(config.settings.socket, "/tmp/s.sock")
        XCTAssertEqual(config.settings.maxConcurrentRuns, 3)
        XCTAssertEqual(config.settings.stallAfter, .seconds(30))
        XCTAssertEqual(config.settings.cancelStalledAfter, .seconds(120))
        XCTAssertEqual(config.storeNames, ["mail", "notes"])
        XCTAssertEqual(config.stores["mail"]?.interval, .seconds(900))
        XCTAssertEqual(config.stores["mail"]?.flags, [.downloadHierarchy, .downloadContents])
        XCTAssertEqual((config.stores["mail"]?.provider as? SyntheticProvider)?.steps, 10)
        XCTAssertNil(config.stores["notes"]?.interval, "no interval: on demand only")
        XCTAssertEqual(config.stores["notes"]?.runAtStartup, false)
        XCTAssertEqual(config.stores["notes"]?.flags, .full)
    }

    func testUnknownKey_namesFileLineAndKnownKeys() {
        let error = error("""
            [store.mail]
            provider = "synthetic"
            intervall = "5m"
            """)
        XCTAssertEqual(error?.line, 3)
        XCTAssertEqual(error?.key, "store.mail.intervall")
        XCTAssertTrue(error?.description.hasPrefix("/etc/syncd/syncd.toml:3: store.mail.intervall: unknown key; known keys: provider, interval") ?? false, error?.description ?? "")
    }

    func testUnknownProvider_listsKnownOnes() {
        let error = error("""
            # mail
            [store.mail]
            provider = "imapp"
            """)
        XCTAssertEqual(error?.description, "/etc/syncd/syncd.toml:3: store.mail.provider: unknown provider 'imapp'; known providers: synthetic")
    }

    func testWrongTypes_sayWhatWasExpected() {
        XCTAssertEqual(error("[store.a]\nprovider = \"synthetic\"\ninterval = \"soon\"")?.description,
                       "/etc/syncd/syncd.toml:3: store.a.interval: expected a duration such as \"90s\", \"15m\" or \"2h\", got \"soon\"")
        XCTAssertEqual(error("[daemon]\nmax_concurrent_runs = \"2\"")?.description,
                       "/etc/syncd/syncd.toml:2: daemon.max_concurrent_runs: expected an integer, got string")
        XCTAssertEqual(error("[daemon]\nmax_concurrent_runs = 0")?.message, "0 is out of range 1...1024")
        XCTAssertEqual(error("[store.a]\nprovider = \"synthetic\"\nflags = [\"download\"]")?.key, "store.a.flags")
        XCTAssertEqual(error("[store.a]\nsteps = 3")?.description, "/etc/syncd/syncd.toml:1: store.a.provider: is required")
    }

    func testSyntaxError_namesTheLine() {
        let error = error("[daemon]\nsocket = \"/x\"\n[store.a\nprovider = 1")
        XCTAssertEqual(error?.line, 3)
        XCTAssertTrue(error?.message.hasPrefix("not valid TOML") ?? false)
    }

    func testUnknownTopLevelTable_isAnError() {
        XCTAssertEqual(error("[stores.mail]\nprovider = \"synthetic\"")?.description,
                       "/etc/syncd/syncd.toml:1: stores: unknown table or key; the configuration has [daemon] and [store.NAME] tables")
    }

    func testStallLimits_mustBeOrdered() {
        XCTAssertEqual(error("[daemon]\nstall_after = \"5m\"\ncancel_stalled_after = \"1m\"")?.key, "daemon.cancel_stalled_after")
    }

    func testPlainTextSecret_isRefused() throws {
        let section = try XCTUnwrap(
            ConfigSection(file: "f", path: "store.a", table: .init(string: "password = \"hunter2\""), sourceMap: SourceMap(text: "password = \"hunter2\"")))
        XCTAssertThrowsError(try section.secret("password")) { error in
            XCTAssertFalse("\(error)".contains("hunter2"), "the secret itself never appears in errors")
            XCTAssertTrue("\(error)".contains("not written in the config"))
        }
    }

    func testSecretSources_resolve() throws {
        let directory = NSTemporaryDirectory() + "secrets-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "s3cret\n".write(toFile: directory + "/imap", atomically: true, encoding: .utf8)
        XCTAssertEqual(try SecretSource.credential("imap").resolve(environment: ["CREDENTIALS_DIRECTORY": directory]), "s3cret")
        XCTAssertEqual(try SecretSource.file(directory + "/imap").resolve(), "s3cret")
        XCTAssertEqual(try SecretSource.command(["echo", "from-command"]).resolve(), "from-command")
        XCTAssertThrowsError(try SecretSource.credential("imap").resolve(environment: [:])) { error in
            XCTAssertTrue("\(error)".contains("CREDENTIALS_DIRECTORY is not set"))
        }
        XCTAssertThrowsError(try SecretSource.command(["false"]).resolve()) { error in
            XCTAssertEqual("\(error)", "command 'false' exited with status 1")
        }
    }

    func testDurations() {
        XCTAssertEqual(Duration(configText: "90s"), .seconds(90))
        XCTAssertEqual(Duration(configText: "1h30m"), .seconds(5400))
        XCTAssertEqual(Duration(configText: "500ms"), .milliseconds(500))
        XCTAssertNil(Duration(configText: "5 parsecs"))
        XCTAssertEqual(Duration.seconds(5400).configText, "1h30m")
    }
}
