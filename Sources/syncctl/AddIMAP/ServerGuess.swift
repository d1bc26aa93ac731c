/// Where an address's IMAP server probably is, and how it logs in, before anyone is asked.
struct ServerGuess: Equatable, Sendable {
    enum Login: String, Sendable {
        /// A password (or app password) from a secret source.
        case password
        /// OAuth2 with syncd's own client (`syncctl login`): an `oauth2` table with a preset.
        case oauth2
        /// OAuth2 with a token helper: `auth = "oauth2"`, `password = { command = [...] }`.
        case tokenCommand = "token-command"
    }

    var host: String
    var port: Int
    /// `tls`, `starttls` or `none`.
    var security: String
    var login: Login = .password
    /// The OAuth2 preset (`microsoft`, `google`) for ``Login/oauth2``.
    var oauth2Issuer: String?
    /// The login name, when the source says (autoconfig's `username`).
    var user: String?
    /// What the person should know about this provider, said once.
    var note: String?
    /// Where the guess came from, for the one line that says it.
    var source: String

    /// The providers everybody knows, by their mail domains.
    static func preset(domain: String) -> ServerGuess? {
        switch domain.lowercased() {
        case "gmail.com", "googlemail.com":
            return ServerGuess(
                host: "imap.gmail.com", port: 993, security: "tls", login: .tokenCommand, oauth2Issuer: "google",
                note: "Gmail takes no passwords over IMAP: it needs OAuth2, most simply through a token helper such as oama (`oama access ADDRESS`), see README's \"OAuth2\" section",
                source: "the built-in preset for Gmail")
        case "outlook.com", "hotmail.com", "live.com", "msn.com", "office365.com", "outlook.office365.com":
            return ServerGuess(
                host: "outlook.office365.com", port: 993, security: "tls", login: .oauth2, oauth2Issuer: "microsoft",
                note: "Microsoft takes no passwords over IMAP: the store logs in with OAuth2 (the microsoft preset); register a client once and give its id (README: \"OAuth2\"), then run syncctl login",
                source: "the built-in preset for Outlook.com and Microsoft 365")
        case "fastmail.com", "fastmail.fm":
            return ServerGuess(
                host: "imap.fastmail.com", port: 993, security: "tls",
                note: "Fastmail needs an app password (Settings → Privacy & Security → App passwords), not your account's password",
                source: "the built-in preset for Fastmail")
        default:
            return nil
        }
    }

    /// RFC 6186: `_imaps._tcp` (TLS) before `_imap._tcp` (STARTTLS), the best record of each.
    static func fromSRV(domain: String, lookup: SRVLookup, say: (String) -> Void) -> ServerGuess? {
        for (service, security) in [("_imaps._tcp", "tls"), ("_imap._tcp", "starttls")] {
            let name = "\(service).\(domain)"
            let records: [SRVRecord]
            do {
                records = try lookup.records(name)
            } catch {
                say("DNS SRV \(name): \(error)")
                return nil
            }
            // A target of "." says the service is not offered (RFC 6186 §3.4).
            guard let best = records.first(where: { !$0.target.isEmpty && $0.port > 0 }) else { continue }
            return ServerGuess(host: best.target, port: Int(best.port), security: security,
                               source: "DNS SRV \(name)")
        }
        say("no DNS SRV record for _imaps._tcp.\(domain) or _imap._tcp.\(domain)")
        return nil
    }

    /// The first autoconfig document among `urls` that names an IMAP server.
    static func fromAutoconfig(urls: [String], address: String, say: (String) -> Void) async -> ServerGuess? {
        for url in urls {
            do {
                guard let server = try await Autoconfig.fetch(url, address: address) else {
                    say("no autoconfig at \(url)")
                    continue
                }
                let security: String
                switch server.security.uppercased() {
                case "STARTTLS": security = "starttls"
                case "PLAIN": security = "none"
                default: security = "tls"
                }
                let oauth2 = server.authentication.contains { $0.lowercased() == "oauth2" }
                    && !server.authentication.contains { $0.lowercased().hasPrefix("password") }
                return ServerGuess(
                    host: server.host, port: server.port > 0 ? server.port : (security == "tls" ? 993 : 143), security: security,
                    login: oauth2 ? .tokenCommand : .password, user: server.user, source: "autoconfig \(url)")
            } catch {
                say("autoconfig: \(error)")
            }
        }
        return nil
    }

    /// `imap.DOMAIN` on 993: what most providers use, when nothing said otherwise.
    static func conventional(domain: String) -> ServerGuess {
        ServerGuess(host: "imap.\(domain)", port: 993, security: "tls", source: "a guess (imap.\(domain), the usual name)")
    }

    var summary: String {
        let label = ["tls": "TLS", "starttls": "STARTTLS", "none": "no encryption"][security] ?? security
        return "\(host):\(port) (\(label))"
    }
}
