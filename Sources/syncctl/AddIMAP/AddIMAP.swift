#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import IMAPProvider
import SMTPProvider
import SyncDaemon
import SyncIPC
import SyncProtocol

extension Syncctl {
    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a store to the configuration without writing TOML.",
            subcommands: [IMAP.self])
    }
}

extension Syncctl.Add {
    struct IMAP: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "imap",
            abstract: "Add an IMAP account: guess its server, test the login, write a commented store, reload, sync.",
            discussion: """
                On a terminal it asks for what the flags leave out, each question with its guess in brackets (Enter takes it); a bad answer is said at once and asked again. Without a terminal (or with --yes) it takes the flags and the guesses, and fails naming the flag for anything it cannot guess.

                The server is guessed from the address's domain: the built-in presets (Gmail, Outlook.com and Microsoft 365, Fastmail), then DNS SRV records _imaps._tcp.DOMAIN and _imap._tcp.DOMAIN (RFC 6186), then a Mozilla-style autoconfig document (https://autoconfig.DOMAIN/mail/config-v1.1.xml, https://DOMAIN/.well-known/autoconfig/mail/config-v1.1.xml), then imap.DOMAIN. Each step says what it found.

                Before anything is written, it logs in as the daemon will and lists the folders; a refused login, an unreachable server or an untrusted certificate is said, and nothing is written. (A store with syncd's own OAuth2 login, --oauth2, is only connected to: it logs in with syncctl login NAME afterwards.) The new [store.NAME] table, with a comment on each key, is appended to the configuration (default: the one syncd reads: /etc/syncd/syncd.toml as root or with --system, else $XDG_CONFIG_HOME/syncd/syncd.toml), checked with the daemon's parser first (a store of that name is refused) and written atomically, keeping the rest of the file byte for byte and its mode. Then a running syncd is asked to reload, and the store's first sync runs as sync --wait does, unless --no-sync.

                Exit status: 0 added (and, unless --no-sync, synced cleanly; else as sync --wait); 1 the login failed or the file could not be written (nothing written); 64 a missing or bad flag.
                """)

        @Option(help: ArgumentHelp(
            "The socket of the daemon to reload.",
            discussion: "Default: the socket of the daemon whose configuration the store goes to: the system's (/run/syncd/syncd.sock) as root or with --system, else your own ($XDG_RUNTIME_DIR/syncd/syncd.sock)."))
        var socket: String?
        @Flag(help: "Add the store to the system daemon's configuration (/etc/syncd/syncd.toml) and reload that daemon.") var system = false
        @Argument(help: "The account's mail address (asked when left out).") var address: String?
        @Option(help: "The IMAP server (default: guessed from the address).") var host: String?
        @Option(help: "The server's port (default: 993 for tls, 143 otherwise).") var port: String?
        @Option(help: "tls, starttls or none (none: a loopback server only).") var security: String?
        @Option(help: "The login name (default: the address, or what autoconfig says).") var user: String?
        @Option(name: .customLong("password-file"), help: "Read the password from this file.") var passwordFile: String?
        @Option(name: .customLong("password-command"), help: "Run this command (split on spaces) for the password, e.g. 'pass show mail'.")
        var passwordCommand: String?
        @Option(name: .customLong("password-credential"), help: "Read the password from this systemd credential (LoadCredential=).")
        var passwordCredential: String?
        @Option(name: .customLong("token-command"), help: "Log in with OAuth2, the access token printed by this command (a token helper such as 'oama access ADDRESS').")
        var tokenCommand: String?
        @Option(help: "Log in with syncd's own OAuth2 client and this preset: microsoft or google (then syncctl login NAME).")
        var oauth2: String?
        @Option(name: .customLong("client-id"), help: "The OAuth2 client id you registered (with --oauth2).") var clientID: String?
        @Option(help: "With --oauth2 microsoft: common, consumers, organizations or a tenant id.") var tenant: String?
        @Option(name: .customLong("ca-file"), help: "Trust this CA (PEM) for the server's certificate instead of the system's roots.")
        var caFile: String?
        @Option(help: "Where the mail goes (default: ~/Mail/NAME, or /var/lib/syncd/mail/NAME for the system daemon).") var maildir: String?
        @Option(help: "The new store's name (default: from the domain).") var store: String?
        @Option(help: "Scheduled syncs this often (default: 15m).") var interval: String?
        @Option(help: "The configuration file to add the store to (default: the one syncd reads).") var config: String?
        @Option(help: "Ask this DNS server (an IPv4 address, optionally :PORT) for the SRV records instead of the system's.")
        var nameserver: String?
        @Option(help: "Read the server from this autoconfig document (a URL) instead of looking for one.") var autoconfig: String?
        @Flag(help: "Ask nothing: take the flags and the guesses, write, and sync.") var yes = false
        @Flag(name: .customLong("no-sync"), help: "Do not start the first sync.") var noSync = false

        func validate() throws {
            let sources = [passwordFile, passwordCommand, passwordCredential, tokenCommand, oauth2].compactMap { $0 }
            if sources.count > 1 {
                throw ValidationError("--password-file, --password-command, --password-credential, --token-command and --oauth2 exclude each other")
            }
            if let oauth2, !["microsoft", "google"].contains(oauth2) { throw ValidationError("--oauth2: expected microsoft or google") }
            if let nameserver, SRVLookup.nameserver(nameserver) == nil { throw ValidationError("--nameserver: expected ADDR or ADDR:PORT") }
        }

        func run() async throws {
            do {
                try await add()
            } catch let error as AddError {
                fail(error.description, status: error.description.hasPrefix("missing ") || error.description.hasPrefix("--") ? Exit.usage : Exit.refused)
            }
        }

        static let factories: [any ProviderFactory] = Daemon.factories + [IMAPFactory(), SMTPFactory()]

        private func add() async throws {
            let environment = ProcessInfo.processInfo.environment
            let locations = system ? DaemonLocations.system : DaemonLocations.forProcess(environment: environment)
            let path = config ?? locations.configFile
            let socketPath = socket ?? environment["SYNCD_SOCKET"] ?? locations.socket
            let file = try ConfigFile(path: path)
            var existing: Set<String> = []
            if file.exists {
                do {
                    existing = Set(try DaemonConfig.parse(String(decoding: file.original, as: UTF8.self), file: path, factories: Self.factories,
                                                         defaults: locations.defaultSettings).storeNames)
                } catch {
                    throw AddError("\(path) has a mistake already; fix it first (syncd --check): \(error)")
                }
            }
            let questions = Questions(interactive: isatty(STDIN_FILENO) == 1 && !yes)

            let address = try questions.ask("Mail address", given: self.address, guess: nil, flag: "ADDRESS (the argument)", check: Answer.address)
            let domain = String(address.split(separator: "@").last!).lowercased()
            let guess = try await discover(domain: domain, address: address)
            if let note = guess.note { Output.line("note: \(note)") }

            let host = try questions.ask("IMAP server", given: self.host, guess: guess.host, flag: "--host", check: Answer.host)
            let guessed = host == guess.host
            let security = try questions.ask(
                "Security (tls, starttls, none)", given: self.security, guess: guessed ? guess.security : "tls", flag: "--security",
                check: Answer.security(host: host))
            let port = try questions.ask(
                "Port", given: self.port, guess: guessed && guess.security == security ? "\(guess.port)" : (security == "tls" ? "993" : "143"),
                flag: "--port", check: Answer.port)
            let user = try questions.ask("User name", given: self.user, guess: guess.user ?? address, flag: "--user", check: Answer.nonEmpty("the user name"))

            let givenLogin: String? = if passwordFile != nil || passwordCommand != nil || passwordCredential != nil { "password" }
                else if tokenCommand != nil { "token-command" } else if oauth2 != nil { "oauth2" } else { nil }
            let login = try questions.ask(
                "Login (password, oauth2: syncd's own, token-command: a token helper)", given: givenLogin,
                guess: guessed ? guess.login.rawValue : "password", flag: "--password-file, --password-command or another login flag",
                check: Answer.login)

            var secret: NewIMAPStore.Secret?
            var issuer: String?
            var clientID: String?
            switch login {
            case .password:
                let given = passwordFile ?? passwordCredential.map { "credential:\($0)" } ?? passwordCommand
                if let passwordFile, !passwordFile.hasPrefix("/"), !passwordFile.hasPrefix("~") {
                    throw AddError("--password-file: expected an absolute path")
                }
                secret = try questions.ask(
                    "Password from (a file such as ~/.config/syncd/mail.pass, a command such as 'pass show mail', or credential:NAME)",
                    given: given, guess: nil, flag: "--password-file, --password-command or --password-credential") { text in
                        if passwordCommand != nil, text == passwordCommand { return Answer.command(text).map { .command($0) } }
                        return Answer.secret(text)
                    }
            case .tokenCommand:
                secret = try questions.ask(
                    "Token helper (a command that prints an access token)", given: tokenCommand,
                    guess: guess.oauth2Issuer == "google" ? "oama access \(address)" : nil, flag: "--token-command") { text in
                        Answer.command(text).map { .command($0) }
                    }
            case .oauth2:
                issuer = try questions.ask("OAuth2 preset (microsoft, google)", given: oauth2, guess: guess.oauth2Issuer ?? "microsoft", flag: "--oauth2") { text in
                    ["microsoft", "google"].contains(text) ? .success(text) : .failure(AddError("expected microsoft or google"))
                }
                clientID = try questions.ask("OAuth2 client id (README: \"OAuth2\" says how to register one)", given: self.clientID, guess: nil,
                                             flag: "--client-id", check: Answer.nonEmpty("the client id"))
            }

            let nameGuess = Self.storeName(domain: domain, user: address, existing: existing)
            let name = try questions.ask("Store name", given: store, guess: nameGuess, flag: "--store", check: Answer.storeName(existing: existing))
            let mailGuess = locations.scope == .system ? "/var/lib/syncd/mail/\(name)" : Answer.expandingTilde("~/Mail/\(name)")
            let maildir = try questions.ask("Maildir", given: self.maildir, guess: mailGuess, flag: "--maildir", check: Answer.maildir)
            let interval = try questions.ask("Sync every", given: self.interval, guess: "15m", flag: "--interval", check: Answer.interval)
            let caFile = try self.caFile.map { try Answer.file($0).get() }

            let new = NewIMAPStore(
                name: name, address: address, host: host, port: port, security: security, user: user,
                auth: login == .password ? "password" : "oauth2", secret: secret, oauth2Issuer: issuer, clientID: clientID,
                tenant: tenant, caFile: caFile, maildir: maildir, interval: interval)
            let section = StoreSection.text(new)
            let candidate = file.appending(section)
            let parsed: DaemonConfig
            do {
                parsed = try DaemonConfig.parse(String(decoding: candidate, as: UTF8.self), file: path, factories: Self.factories,
                                                defaults: locations.defaultSettings)
            } catch {
                throw AddError("the new store does not check out (nothing written): \(error)")
            }
            guard let provider = parsed.stores[name]?.provider as? IMAPProvider else { throw AddError("the new store is missing from the checked file") }

            Output.line("testing: logging in to \(host):\(port) as \(user)…")
            let folders: [String]
            do {
                folders = try await IMAPProvider.probe(provider.account)
            } catch let error as IMAPProbeError {
                let hint = error.kind == .tls && caFile == nil ? " (--ca-file FILE)" : ""
                throw AddError("\(error)\(hint); nothing written")
            }
            if login == .oauth2 {
                Output.line("reached \(host): the connection is secured and an OAuth2 login is offered; the login itself is syncctl login \(name)")
            } else {
                Output.line("logged in; \(folders.count) folder\(folders.count == 1 ? "" : "s"): \(Self.list(folders))")
            }

            if questions.interactive {
                Output.line("")
                Output.write(section)
                Output.line("")
                guard questions.confirm("Add this to \(path)?", default: true, otherwise: true) else {
                    Output.line("nothing written")
                    throw ExitCode(Exit.refused)
                }
            }
            try file.replace(with: candidate)
            Output.line("added [store.\(name)] to \(path)")
            if let made = try Self.makeMaildir(maildir) { Output.line("made \(made) (mode 0700)") }

            guard let client = try? await SyncClient.connect(to: socketPath, clientName: "syncctl") else {
                Output.line("syncd is not running at \(socketPath): it reads the new store when it starts")
                return
            }
            let reply = await request { try await client.send(.reload) }
            guard reply.status.isOK else {
                complain("reload: \(reply.message)")
                throw ExitCode(status(for: reply))
            }
            Output.line("syncd reloaded: \(reply.message)")
            let known = (try? await client.status(stores: [name])) != nil
            guard known else {
                complain("the syncd at \(socketPath) has no store \(name) after the reload: does it read another file than \(path)?")
                throw ExitCode(Exit.refused)
            }
            if login == .oauth2 {
                Output.line("next: syncctl login \(name) (the store waits for it)")
                return
            }
            guard !noSync, questions.confirm("Sync \(name) now?", default: true, otherwise: true) else {
                Output.line("the first sync comes within \(interval), or with: syncctl sync \(name) --wait")
                return
            }
            let code = await SyncWait(client: client, stores: [name], flags: [], json: false).run()
            throw ExitCode(code)
        }

        /// The server, from the first source that knows it; each step said in one line.
        private func discover(domain: String, address: String) async throws -> ServerGuess {
            let say: (String) -> Void = { Output.line($0) }
            if host != nil {
                return ServerGuess(host: host!, port: 993, security: "tls", source: "--host")
            }
            if let preset = ServerGuess.preset(domain: domain) {
                say("found \(preset.summary) in \(preset.source)")
                return preset
            }
            if let autoconfig {
                if let found = await ServerGuess.fromAutoconfig(urls: [autoconfig], address: address, say: say) {
                    say("found \(found.summary) in \(found.source)")
                    return found
                }
                throw AddError("--autoconfig: \(autoconfig) names no IMAP server")
            }
            let lookup = SRVLookup(nameserver: nameserver.flatMap(SRVLookup.nameserver))
            if let found = ServerGuess.fromSRV(domain: domain, lookup: lookup, say: say) {
                say("found \(found.summary) in \(found.source)")
                return found
            }
            if let found = await ServerGuess.fromAutoconfig(urls: Autoconfig.urls(address: address, domain: domain), address: address, say: say) {
                say("found \(found.summary) in \(found.source)")
                return found
            }
            let fallback = ServerGuess.conventional(domain: domain)
            say("guessing \(fallback.summary): \(fallback.source)")
            return fallback
        }

        /// Makes the Maildir's directory when it is missing (the store's first run needs it), with
        /// the owner of the nearest directory above that exists: root adding a store to the system
        /// daemon's /var/lib/syncd/mail makes it the daemon's user's, not root's.
        /// - Returns: the directory made, nil when it was there.
        static func makeMaildir(_ path: String) throws -> String? {
            guard !FileManager.default.fileExists(atPath: path) else { return nil }
            var parent = (path as NSString).deletingLastPathComponent
            while !FileManager.default.fileExists(atPath: parent), parent != "/" { parent = (parent as NSString).deletingLastPathComponent }
            var info = stat()
            guard stat(parent, &info) == 0 else { throw AddError("cannot look at \(parent): \(String(cString: strerror(errno)))") }
            var made: [String] = []
            var missing = path
            while missing != parent {
                made.insert(missing, at: 0)
                missing = (missing as NSString).deletingLastPathComponent
            }
            for directory in made {
                guard mkdir(directory, 0o700) == 0 || errno == EEXIST else {
                    throw AddError("the store is added, but \(directory) cannot be made: \(String(cString: strerror(errno)))")
                }
                _ = chown(directory, info.st_uid, info.st_gid)
            }
            return path
        }

        /// The domain's first label ("example" for example.org), made unique.
        static func storeName(domain: String, user: String, existing: Set<String>) -> String {
            let labels = domain.split(separator: ".")
            let generic = ["gmail", "googlemail", "outlook", "hotmail", "live", "fastmail", "mail"]
            var base = String(labels.first ?? "mail")
            if generic.contains(base) || labels.count < 2 {
                base = String(user.split(separator: "@").first ?? "mail")
            }
            base = String(base.filter { $0.isLetter || $0.isNumber || "-_.".contains($0) }.prefix(64))
            if base.isEmpty { base = "mail" }
            var name = base
            var n = 2
            while existing.contains(name) {
                name = "\(base)-\(n)"
                n += 1
            }
            return name
        }

        static func list(_ folders: [String]) -> String {
            folders.count <= 12 ? folders.joined(separator: ", ") : folders.prefix(12).joined(separator: ", ") + ", … (\(folders.count - 12) more)"
        }
    }
}

extension Exit {
    /// A missing or bad flag (EX_USAGE), as the argument parser exits.
    static let usage: Int32 = 64
}
