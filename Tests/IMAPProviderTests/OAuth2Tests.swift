#if canImport(Glibc)
import Glibc
#endif
import AsyncHTTPClient
import Foundation
import IMAPProvider
import MailServers
import NIOCore
import OAuth2
import SyncDaemon
import SyncIPC
import SyncProtocol
import TestSupport
import XCTest

/// OAuth2 login for real: the built syncd and syncctl, Dovecot's oauth2 passdb, and an
/// authorization server on loopback (tests/oauth2/server.py, on oauthlib) that implements the
/// device grant, refresh and the token introspection Dovecot asks. The test plays the user:
/// it approves the device code at the server's verification endpoint.
final class OAuth2Tests: XCTestCase {
    // MARK: First login, both mechanisms

    func testFirstLogin_throughSyncctl_thenSyncsWithOAUTHBEARER_andXOAUTH2() async throws {
        let server = try AuthorizationServer()
        let dovecot = try Dovecot(messages: 30, folders: "INBOX,Sent", oauth2Introspection: server.url + "/introspect")
        let setup = try OAuthDaemon(server: server, dovecot: dovecot, runAtStartup: true)
        try await setup.daemon.start()
        let client = try await setup.daemon.client()
        let (_, updates) = try await client.subscribe(stores: ["mail"])

        // Never logged in: the start-up run says so without asking anyone, and the store waits.
        let waiting = try await setup.waitForStatus(client) { $0.info.authRequired && $0.run == nil }
        XCTAssertEqual(waiting.info.lastResult, .authRequired)
        let history = try await client.errors(stores: ["mail"])
        XCTAssertTrue(history.contains { $0.code == .authRequired && $0.message == "not logged in yet: run syncctl login mail" }, "\(history)")
        let status = try setup.syncctl(["status"])
        XCTAssertTrue(status.output.contains("login-required"), status.output)
        XCTAssertTrue(status.output.contains("mail: needs a login: run syncctl login mail"), status.output)
        let refused = try setup.syncctl(["sync", "mail"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.output.contains("needs a login first: run syncctl login mail"), refused.output)
        let hits = try await server.stats()
        XCTAssertEqual(hits["token:refresh_token"] ?? 0, 0, "no token, nothing to refresh")

        // syncctl login: the URL and code, the user approves, syncctl sees the store logged in.
        let login = try setup.startSyncctl(["login", "mail"])
        let code = try await login.waitForUserCode()
        XCTAssertTrue(login.output().contains("open \(server.url)/device and enter \(code)"), login.output())
        try await server.approve(code, user: "alice")
        let exit = try await login.waitForExit()
        XCTAssertEqual(exit, 0, login.output())
        XCTAssertTrue(login.output().contains("mail: logged in"), login.output())

        // It syncs at once, with OAUTHBEARER (preferred when offered).
        let synced = try await events(from: updates, timeout: .seconds(60)) { $0.isDone && $0.doneResult != .authRequired }
        XCTAssertEqual(synced.last?.doneResult, .ok, "\(synced.map(\.kind))")
        XCTAssertEqual(try MailboxContents(maildirPlusPlus: setup.maildir).count, 30)
        XCTAssertTrue(try dovecot.log().contains("method=OAUTHBEARER"))

        // The refresh token is kept 0600 in the state directory and never logged.
        let file = setup.daemon.stateDirectory + "/oauth2/mail.json"
        var info = stat()
        XCTAssertEqual(stat(file, &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o600)
        var directory = stat()
        XCTAssertEqual(stat(setup.daemon.stateDirectory + "/oauth2", &directory), 0)
        XCTAssertEqual(directory.st_mode & 0o777, 0o700)
        let tokens = try JSONDecoder().decode(StoredTokens.self, from: Data(contentsOf: URL(fileURLWithPath: file)))
        XCTAssertFalse(setup.daemon.stderr.contains(tokens.refreshToken))
        XCTAssertFalse(setup.daemon.stderr.contains(tokens.accessToken ?? "-"))
        XCTAssertFalse(login.output().contains(tokens.refreshToken))

        // XOAUTH2 when asked for.
        try setup.writeConfig(sasl: "XOAUTH2")
        XCTAssertEqual(try setup.syncctl(["reload"]).status, 0)
        let again = try await setup.syncAndWait(client, updates)
        XCTAssertEqual(again.last?.doneResult, .ok, "\(again.map(\.kind))")
        XCTAssertTrue(try dovecot.log().contains("method=XOAUTH2"))
        await client.close()
    }

    // MARK: Refresh

    func testExpiredAccessToken_isRefreshedBeforeLoggingIn() async throws {
        let server = try AuthorizationServer()
        try await server.configure(["access_lifetime": 2])
        let dovecot = try Dovecot(messages: 5, folders: "INBOX", oauth2Introspection: server.url + "/introspect")
        let setup = try OAuthDaemon(server: server, dovecot: dovecot)
        try await setup.daemon.start()
        let client = try await setup.daemon.client()
        let (_, updates) = try await client.subscribe(stores: ["mail"])
        try await setup.logIn(client, updates)
        try await Task.sleep(for: .seconds(3))  // the access token from the login has expired

        let run = try await setup.syncAndWait(client, updates)
        XCTAssertEqual(run.last?.doneResult, .ok, "\(run.map(\.kind))")
        let hits = try await server.stats()
        XCTAssertEqual(hits["token:refresh_token"], 1, "\(hits)")
        XCTAssertEqual(hits["introspect_inactive"] ?? 0, 0, "the expired token was never sent: \(hits)")
        await client.close()
    }

    func testTokenRefusedMidRun_isRefreshedOnce_andTheLoginRetried() async throws {
        let server = try AuthorizationServer()
        let dovecot = try Dovecot(messages: 5, folders: "INBOX", oauth2Introspection: server.url + "/introspect")
        let setup = try OAuthDaemon(server: server, dovecot: dovecot)
        try await setup.daemon.start()
        let client = try await setup.daemon.client()
        let (_, updates) = try await client.subscribe(stores: ["mail"])
        try await setup.logIn(client, updates)
        // The server stops honouring the access token it issued an hour's life (revoked, or a
        // clock that disagrees): syncd still thinks it good, sends it, and is refused.
        try await server.post("/test/expire-access", [:])

        let run = try await setup.syncAndWait(client, updates)
        XCTAssertEqual(run.last?.doneResult, .ok, "\(run.map(\.kind))")
        XCTAssertFalse(run.contains { if case .error = $0.kind { true } else { false } }, "a refresh that works is no error")
        let hits = try await server.stats()
        XCTAssertEqual(hits["token:refresh_token"], 1, "one refresh: \(hits)")
        XCTAssertEqual(hits["introspect_inactive"], 1, "the old token was refused once: \(hits)")
        XCTAssertTrue(setup.daemon.stderr.contains("refused the access token"), setup.daemon.stderr)
        await client.close()
    }

    /// After a resume the run and each push connection want a token at once: one refresh, its
    /// token for all, and the login kept (a second refresh with the rotated-away token would be
    /// refused, and the token file forgotten).
    func testConcurrentRefreshes_withRotatingRefreshTokens_areOneRefresh_andTheLoginIsKept() async throws {
        let server = try AuthorizationServer()
        try await server.configure(["access_lifetime": 3, "rotate_refresh": true])
        let configuration = OAuth2Configuration(
            tokenURL: server.url + "/token", deviceAuthorizationURL: server.url + "/device_authorization",
            clientID: AuthorizationServer.clientID, scopes: ["mail"])
        let client = OAuth2Client(configuration: configuration, clientSecret: AuthorizationServer.clientSecret, timeout: .seconds(10))
        let file = TokenFile(stateDirectory: server.directory, store: "mail")
        let device = try await client.startDeviceAuthorization()
        try await server.approve(device.userCode, user: "alice")
        try OAuth2Tokens(client: client, file: file).store(try await client.pollForToken(device))
        try await Task.sleep(for: .seconds(4))  // the login's access token has expired

        let tokens = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<4 { group.addTask { try await OAuth2Tokens(client: client, file: file).accessToken().token } }
            var tokens: [String] = []
            for try await token in group { tokens.append(token) }
            return tokens
        }
        XCTAssertEqual(tokens.count, 4)
        XCTAssertEqual(Set(tokens).count, 1, "one refreshed token for all")
        let hits = try await server.stats()
        XCTAssertEqual(hits["token:refresh_token"], 1, "\(hits)")
        XCTAssertNotNil(try file.load(), "the login is kept")
    }

    // MARK: A refused refresh token

    func testRevokedRefreshToken_waitsForLogin_withoutRetrying_thenLogsInAgain() async throws {
        let server = try AuthorizationServer()
        let dovecot = try Dovecot(messages: 3, folders: "INBOX", oauth2Introspection: server.url + "/introspect")
        let setup = try OAuthDaemon(server: server, dovecot: dovecot, interval: "1s")
        try await setup.daemon.start()
        let client = try await setup.daemon.client()
        let (_, updates) = try await client.subscribe(stores: ["mail"])
        try await setup.logIn(client, updates)
        // The user changed the password: every token is void.
        try await server.post("/test/revoke-refresh", [:])
        try await server.post("/test/expire-access", [:])

        // The next scheduled run (the interval is a second) finds out.
        let run = try await events(from: updates, timeout: .seconds(30)) { $0.doneResult == .authRequired }
        XCTAssertTrue(run.contains { if case .error(.authRequired, let text) = $0.kind { text.contains("refresh token was refused") } else { false } },
                      "\(run.map(\.kind))")
        let before = try await server.stats()
        XCTAssertEqual(before["token:refresh_token"], 1, "the refused refresh is the only one: \(before)")
        XCTAssertEqual(before["introspect_inactive"], 1, "\(before)")
        // Every second is its interval, yet nothing runs and nobody is asked again.
        try await Task.sleep(for: .seconds(5))
        let after = try await server.stats()
        XCTAssertEqual(after, before, "no retry storm")
        let snapshot = try await client.status(stores: ["mail"])
        XCTAssertEqual(snapshot.stores.first?.info.authRequired, true)
        XCTAssertNil(snapshot.stores.first?.run)
        XCTAssertFalse(FileManager.default.fileExists(atPath: setup.daemon.stateDirectory + "/oauth2/mail.json"), "a refused token is forgotten")

        let status = try setup.syncctl(["status"])
        XCTAssertTrue(status.output.contains("mail: needs a login: run syncctl login mail"), status.output)
        let show = try setup.syncctl(["show", "mail"])
        XCTAssertTrue(show.output.contains("required: run syncctl login mail"), show.output)
        let json = try setup.syncctl(["status", "--json"])
        XCTAssertTrue(json.output.contains(#""auth_required" : true"#), json.output)
        XCTAssertTrue(json.output.contains(#""state" : "login-required""#), json.output)

        // A restart remembers it: no start-up run either.
        setup.daemon.signal(SIGTERM)
        _ = try await setup.daemon.waitForExit()
        try await setup.daemon.start()
        try await Task.sleep(for: .seconds(2))
        let restarted = try await server.stats()
        XCTAssertEqual(restarted["token:refresh_token"], after["token:refresh_token"], "\(restarted)")
        let client2 = try await setup.daemon.client()
        let (_, updates2) = try await client2.subscribe(stores: ["mail"])
        let remembered = try await client2.status(stores: ["mail"])
        XCTAssertEqual(remembered.stores.first?.info.authRequired, true)

        // Logging in again brings it back (logIn checks the run that follows).
        try await setup.logIn(client2, updates2)
        await client.close()
        await client2.close()
    }

    // MARK: The device grant's answers

    func testDeclinedLogin_failsWithAReason_andSlowDownIsHonoured() async throws {
        let server = try AuthorizationServer()
        let dovecot = try Dovecot(messages: 0, oauth2Introspection: server.url + "/introspect")
        let setup = try OAuthDaemon(server: server, dovecot: dovecot)
        try await setup.daemon.start()

        try await server.configure(["slow_down": 1])
        let declined = try setup.startSyncctl(["login", "mail"])
        let code = try await declined.waitForUserCode()
        try await server.approve(code, user: "alice", action: "deny")
        let declinedExit = try await declined.waitForExit()
        XCTAssertEqual(declinedExit, 1, declined.output())
        XCTAssertTrue(declined.output().contains("login failed: the login was declined"), declined.output())
        let hits = try await server.stats()
        XCTAssertEqual(hits["slow_down"], 1)
        XCTAssertEqual(hits["token_refused:slow_down"], 1)

        // A store that logs in with a password has no login.
        try setup.daemon.writeConfig(setup.daemon.configText
            + "\n[store.plain]\nprovider = \"imap\"\nhost = \"127.0.0.1\"\nsecurity = \"none\"\nuser = \"alice\"\npassword = { file = \"/dev/null\" }\nmaildir = \"/tmp/nowhere\"\nrun_at_startup = false\n")
        XCTAssertEqual(try setup.syncctl(["reload"]).status, 0)
        let none = try setup.syncctl(["login", "plain"])
        XCTAssertEqual(none.status, 1)
        XCTAssertTrue(none.output.contains("logs in with a password"), none.output)
    }

    // MARK: A token helper

    func testTokenFromAHelper_andARefusedTokenExplained() async throws {
        let server = try AuthorizationServer()
        let dovecot = try Dovecot(messages: 4, folders: "INBOX", oauth2Introspection: server.url + "/introspect")
        let token = try await server.deviceLogin(user: "alice")
        let daemon = try DaemonProcess(config: "")
        try token.write(toFile: daemon.directory + "/token", atomically: true, encoding: .utf8)
        try daemon.writeConfig("""
            [store.mail]
            provider = "imap"
            host = "127.0.0.1"
            port = \(dovecot.plainPort)
            security = "none"
            user = "alice"
            auth = "oauth2"
            password = { command = ["cat", "\(daemon.directory)/token"] }
            maildir = "\(daemon.directory)/mail"
            run_at_startup = false
            """)
        try await daemon.start()
        let client = try await daemon.client()
        let (_, updates) = try await client.subscribe(stores: ["mail"])
        _ = try await client.send(.syncNow(store: "mail", flags: []))
        let good = try await events(from: updates, timeout: .seconds(60)) { $0.isDone }
        XCTAssertEqual(good.last?.doneResult, .ok, "\(good.map(\.kind))")
        XCTAssertEqual(try MailboxContents(maildirPlusPlus: daemon.directory + "/mail").count, 4)

        // A helper's token that the server refuses: auth-failed, the server's JSON in words, and
        // the token itself nowhere in what is reported.
        try await server.post("/test/expire-access", [:])
        _ = try await client.send(.syncNow(store: "mail", flags: []))
        let bad = try await events(from: updates, timeout: .seconds(60)) { $0.isDone }
        XCTAssertEqual(bad.last?.doneResult, .authFailed)
        let messages = bad.compactMap { if case .error(_, let text) = $0.kind { text } else { nil } }
        XCTAssertTrue(messages.contains { $0.contains("the server refused the OAuth2 token: the access token is invalid or has expired") }, "\(messages)")
        XCTAssertFalse(messages.joined().contains(token))
        XCTAssertFalse(daemon.stderr.contains(token))
        await client.close()
    }

    // MARK: Configuration

    func testConfiguration_mistakesAreNamed() throws {
        func check(_ store: String) throws -> String {
            let file = NSTemporaryDirectory() + "oauth2-config-\(UInt32.random(in: 0...UInt32.max)).toml"
            defer { try? FileManager.default.removeItem(atPath: file) }
            try ("[store.mail]\nprovider = \"imap\"\nhost = \"imap.example.org\"\nuser = \"me@example.org\"\nmaildir = \"/tmp/m\"\n" + store)
                .write(toFile: file, atomically: true, encoding: .utf8)
            do {
                _ = try DaemonConfig.load(file: file, factories: [IMAPFactory()])
                return "ok"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertEqual(try check("[store.mail.oauth2]\nissuer = \"google\"\nclient_id = \"x.apps.googleusercontent.com\"\nclient_secret = { file = \"/etc/syncd/g\" }\n"), "ok")
        XCTAssertEqual(try check("oauth2 = { issuer = \"microsoft\", tenant = \"consumers\", client_id = \"0000\" }\n"), "ok")
        XCTAssertEqual(try check("auth = \"oauth2\"\npassword = { command = [\"oama\", \"access\", \"me@gmail.com\"] }\n"), "ok")
        XCTAssertTrue(try check("[store.mail.oauth2]\nissuer = \"yahoo\"\nclient_id = \"x\"\n").contains("store.mail.oauth2.issuer: unknown issuer 'yahoo'"))
        XCTAssertTrue(try check("[store.mail.oauth2]\nclient_id = \"x\"\ntoken_url = \"http://auth.example.org/token\"\n").contains("store.mail.oauth2.token_url: expected an https:// URL"))
        XCTAssertTrue(try check("[store.mail.oauth2]\nclient_id = \"x\"\ntoken_url = \"https://a.example/t\"\ndevice_authorization_url = \"https://a.example/d\"\n").contains("store.mail.oauth2.scopes: is required"))
        XCTAssertTrue(try check("password = { file = \"/p\" }\n[store.mail.oauth2]\nissuer = \"google\"\nclient_id = \"x\"\n").contains("store.mail.password: with an oauth2 table"))
        XCTAssertTrue(try check("auth = \"oauth2\"\n").contains("store.mail.auth: oauth2 needs an oauth2 table"))
        XCTAssertTrue(try check("[store.mail.oauth2]\nissuer = \"google\"\nclient_id = \"x\"\nclientid = \"y\"\n").contains("store.mail.oauth2.clientid: unknown key"))
        XCTAssertTrue(try check("password = { file = \"/p\" }\nsasl_mechanism = \"XOAUTH2\"\n").contains("store.mail.sasl_mechanism: is for auth = \"oauth2\""))
    }
}

// MARK: - The pieces

/// tests/oauth2/server.py, started on a port of its own and stopped by its pid.
final class AuthorizationServer {
    let directory: String
    let pid: pid_t
    let url: String
    static let clientID = "syncd-test"
    static let clientSecret = "test-secret"

    init() throws {
        let run = ProcessInfo.processInfo.environment["SYNCD_TEST_RUN"].map { $0 + "-" } ?? ""
        directory = "/tmp/oauth2-\(run)\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"),
              runTool("/usr/bin/python3", ["-c", "import oauthlib"]).status == 0 else {
            throw TestError("/usr/bin/python3 with oauthlib is needed: run scripts/test (it installs python3-oauthlib)")
        }
        guard let pid = startTool("/usr/bin/python3", [Dovecot.repository.path + "/tests/oauth2/server.py", directory + "/port"],
                                  outputFile: directory + "/server.log") else {
            throw TestError("cannot start tests/oauth2/server.py")
        }
        self.pid = pid
        let deadline = Date().addingTimeInterval(20)
        var port: String?
        while Date() < deadline {
            if let text = try? String(contentsOfFile: directory + "/port", encoding: .utf8) {
                port = text.trimmingCharacters(in: .whitespacesAndNewlines)
                break
            }
            usleep(20_000)
        }
        guard let port else {
            kill(pid, SIGKILL)
            _ = waitForTool(pid)
            throw TestError("tests/oauth2/server.py did not start: \((try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? "")")
        }
        url = "http://127.0.0.1:\(port)"
    }

    deinit {
        kill(pid, SIGTERM)
        _ = waitForTool(pid)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// POSTs a form (or a JSON body) and returns the answer's JSON.
    @discardableResult
    func post(_ path: String, _ form: [String: String], json: [String: Any]? = nil) async throws -> [String: Any] {
        var request = HTTPClientRequest(url: url + path)
        request.method = .POST
        if let json {
            request.body = .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: json)))
        } else {
            let body = form.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0.value)" }
                .joined(separator: "&")
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        return (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] ?? [:]
    }

    func configure(_ settings: [String: Any]) async throws {
        try await post("/test/config", [:], json: settings)
    }

    /// How often each endpoint and grant type was asked, and refused.
    func stats() async throws -> [String: Int] {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url + "/test/stats"), timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        let json = try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any] ?? [:]
        return json.compactMapValues { ($0 as? NSNumber)?.intValue }
    }

    /// What the user does in the browser: enters the code and allows (or denies) the login.
    func approve(_ code: String, user: String, action: String = "approve") async throws {
        let answer = try await post("/device", ["user_code": code, "user": user, "action": action])
        guard answer["ok"] as? Bool == true else { throw TestError("the server did not take the code \(code): \(answer)") }
    }

    /// A whole device login done by the test itself (as a token helper would): the access token.
    func deviceLogin(user: String) async throws -> String {
        let device = try await post("/device_authorization", ["client_id": Self.clientID, "scope": "mail"])
        guard let code = device["device_code"] as? String, let userCode = device["user_code"] as? String else {
            throw TestError("no device code: \(device)")
        }
        try await approve(userCode, user: user)
        let token = try await post("/token", [
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": code,
            "client_id": Self.clientID, "client_secret": Self.clientSecret,
        ])
        guard let access = token["access_token"] as? String else { throw TestError("no token: \(token)") }
        return access
    }
}

/// A syncd whose store `mail` logs in to the Dovecot with syncd's own OAuth2 client.
struct OAuthDaemon {
    let daemon: DaemonProcess
    let server: AuthorizationServer
    let dovecot: Dovecot
    let interval: String?
    let runAtStartup: Bool
    var maildir: String { daemon.directory + "/mail" }

    init(server: AuthorizationServer, dovecot: Dovecot, runAtStartup: Bool = false, interval: String? = nil) throws {
        self.server = server
        self.dovecot = dovecot
        self.interval = interval
        self.runAtStartup = runAtStartup
        daemon = try DaemonProcess(config: "")
        try AuthorizationServer.clientSecret.write(toFile: daemon.directory + "/client-secret", atomically: true, encoding: .utf8)
        try writeConfig()
    }

    func writeConfig(sasl: String? = nil) throws {
        try daemon.writeConfig("""
            [daemon]
            retry_after = "1s"

            [store.mail]
            provider = "imap"
            host = "127.0.0.1"
            port = \(dovecot.plainPort)
            security = "none"
            user = "alice"
            auth = "oauth2"
            maildir = "\(maildir)"
            run_at_startup = \(runAtStartup)
            \(interval.map { "interval = \"\($0)\"" } ?? "")
            \(sasl.map { "sasl_mechanism = \"\($0)\"" } ?? "")

            [store.mail.oauth2]
            token_url = "\(server.url)/token"
            device_authorization_url = "\(server.url)/device_authorization"
            client_id = "\(AuthorizationServer.clientID)"
            client_secret = { file = "\(daemon.directory)/client-secret" }
            scopes = ["mail"]
            """)
    }

    /// Runs syncctl against this daemon to completion.
    func syncctl(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let (status, output) = runTool(try builtProduct("syncctl"), arguments + ["--socket", daemon.socket], mergeStandardError: true)
        return (status, output)
    }

    func startSyncctl(_ arguments: [String]) throws -> RunningTool {
        let file = daemon.directory + "/syncctl-\(UInt32.random(in: 0...UInt32.max)).log"
        guard let pid = startTool(try builtProduct("syncctl"), arguments + ["--socket", daemon.socket], outputFile: file) else {
            throw TestError("cannot start syncctl")
        }
        return RunningTool(pid: pid, file: file)
    }

    /// A login through the daemon's API, as syncctl login does it, approved by the test.
    func logIn(_ client: SyncClient, _ updates: AsyncThrowingStream<ViewerUpdate, Error>) async throws {
        let reply = try await client.send(.login(store: "mail"))
        XCTAssertEqual(reply.status, .ok, reply.message)
        guard let code = RunningTool.userCode(in: reply.message) else { throw TestError("no code in \(reply.message)") }
        try await server.approve(code, user: "alice")
        _ = try await events(from: updates, timeout: .seconds(30)) { event in
            if case .storeChanged(let info) = event.kind { return !info.authRequired }
            if case .error(let code, let message) = event.kind, code.isFailure, event.run == 0 {
                XCTFail("login failed: \(message)")
                return true
            }
            return false
        }
        // A login is followed by a run at once.
        let run = try await events(from: updates, timeout: .seconds(60)) { $0.isDone }
        XCTAssertEqual(run.last?.doneResult, .ok, "the run after the login: \(run.map(\.kind))")
    }

    /// Polls the store's status until `condition` holds.
    func waitForStatus(_ client: SyncClient, timeout: Duration = .seconds(20), _ condition: (StoreStatus) -> Bool) async throws -> StoreStatus {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let store = try await client.status(stores: ["mail"]).stores.first, condition(store) { return store }
            guard ContinuousClock.now < deadline else { throw TestError("the store's status never became what the test waits for") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    func syncAndWait(_ client: SyncClient, _ updates: AsyncThrowingStream<ViewerUpdate, Error>) async throws -> [SyncEvent] {
        let reply = try await client.send(.syncNow(store: "mail", flags: []))
        XCTAssertFalse(reply.status.isFailure, reply.message)
        return try await events(from: updates, timeout: .seconds(60)) { $0.isDone }
    }
}

/// A tool started in the background, its stdout and stderr in a file.
final class RunningTool {
    let pid: pid_t
    let file: String
    private var status: Int32?

    init(pid: pid_t, file: String) {
        self.pid = pid
        self.file = file
    }

    deinit {
        if status == nil {
            kill(pid, SIGKILL)
            _ = waitForTool(pid)
        }
    }

    func output() -> String {
        (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
    }

    /// "ABCD-EFGH" out of "open URL and enter ABCD-EFGH".
    static func userCode(in text: String) -> String? {
        guard let range = text.range(of: "and enter ") else { return nil }
        let code = text[range.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "-" }
        return code.isEmpty ? nil : String(code)
    }

    func waitForUserCode(timeout: Duration = .seconds(20)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let code = Self.userCode(in: output()) { return code }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestError("no code shown: \(output())")
    }

    func waitForExit(timeout: Duration = .seconds(30)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            var raw: Int32 = 0
            let done = waitpid(pid, &raw, WNOHANG)
            if done == pid {
                let code = raw & 0x7f == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
                status = code
                return code
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestError("syncctl did not exit: \(output())")
    }
}

extension Dovecot {
    func log() throws -> String {
        try String(contentsOfFile: directory + "/log/dovecot.log", encoding: .utf8)
    }
}

extension DaemonProcess {
    var configText: String { (try? String(contentsOfFile: configPath, encoding: .utf8)) ?? "" }
}
