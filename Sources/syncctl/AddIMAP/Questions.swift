#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SyncDaemon

/// Asks on the terminal, or takes what the flags and guesses say when there is none to ask on.
///
/// Every answer is checked where it is given: a bad one is said at once and the question asked
/// again, so nothing wrong reaches the configuration (or the next run).
struct Questions {
    /// Standard input is a terminal and `--yes` was not given.
    let interactive: Bool

    /// The answer to one question.
    /// - Parameters:
    ///   - given: the flag's value, which is checked but not asked.
    ///   - guess: the default, shown in brackets and taken for an empty answer (or, when not
    ///     interactive, taken as it is).
    ///   - flag: names the flag to pass when there is no terminal and no guess.
    ///   - check: the parsed answer, or why it is not one.
    func ask<T>(
        _ question: String, given: String?, guess: String?, flag: String,
        check: (String) -> Result<T, AddError>
    ) throws -> T {
        if let given {
            switch check(given) {
            case .success(let value): return value
            case .failure(let why): throw AddError("\(flag): \(why)")
            }
        }
        guard interactive else {
            guard let guess else { throw AddError("missing \(flag) (there is no terminal to ask on; pass it, or run syncctl add imap on a terminal)") }
            switch check(guess) {
            case .success(let value): return value
            case .failure(let why): throw AddError("\(flag): the guess '\(guess)' will not do (\(why)): pass \(flag)")
            }
        }
        while true {
            Output.write(question + (guess.map { " [\($0)]" } ?? "") + ": ")
            guard let line = readLine(strippingNewline: true) else {
                Output.line("")
                throw AddError("no answer (end of input): nothing written")
            }
            let answer = line.trimmingCharacters(in: .whitespaces)
            guard let text = answer.isEmpty ? guess : answer else {
                Output.line("  an answer is needed")
                continue
            }
            switch check(text) {
            case .success(let value): return value
            case .failure(let why): Output.line("  \(why); try again")
            }
        }
    }

    /// A yes-or-no question; when not interactive, `otherwise`.
    func confirm(_ question: String, default yes: Bool, otherwise: Bool) -> Bool {
        guard interactive else { return otherwise }
        while true {
            Output.write(question + (yes ? " [Y/n]: " : " [y/N]: "))
            guard let line = readLine(strippingNewline: true) else { return false }
            switch line.trimmingCharacters(in: .whitespaces).lowercased() {
            case "": return yes
            case "y", "yes": return true
            case "n", "no": return false
            default: Output.line("  answer y or n")
            }
        }
    }
}

/// The checks behind the questions.
enum Answer {
    static func address(_ text: String) -> Result<String, AddError> {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."), !parts[1].hasSuffix("."),
              !text.contains(where: { $0.isWhitespace }) else {
            return .failure(AddError("'\(text)' is not a mail address (name@domain)"))
        }
        return .success(text)
    }

    static func host(_ text: String) -> Result<String, AddError> {
        guard !text.isEmpty, text.count <= 253,
              text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-.:".contains($0)) }),
              !text.hasPrefix("-"), !text.hasPrefix(".") else {
            return .failure(AddError("'\(text)' is not a host name or address"))
        }
        return .success(text.hasSuffix(".") ? String(text.dropLast()) : text)
    }

    static func port(_ text: String) -> Result<Int, AddError> {
        guard let port = Int(text), (1...65535).contains(port) else { return .failure(AddError("'\(text)' is not a port (1 to 65535)")) }
        return .success(port)
    }

    static func security(host: String) -> (String) -> Result<String, AddError> {
        { text in
            let value = text.lowercased()
            guard ["tls", "starttls", "none"].contains(value) else { return .failure(AddError("expected tls, starttls or none")) }
            if value == "none", !(["localhost", "::1"].contains(host) || host.hasPrefix("127.")) {
                return .failure(AddError("none would send the password unencrypted to \(host); only a loopback server may be reached so"))
            }
            return .success(value)
        }
    }

    static func nonEmpty(_ what: String) -> (String) -> Result<String, AddError> {
        { $0.isEmpty ? .failure(AddError("\(what) is empty")) : .success($0) }
    }

    static func login(_ text: String) -> Result<ServerGuess.Login, AddError> {
        guard let login = ServerGuess.Login(rawValue: text.lowercased()) else {
            return .failure(AddError("expected password, oauth2 (syncd's own login) or token-command (an OAuth2 token helper)"))
        }
        return .success(login)
    }

    /// A password source: an absolute path (a file), `credential:NAME`, or a command line.
    static func secret(_ text: String) -> Result<NewIMAPStore.Secret, AddError> {
        if text.hasPrefix("credential:") {
            let name = String(text.dropFirst("credential:".count))
            guard !name.isEmpty, !name.contains("/") else { return .failure(AddError("a credential name has no slashes")) }
            return .success(.credential(name))
        }
        if text.hasPrefix("/") || text.hasPrefix("~") { return file(text).map { .file($0) } }
        return command(text).map { .command($0) }
    }

    static func file(_ text: String) -> Result<String, AddError> {
        let path = expandingTilde(text)
        guard path.hasPrefix("/") else { return .failure(AddError("'\(text)' is not an absolute path")) }
        guard FileManager.default.isReadableFile(atPath: path) else { return .failure(AddError("\(path) does not exist or cannot be read")) }
        return .success(path)
    }

    /// A command split on spaces; its program found now, as the daemon will look for it.
    static func command(_ text: String) -> Result<[String], AddError> {
        let argv = text.split(separator: " ").map(String.init)
        guard let program = argv.first else { return .failure(AddError("the command is empty")) }
        let found = program.contains("/")
            ? FileManager.default.isExecutableFile(atPath: program)
            : (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
                .contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(program)") }
        guard found else { return .failure(AddError("there is no program '\(program)' (give a path, or install it)")) }
        return .success(argv)
    }

    static func maildir(_ text: String) -> Result<String, AddError> {
        let path = expandingTilde(text)
        guard path.hasPrefix("/") else { return .failure(AddError("'\(text)' is not an absolute path")) }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
            return .failure(AddError("\(path) is a file, not a directory"))
        }
        return .success(path)
    }

    static func storeName(existing: Set<String>) -> (String) -> Result<String, AddError> {
        { name in
            guard !name.isEmpty, name.utf8.count <= 128, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
                return .failure(AddError("a store name may use letters, digits, '-', '_' and '.'"))
            }
            guard !existing.contains(name) else { return .failure(AddError("a store named \(name) exists already")) }
            return .success(name)
        }
    }

    static func interval(_ text: String) -> Result<String, AddError> {
        guard let duration = Duration(configText: text), duration >= .seconds(1) else {
            return .failure(AddError("'\(text)' is not a duration such as 15m, 1h or 90s"))
        }
        return .success(text)
    }

    static func expandingTilde(_ path: String) -> String {
        guard path == "~" || path.hasPrefix("~/") else { return path }
        let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
        return home + path.dropFirst()
    }
}
