#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOSSL

/// Where a submission client connects (RFC 6409), and how patiently.
public struct SMTPServer: Sendable {
    /// How the connection is protected; there is no plain-text mode: credentials and mail always
    /// travel under TLS, with the server's certificate verified.
    public enum Security: String, Sendable, CaseIterable {
        /// Port 587: plain TCP, then STARTTLS before anything else (RFC 3207). A server that does
        /// not offer STARTTLS is refused, never used in the clear.
        case starttls
        /// Port 465: TLS from the first byte (RFC 8314).
        case tls
    }

    public var host: String
    public var port: Int
    public var security: Security
    /// A PEM file of certificates to trust instead of the system's roots (a private CA, a
    /// self-signed server).
    public var caFile: String?
    /// The longest the client waits for anything: connecting, the greeting, each reply, each write.
    public var timeout: Duration
    /// The name given in EHLO.
    public var heloName: String

    /// `heloName` defaults to this machine's host name.
    public init(
        host: String, port: Int, security: Security, caFile: String? = nil, timeout: Duration = .seconds(60),
        heloName: String? = nil
    ) {
        self.host = host
        self.port = port
        self.security = security
        self.caFile = caFile
        self.timeout = timeout
        self.heloName = heloName ?? Self.localHostName()
    }

    /// RFC 5321 §4.1.4 wants the client's FQDN; the host name is the best a client knows, and an
    /// address literal stands in when there is none.
    static func localHostName() -> String {
        var name = [CChar](repeating: 0, count: 256)
        guard gethostname(&name, name.count - 1) == 0 else { return "[127.0.0.1]" }
        let text = String(decoding: name.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.isEmpty || !text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) ? "[127.0.0.1]" : text
    }

    func tlsContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = .fullVerification
        if let caFile { configuration.trustRoots = .file(caFile) }
        // Closing waits this long for the server's close_notify; the timeout bounds every wait.
        configuration.shutdownTimeout = min(TimeAmount(timeout), .seconds(5))
        return try NIOSSLContext(configuration: configuration)
    }

    /// SNI carries names, not addresses.
    var sniName: String? {
        host.allSatisfy({ $0.isNumber || $0 == "." }) || host.contains(":") ? nil : host
    }
}
