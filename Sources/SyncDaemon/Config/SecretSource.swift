#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TOMLKit

/// Where a secret (a password, a token) comes from. The value is read when a run needs it, never
/// stored in the configuration, and never logged: errors name the source, not the value.
public enum SecretSource: Sendable, Hashable, CustomStringConvertible {
    /// A systemd credential (`LoadCredential=NAME:...`), read from `$CREDENTIALS_DIRECTORY/NAME`.
    case credential(String)
    /// A file readable by the daemon; one trailing newline is dropped.
    case file(String)
    /// A command whose standard output is the secret (`pass show mail`); one trailing newline is dropped.
    case command([String])

    init(table: TOMLTable, key: String, section: ConfigSection) throws {
        let kinds = table.keys
        guard kinds.count == 1, let kind = kinds.first else {
            throw section.error(key, "a secret names exactly one of credential, file or command")
        }
        switch kind {
        case "credential":
            guard let name = table[kind]?.string, !name.isEmpty, !name.contains("/") else {
                throw section.error("\(key).credential", "expected a credential name (no slashes)")
            }
            self = .credential(name)
        case "file":
            guard let path = table[kind]?.string, path.hasPrefix("/") else {
                throw section.error("\(key).file", "expected an absolute path")
            }
            self = .file(path)
        case "command":
            guard let argv = table[kind]?.array?.compactMap(\.string), !argv.isEmpty else {
                throw section.error("\(key).command", "expected a command as an array of strings, such as [\"pass\", \"show\", \"mail\"]")
            }
            self = .command(argv)
        default:
            throw section.error("\(key).\(kind)", "unknown secret source; use credential, file or command")
        }
    }

    public var description: String {
        switch self {
        case .credential(let name): return "credential '\(name)'"
        case .file(let path): return "file \(path)"
        case .command(let argv): return "command '\(argv.joined(separator: " "))'"
        }
    }

    /// Reads the secret now.
    /// - Throws: ``SecretError`` saying which source failed and why, without the secret.
    public func resolve(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        switch self {
        case .credential(let name):
            guard let directory = environment["CREDENTIALS_DIRECTORY"] else {
                throw SecretError("\(self): $CREDENTIALS_DIRECTORY is not set (add LoadCredential=\(name):PATH to the unit, or use a file secret when running by hand)")
            }
            return try Self.read("\(directory)/\(name)", source: self)
        case .file(let path):
            return try Self.read(path, source: self)
        case .command(let argv):
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = argv
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            do { try process.run() } catch { throw SecretError("\(self): cannot run: \(error.localizedDescription)") }
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw SecretError("\(self) exited with status \(process.terminationStatus)")
            }
            return Self.chomp(String(decoding: data, as: UTF8.self))
        }
    }

    private static func read(_ path: String, source: SecretSource) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SecretError("\(source): cannot read \(path): \(String(cString: strerror(errno)))")
        }
        return chomp(String(decoding: data, as: UTF8.self))
    }

    private static func chomp(_ text: String) -> String {
        text.hasSuffix("\n") ? String(text.dropLast()) : text
    }
}

/// A secret could not be read; the message never contains the secret.
public struct SecretError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
