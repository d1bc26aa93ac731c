/// Where each key of a TOML file is written, for error messages that name a line.
///
/// TOMLKit reports positions only for syntax errors, so keys are found by reading the lines:
/// `[table]` headers and `key =` assignments. Keys inside inline tables or arrays of tables are
/// located at the nearest line found (their table's, or the file's first).
struct SourceMap {
    private var lines: [String: Int] = [:]

    init(text: String) {
        var table = ""
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.drop { $0 == " " || $0 == "\t" }
            if line.hasPrefix("[") {
                let inner = line.drop { $0 == "[" }.prefix { $0 != "]" }
                table = Self.normalize(String(inner))
                // `[store.mail]` also locates `store`, where no line of its own says so.
                var prefix = ""
                for part in table.split(separator: ".") {
                    prefix = prefix.isEmpty ? String(part) : prefix + "." + part
                    if lines[prefix] == nil { lines[prefix] = number + 1 }
                }
            } else if let equals = line.firstIndex(of: "="), !line.hasPrefix("#") {
                let key = Self.normalize(String(line[..<equals]))
                let path = table.isEmpty ? key : table + "." + key
                if lines[path] == nil { lines[path] = number + 1 }
            }
        }
    }

    /// The line of `path` (such as `store.mail.interval`), or of its closest enclosing table.
    func line(of path: String) -> Int? {
        var path = Substring(path)
        while true {
            if let line = lines[String(path)] { return line }
            guard let dot = path.lastIndex(of: ".") else { return nil }
            path = path[..<dot]
        }
    }

    private static func normalize(_ key: String) -> String {
        key.split(separator: ".").map { part in
            part.trimming(" \t\"'")
        }.joined(separator: ".")
    }
}

extension StringProtocol {
    /// Without leading and trailing characters from `set` (Foundation-free `trimmingCharacters`).
    func trimming(_ set: String) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}
