import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat

/// Where an OAuth2 authorization server is and which client syncd is to it.
public struct OAuth2Configuration: Sendable, Hashable {
    /// The token endpoint (RFC 6749 §3.2): device-code exchange and refresh.
    public var tokenURL: String
    /// The device authorization endpoint (RFC 8628 §3.1).
    public var deviceAuthorizationURL: String
    public var clientID: String
    public var scopes: [String]
    /// `google`, `microsoft` or nil: which provider's habits to expect in its error messages.
    public var issuer: String?

    public init(tokenURL: String, deviceAuthorizationURL: String, clientID: String, scopes: [String], issuer: String? = nil) {
        self.tokenURL = tokenURL
        self.deviceAuthorizationURL = deviceAuthorizationURL
        self.clientID = clientID
        self.scopes = scopes
        self.issuer = issuer
    }

    /// Google: the endpoints of accounts.google.com and the scope IMAP needs.
    public static func google(clientID: String) -> OAuth2Configuration {
        OAuth2Configuration(
            tokenURL: "https://oauth2.googleapis.com/token",
            deviceAuthorizationURL: "https://oauth2.googleapis.com/device/code",
            clientID: clientID, scopes: ["https://mail.google.com/"], issuer: "google")
    }

    /// Microsoft identity platform (Outlook.com, Microsoft 365) for `tenant`: `common` (work,
    /// school and personal accounts), `consumers`, `organizations`, or a tenant id or domain.
    /// `offline_access` is what makes Microsoft hand out a refresh token.
    public static func microsoft(clientID: String, tenant: String = "common") -> OAuth2Configuration {
        OAuth2Configuration(
            tokenURL: "https://login.microsoftonline.com/\(tenant)/oauth2/v2.0/token",
            deviceAuthorizationURL: "https://login.microsoftonline.com/\(tenant)/oauth2/v2.0/devicecode",
            clientID: clientID, scopes: ["https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access"],
            issuer: "microsoft")
    }

    /// Whether `url` may carry tokens: https, or http to a loopback address (a local test server).
    public static func isAcceptable(_ url: String) -> Bool {
        guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty else { return false }
        switch components.scheme?.lowercased() {
        case "https": return true
        case "http": return host == "localhost" || host == "::1" || host.hasPrefix("127.")
        default: return false
        }
    }
}

/// What the user is to do to approve a device login (RFC 8628 §3.2).
public struct DeviceAuthorization: Sendable, Hashable {
    public var deviceCode: String
    public var userCode: String
    public var verificationURI: String
    /// The URI with the code already in it, when the server offers one.
    public var verificationURIComplete: String?
    /// How long the codes are valid.
    public var expiresIn: Duration
    /// The least time between two polls of the token endpoint.
    public var interval: Duration

    /// "open https://… and enter ABCD-EFGH".
    public var instructions: String {
        "open \(verificationURI) and enter \(userCode)"
    }
}

/// The tokens a token endpoint issued (RFC 6749 §5.1).
public struct TokenGrant: Sendable, Hashable {
    public var accessToken: String
    /// Absent when the server keeps the refresh token it issued before (Google on refresh).
    public var refreshToken: String?
    /// Seconds the access token is valid, if the server said.
    public var expiresIn: Int?
    public var scope: String?
}

/// What went wrong talking to the authorization server. Never carries a token.
public struct OAuth2Error: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The server refused with an RFC 6749 §5.2 error code (`invalid_grant`, `invalid_client`, ...).
        case refused(code: String)
        /// The user declined the device login (`access_denied`).
        case denied
        /// The device code expired before the user approved it (`expired_token`).
        case expired
        /// The server could not be reached or answered something that is no OAuth2 answer.
        case unavailable
    }

    public var kind: Kind
    public var description: String

    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }

    /// The refresh token is no longer good (revoked, expired, or the password changed): only a
    /// new login helps.
    public var needsLogin: Bool { kind == .refused(code: "invalid_grant") }
}

/// An OAuth2 client for syncd's needs: the device authorization grant (RFC 8628) and refresh
/// (RFC 6749 §6), over async-http-client. The client secret, when the provider issued one, goes
/// in the form body (`client_secret_post`).
public struct OAuth2Client: Sendable {
    public let configuration: OAuth2Configuration
    private let clientSecret: String?
    private let http: HTTPClient
    private let timeout: TimeAmount

    public init(configuration: OAuth2Configuration, clientSecret: String?, http: HTTPClient = .shared, timeout: Duration = .seconds(30)) {
        self.configuration = configuration
        self.clientSecret = clientSecret
        self.http = http
        self.timeout = .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)
    }

    // MARK: Device authorization grant

    /// Asks for a device code and a user code.
    public func startDeviceAuthorization() async throws(OAuth2Error) -> DeviceAuthorization {
        var form = [("client_id", configuration.clientID), ("scope", configuration.scopes.joined(separator: " "))]
        if let clientSecret, configuration.issuer != "google" { form.append(("client_secret", clientSecret)) }
        let json = try await post(configuration.deviceAuthorizationURL, form)
        guard let deviceCode = json["device_code"] as? String, let userCode = json["user_code"] as? String,
              let uri = (json["verification_uri"] ?? json["verification_url"]) as? String else {
            throw OAuth2Error(.unavailable, "\(host(configuration.deviceAuthorizationURL)): the device authorization answer lacks device_code, user_code or verification_uri")
        }
        let expiresIn = Self.integer(json["expires_in"]) ?? 600
        let interval = Self.integer(json["interval"]) ?? 5
        return DeviceAuthorization(
            deviceCode: deviceCode, userCode: userCode, verificationURI: uri,
            verificationURIComplete: json["verification_uri_complete"] as? String,
            expiresIn: .seconds(max(1, expiresIn)), interval: .seconds(max(1, interval)))
    }

    /// Polls the token endpoint until the user approved the login (RFC 8628 §3.4, §3.5): waits
    /// `interval` between polls, five seconds more after each `slow_down`, and gives up when the
    /// code expires.
    /// - Throws: ``OAuth2Error`` `.denied`, `.expired`, or why the server refused; `CancellationError`.
    public func pollForToken(
        _ device: DeviceAuthorization, clock: ContinuousClock = .init()
    ) async throws -> TokenGrant {
        var interval = device.interval
        let deadline = clock.now + device.expiresIn
        while true {
            try await Task.sleep(for: interval)
            var form = [("grant_type", "urn:ietf:params:oauth:grant-type:device_code"), ("device_code", device.deviceCode),
                        ("client_id", configuration.clientID)]
            if let clientSecret { form.append(("client_secret", clientSecret)) }
            let answer: [String: Any]
            do {
                answer = try await post(configuration.tokenURL, form)
            } catch {
                switch error.kind {
                case .refused(code: "authorization_pending"):
                    break  // The user has not finished yet.
                case .refused(code: "slow_down"):
                    interval += .seconds(5)
                case .refused(code: "access_denied"):
                    throw OAuth2Error(.denied, "the login was declined at \(host(configuration.tokenURL))")
                case .refused(code: "expired_token"):
                    throw OAuth2Error(.expired, "the code expired before the login was approved; run the login again")
                default:
                    throw error
                }
                if clock.now + interval > deadline {
                    throw OAuth2Error(.expired, "the code expired before the login was approved; run the login again")
                }
                continue
            }
            return try Self.grant(answer, from: host(configuration.tokenURL))
        }
    }

    // MARK: Refresh

    /// A new access token for `refreshToken` (RFC 6749 §6).
    public func refresh(_ refreshToken: String) async throws(OAuth2Error) -> TokenGrant {
        var form = [("grant_type", "refresh_token"), ("refresh_token", refreshToken), ("client_id", configuration.clientID)]
        if let clientSecret { form.append(("client_secret", clientSecret)) }
        // Microsoft wants the scopes again; others ignore a scope that equals the granted one.
        if configuration.issuer == "microsoft" { form.append(("scope", configuration.scopes.joined(separator: " "))) }
        return try Self.grant(try await post(configuration.tokenURL, form), from: host(configuration.tokenURL))
    }

    // MARK: HTTP

    private func host(_ url: String) -> String {
        URLComponents(string: url)?.host ?? url
    }

    /// POSTs a form and returns the JSON object of a 2xx answer.
    /// - Throws: ``OAuth2Error`` `.refused` for an RFC 6749 §5.2 error answer, `.unavailable` otherwise.
    private func post(_ url: String, _ form: [(String, String)]) async throws(OAuth2Error) -> [String: Any] {
        let server = host(url)
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        request.body = .bytes(ByteBuffer(string: Self.formEncoded(form)))
        let status: UInt
        let body: ByteBuffer
        do {
            let response = try await http.execute(request, timeout: timeout)
            status = response.status.code
            body = try await response.body.collect(upTo: 1 << 20)
        } catch is CancellationError {
            throw OAuth2Error(.unavailable, "cancelled")
        } catch {
            throw OAuth2Error(.unavailable, "\(server): \(error)")
        }
        let json = (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any]
        if (200..<300).contains(status) {
            guard let json else { throw OAuth2Error(.unavailable, "\(server) answered \(status) without a JSON object") }
            return json
        }
        if let json, let code = json["error"] as? String {
            let description = (json["error_description"] as? String).map { ": \(Self.firstLine($0))" } ?? ""
            throw OAuth2Error(.refused(code: code), "\(server) refused: \(code)\(description)")
        }
        throw OAuth2Error(.unavailable, "\(server) answered HTTP \(status)")
    }

    private static func grant(_ json: [String: Any], from server: String) throws(OAuth2Error) -> TokenGrant {
        guard let accessToken = json["access_token"] as? String, !accessToken.isEmpty else {
            throw OAuth2Error(.unavailable, "\(server): the token answer has no access_token")
        }
        if let type = json["token_type"] as? String, type.lowercased() != "bearer" {
            throw OAuth2Error(.unavailable, "\(server) issued a token of type \(type), not Bearer")
        }
        return TokenGrant(
            accessToken: accessToken, refreshToken: json["refresh_token"] as? String,
            expiresIn: integer(json["expires_in"]), scope: json["scope"] as? String)
    }

    /// Microsoft's descriptions run over several lines with trace ids; the first says what matters.
    private static func firstLine(_ text: String) -> String {
        String(text.split(whereSeparator: \.isNewline).first ?? "").trimmingCharacters(in: .whitespaces)
    }

    /// A JSON number or numeric string (some servers send `"expires_in": "3599"`).
    static func integer(_ value: Any?) -> Int? {
        if let number = value as? NSNumber { return number.intValue }
        if let text = value as? String { return Int(text) }
        return nil
    }

    /// `application/x-www-form-urlencoded` (the WHATWG URL standard's byte serializer).
    static func formEncoded(_ form: [(String, String)]) -> String {
        form.map { "\(percentEncoded($0.0))=\(percentEncoded($0.1))" }.joined(separator: "&")
    }

    private static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "*"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"):
                out.unicodeScalars.append(UnicodeScalar(byte))
            case UInt8(ascii: " "):
                out += "+"
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }
}
