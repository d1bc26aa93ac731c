import Foundation

/// An imap store's settings as `syncctl add imap` gathered them.
struct NewIMAPStore: Sendable {
    enum Secret: Sendable, Equatable {
        case file(String)
        case command([String])
        case credential(String)
    }

    var name: String
    var address: String
    var host: String
    var port: Int
    var security: String
    var user: String
    /// `password`, or `oauth2` (with a token helper when ``oauth2Issuer`` is nil).
    var auth: String
    var secret: Secret?
    var oauth2Issuer: String?
    var clientID: String?
    var tenant: String?
    var caFile: String?
    var maildir: String
    var interval: String
}

/// The commented `[store.NAME]` table for a new imap store: a person reading the file later
/// learns from the comments what each key does.
enum StoreSection {
    static func text(_ store: NewIMAPStore, date: Date = Date()) -> String {
        let day = ISO8601DateFormatter.string(from: date, timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withFullDate])
        var lines = [
            "# \(store.address): added by `syncctl add imap` on \(day), after a test login.",
            "[store.\(store.name)]",
            "# The imap provider: this IMAP account, synchronised both ways into the Maildir below.",
            "provider = \"imap\"",
            "# Scheduled syncs this often, besides `syncctl sync \(store.name)` and push (IDLE on INBOX).",
            "interval = \(quoted(store.interval))",
            "# The server. security: tls (TLS from the first byte, port 993), starttls (port 143, then",
            "# STARTTLS), or none (unencrypted: loopback only).",
            "host = \(quoted(store.host))",
            "port = \(store.port)",
            "security = \(quoted(store.security))",
        ]
        if store.security == "none", !["localhost", "::1"].contains(store.host), !store.host.hasPrefix("127.") {
            lines += ["# The password crosses the network unencrypted: asked for explicitly.", "allow_plaintext = true"]
        }
        if let caFile = store.caFile {
            lines += ["# Trust this CA (PEM) for the server's certificate instead of the system's roots.", "ca_file = \(quoted(caFile))"]
        }
        lines += ["# The login name.", "user = \(quoted(store.user))"]
        switch (store.auth, store.secret) {
        case ("oauth2", let secret?):
            lines += [
                "# OAuth2 (AUTHENTICATE OAUTHBEARER or XOAUTH2) with an access token a helper prints;",
                "# syncd runs it whenever a run needs a token.",
                "auth = \"oauth2\"",
                "password = \(secretText(secret))",
            ]
        case (_, let secret?):
            lines += [
                "# Where syncd reads the password when a run needs it; the password itself is never",
                "# written here. file: the file's first line; command: what it prints; credential: a",
                "# systemd credential (LoadCredential=).",
                "password = \(secretText(secret))",
            ]
        default:
            break
        }
        lines += [
            "# Where the mail goes: one Maildir, the server's folders as its subfolders (.Sent, ...).",
            "maildir = \(quoted(store.maildir))",
        ]
        if store.auth == "oauth2", store.secret == nil, let issuer = store.oauth2Issuer {
            lines += [
                "",
                "# OAuth2 with syncd's own client: `syncctl login \(store.name)` signs in once (a code to",
                "# enter on any device); syncd keeps and refreshes the tokens in its state directory.",
                "[store.\(store.name).oauth2]",
                "# Google's or Microsoft's endpoints and the scopes IMAP needs.",
                "issuer = \(quoted(issuer))",
            ]
            if issuer == "microsoft" {
                lines += ["# common: work and personal accounts; consumers: Outlook.com only; or your tenant id.",
                          "tenant = \(quoted(store.tenant ?? "common"))"]
            }
            lines += ["# The id of the client you registered with \(issuer == "google" ? "Google" : "Microsoft") (README: \"OAuth2\").",
                      "client_id = \(quoted(store.clientID ?? ""))"]
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func secretText(_ secret: NewIMAPStore.Secret) -> String {
        switch secret {
        case .file(let path): return "{ file = \(quoted(path)) }"
        case .credential(let name): return "{ credential = \(quoted(name)) }"
        case .command(let argv): return "{ command = [\(argv.map(quoted).joined(separator: ", "))] }"
        }
    }

    /// A TOML basic string.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += String(format: "\\u%04X", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
