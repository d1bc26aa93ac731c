import Foundation

/// `/metrics` in OpenMetrics text 1.0.0, for a scraper that asks for it (Prometheus does, ahead
/// of the older format). swift-prometheus writes the Prometheus text format 0.0.4, which differs
/// from OpenMetrics where these metrics are concerned in three places: a counter's family is
/// named without `_total` (its samples keep it), HELP escapes `"` too, and the text ends with
/// `# EOF`.
enum OpenMetrics {
    static let contentType = "application/openmetrics-text; version=1.0.0; charset=utf-8"

    /// Whether a request's `Accept` header takes OpenMetrics (with a weight above 0).
    static func isAccepted(by accept: String?) -> Bool {
        guard let accept else { return false }
        return accept.split(separator: ",").contains { range in
            let parameters = range.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard parameters.first?.lowercased() == "application/openmetrics-text" else { return false }
            let weight = parameters.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            return weight > 0
        }
    }

    /// The same families and samples as `prometheus`, a Prometheus 0.0.4 exposition.
    static func text(fromPrometheus prometheus: String) -> String {
        let lines = prometheus.split(separator: "\n", omittingEmptySubsequences: true)
        var counters = Set<Substring>()
        for line in lines where line.hasPrefix("# TYPE ") {
            let fields = line.split(separator: " ")
            if fields.count == 4, fields[3] == "counter" { counters.insert(fields[2]) }
        }
        var out = ""
        out.reserveCapacity(prometheus.utf8.count + 64)
        for line in lines {
            guard line.hasPrefix("# TYPE ") || line.hasPrefix("# HELP ") else {
                out += line
                out += "\n"
                continue
            }
            let keyword = line.prefix(7)
            let rest = line.dropFirst(7)
            let name = rest.prefix { $0 != " " }
            var remainder = rest.dropFirst(name.count)
            let family = counters.contains(name) && name.hasSuffix("_total") ? name.dropLast(6) : name
            out += keyword
            out += family
            if keyword == "# HELP " {
                // 0.0.4 escapes \ and newlines already; OpenMetrics wants " escaped as well.
                remainder = Substring(remainder.replacingOccurrences(of: "\"", with: "\\\""))
            }
            out += remainder
            out += "\n"
        }
        return out + "# EOF\n"
    }
}
