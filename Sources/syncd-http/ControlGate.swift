import Foundation
import HTTPTypes
import Hummingbird

/// Who may press sync / cancel / pause on the dashboard. syncd-http talks to the daemon with its
/// own uid, so the daemon's check alone would let every visitor act with this process's rights;
/// the gate decides first which HTTP requests are the admin's.
enum ControlGate: Sendable {
    /// No controls: the dashboard is read-only.
    case off
    /// Requests carrying `Authorization: Bearer TOKEN` (the token file's contents) may control.
    case token([UInt8])
    /// Served on a Unix socket behind a reverse proxy that authenticates: every request that
    /// reaches the socket was let through by the proxy.
    case proxy

    /// The token in `path`: its first line, at least 16 bytes, from a file others cannot read.
    static func token(file path: String) throws -> ControlGate {
        var info = stat()
        guard stat(path, &info) == 0 else { throw GateError("cannot read --control-token-file \(path): \(String(cString: strerror(errno)))") }
        guard info.st_mode & 0o077 == 0 else {
            throw GateError("--control-token-file \(path) is readable by others (mode \(String(info.st_mode & 0o777, radix: 8))): chmod 600 it")
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw GateError("cannot read --control-token-file \(path)")
        }
        let token = text.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init)?
            .trimmingCharacters(in: .whitespaces) ?? ""
        guard token.utf8.count >= 16 else {
            throw GateError("--control-token-file \(path): the token must be at least 16 characters (try: openssl rand -hex 16 > \(path))")
        }
        return .token(Array(token.utf8))
    }

    var offersControls: Bool {
        if case .off = self { return false }
        return true
    }

    /// Whether this request may control. Every control request must also carry
    /// `X-Syncd-Control: 1`: a cross-site form cannot set it, so a proxy's cookie or basic-auth
    /// session cannot be ridden by another page (CSRF).
    func allows(_ request: Request) -> Bool {
        guard request.headers[HTTPField.Name("X-Syncd-Control")!] == "1" else { return false }
        switch self {
        case .off: return false
        case .proxy: return true
        case .token(let token):
            guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else { return false }
            return Self.equal(Array(header.dropFirst(7).utf8), token)
        }
    }

    // Constant time: how long a wrong token takes must not tell how much of it was right.
    private static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

struct GateError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
