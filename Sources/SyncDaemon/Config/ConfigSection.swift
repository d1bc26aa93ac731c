import TOMLKit

/// One table of the configuration file, read key by key with type checks.
///
/// Every accessor names the file, line and key on a mistake. ``finish()`` reports keys that no
/// accessor asked for, so a typo (`intervall = "5m"`) is an error, not silently ignored.
public final class ConfigSection {
    public let file: String
    /// The table's dotted path, such as `store.mail`.
    public let path: String
    let table: TOMLTable
    let sourceMap: SourceMap
    private var used: Set<String> = []

    init(file: String, path: String, table: TOMLTable, sourceMap: SourceMap) {
        self.file = file
        self.path = path
        self.table = table
        self.sourceMap = sourceMap
    }

    /// An error about `key` of this section (or the section itself).
    public func error(_ key: String?, _ message: String) -> ConfigError {
        let full = key.map(qualified) ?? path
        return ConfigError(file: file, line: sourceMap.line(of: full), key: full, message)
    }

    public func has(_ key: String) -> Bool { table[key] != nil }

    private func qualified(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    private func value(_ key: String) -> TOMLValueConvertible? {
        used.insert(key)
        return table[key]
    }

    public func string(_ key: String) throws -> String? {
        guard let value = value(key) else { return nil }
        guard let string = value.string else { throw error(key, "expected a string, got \(value.type)") }
        return string
    }

    public func string(_ key: String, default fallback: String) throws -> String {
        try string(key) ?? fallback
    }

    public func requiredString(_ key: String) throws -> String {
        guard let string = try string(key) else { throw error(key, "is required") }
        return string
    }

    public func int(_ key: String, default fallback: Int, range: ClosedRange<Int> = Int.min...Int.max) throws -> Int {
        guard let value = value(key) else { return fallback }
        guard let int = value.int else { throw error(key, "expected an integer, got \(value.type)") }
        guard range.contains(int) else {
            throw error(key, "\(int) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return int
    }

    public func double(_ key: String, default fallback: Double) throws -> Double {
        guard let value = value(key) else { return fallback }
        if let int = value.int { return Double(int) }
        guard let double = value.double else { throw error(key, "expected a number, got \(value.type)") }
        return double
    }

    public func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard let value = value(key) else { return fallback }
        guard let bool = value.bool else { throw error(key, "expected true or false, got \(value.type)") }
        return bool
    }

    /// A duration: a string with a unit, `"90s"`, `"15m"`, `"2h"`, `"1d"`, `"500ms"`, `"1h30m"`.
    /// A bare number is refused: `300` could mean seconds or minutes, and the unit says which.
    public func duration(_ key: String) throws -> Duration? {
        guard let value = value(key) else { return nil }
        if let number = value.int {
            // Said back in the units the number would be read in as seconds: "300s" or "5m".
            var forms = number >= 0 ? ["\"\(number)s\""] : ["\"90s\""]
            if number > 0, Duration.seconds(number).configText != "\(number)s" { forms.append("\"\(Duration.seconds(number).configText)\"") }
            throw error(key, "write a duration with its unit, such as \(forms.joined(separator: " or ")), not a bare number")
        }
        guard let text = value.string, let duration = Duration(configText: text) else {
            throw error(key, "expected a duration such as \"90s\", \"15m\" or \"2h\", got \(value.debugDescription)")
        }
        return duration
    }

    public func duration(_ key: String, default fallback: Duration) throws -> Duration {
        try duration(key) ?? fallback
    }

    public func stringArray(_ key: String) throws -> [String]? {
        guard let value = value(key) else { return nil }
        guard let array = value.array else { throw error(key, "expected an array of strings, got \(value.type)") }
        return try array.map { item in
            guard let string = item.string else { throw error(key, "expected an array of strings, found \(item.type)") }
            return string
        }
    }

    /// A table of string keys to string values (environment variables, say).
    public func stringTable(_ key: String) throws -> [String: String]? {
        guard let value = value(key) else { return nil }
        guard let table = value.table else { throw error(key, "expected a table, got \(value.type)") }
        var result: [String: String] = [:]
        for name in table.keys {
            guard let string = table[name]?.string else { throw error("\(key).\(name)", "expected a string") }
            result[name] = string
        }
        return result
    }

    /// A secret: `{ credential = "NAME" }` (systemd `LoadCredential=`), `{ file = "PATH" }` or
    /// `{ command = ["pass", "show", "mail"] }`. A plain string is refused: secrets never live in
    /// the configuration.
    public func secret(_ key: String) throws -> SecretSource? {
        guard let value = value(key) else { return nil }
        guard let table = value.table else {
            throw error(key, "a secret must be { credential = \"NAME\" }, { file = \"PATH\" } or { command = [...] }, not written in the config")
        }
        return try SecretSource(table: table, key: key, section: self)
    }

    /// A nested table, as a section of its own (its unknown keys are reported by its own `finish`).
    public func section(_ key: String) throws -> ConfigSection? {
        guard let value = value(key) else { return nil }
        guard let table = value.table else { throw error(key, "expected a table, got \(value.type)") }
        return ConfigSection(file: file, path: qualified(key), table: table, sourceMap: sourceMap)
    }

    /// Throws for the first key nobody asked for.
    public func finish(expected: [String] = []) throws {
        for key in table.keys.sorted() where !used.contains(key) {
            let known = expected.isEmpty ? "" : "; known keys: " + expected.joined(separator: ", ")
            throw error(key, "unknown key\(known)")
        }
    }
}

extension Duration {
    /// Parses `"90s"`, `"15m"`, `"2h"`, `"1d"`, `"500ms"` or `"1h30m"`.
    public init?(configText text: String) {
        var total = Duration.zero
        var number = ""
        var rest = Substring(text.trimming(" "))
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            number = String(rest.prefix { $0.isNumber || $0 == "." })
            rest = rest.dropFirst(number.count)
            let unit = String(rest.prefix { $0.isLetter })
            rest = rest.dropFirst(unit.count)
            guard let value = Double(number) else { return nil }
            let scale: Double
            switch unit {
            case "ms": scale = 0.001
            case "s": scale = 1
            case "m", "min": scale = 60
            case "h": scale = 3600
            case "d": scale = 86400
            default: return nil
            }
            total += .milliseconds(Int64((value * scale * 1000).rounded()))
        }
        self = total
    }

    /// `"15m"`, `"90s"`, `"1h30m"`: the form the config takes.
    public var configText: String {
        var seconds = Int(components.seconds)
        if seconds == 0 { return "\(Int(Double(components.attoseconds) / 1e15))ms" }
        var parts = ""
        for (unit, size) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] where seconds >= size {
            parts += "\(seconds / size)\(unit)"
            seconds %= size
        }
        return parts
    }
}
