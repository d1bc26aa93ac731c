#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TestSupport

/// Debian's Prometheus in the foreground for one test: loopback, temp storage, a 1 s scrape of
/// one target (see /work/shared/notes/prometheus-oneshot.md for the timings).
final class PrometheusServer {
    let directory: String
    let url: String
    private var pid: pid_t?

    init(scraping target: String, job: String = "syncd") async throws {
        directory = "/tmp/syncd-prom-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try """
            global: {scrape_interval: 1s, evaluation_interval: 1s}
            scrape_configs:
              - job_name: \(job)
                static_configs: [{targets: ["\(target)"]}]
            """.write(toFile: directory + "/prom.yml", atomically: true, encoding: .utf8)
        let port = freeLoopbackPort()
        url = "http://127.0.0.1:\(port)"
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus") else {
            throw TestError("/usr/bin/prometheus is missing: apt-get install prometheus (scripts/test installs it)")
        }
        pid = startTool("/usr/bin/prometheus", [
            "--config.file=\(directory)/prom.yml", "--storage.tsdb.path=\(directory)/data", "--web.listen-address=127.0.0.1:\(port)",
        ], outputFile: directory + "/prom.log")
        try await until("Prometheus ready", seconds: 20) { http(self.url + "/-/ready").status == 200 }
    }

    deinit {
        if let pid {
            kill(pid, SIGTERM)
            _ = waitForTool(pid)
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The values of an instant query's result vector.
    func query(_ promql: String) -> [String] {
        let (_, body) = runTool("/usr/bin/curl", ["-s", "-G", "--data-urlencode", "query=\(promql)", url + "/api/v1/query"])
        guard let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
              let data = object["data"] as? [String: Any], let result = data["result"] as? [[String: Any]]
        else { return [] }
        return result.compactMap { ($0["value"] as? [Any])?.last as? String }
    }

    /// A query's outcome as the HTTP API gives it: "success" with the number of series, or the
    /// error Prometheus names (a PromQL mistake).
    func evaluate(_ promql: String) -> (status: String, series: Int, error: String?) {
        let (_, body) = runTool("/usr/bin/curl", ["-s", "-G", "--data-urlencode", "query=\(promql)", url + "/api/v1/query"])
        guard let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] else {
            return ("no answer", 0, body)
        }
        let result = (object["data"] as? [String: Any])?["result"] as? [Any]
        return (object["status"] as? String ?? "?", result?.count ?? 0, object["error"] as? String)
    }

    var log: String { (try? String(contentsOfFile: directory + "/prom.log", encoding: .utf8)) ?? "" }
}

/// Polls `condition` every 100 ms until it holds; fails naming `what` after `seconds`.
func until(_ what: String, seconds: Int = 20, _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while !condition() {
        guard ContinuousClock.now < deadline else { throw TestError("timed out waiting for \(what)") }
        try await Task.sleep(for: .milliseconds(100))
    }
}
