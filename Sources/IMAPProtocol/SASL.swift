/// The client's side of the SASL mechanisms that carry an OAuth2 access token: what the
/// AUTHENTICATE command sends, and how to read the server's refusal.
///
/// Both send the token in one step. When the server refuses it, it sends a continuation request
/// carrying BASE64 JSON that says why (`{"status":"invalid_token",...}`); the client must answer
/// that with ``errorAcknowledgement`` for the mechanism, and the server then ends the command with
/// a tagged NO.
public enum SASL {
    /// The OAuth2 mechanisms, in the order a client prefers them: the standard one first.
    public enum OAuthMechanism: String, Sendable, CaseIterable {
        /// RFC 7628 `OAUTHBEARER`.
        case oauthBearer = "OAUTHBEARER"
        /// Google's and Microsoft's `XOAUTH2`, the predecessor.
        case xoauth2 = "XOAUTH2"

        public var capability: Capability { .auth(rawValue) }

        /// What the client answers to the server's error challenge: `%x01` for OAUTHBEARER
        /// (RFC 7628 §3.2.3), an empty response for XOAUTH2.
        public var errorAcknowledgement: [UInt8] {
            switch self {
            case .oauthBearer: return [0x01]
            case .xoauth2: return []
            }
        }

        /// The initial response carrying `token` for `user`.
        public func initialResponse(user: String, token: String, host: String, port: Int) -> [UInt8] {
            switch self {
            case .oauthBearer: return SASL.oauthBearer(user: user, token: token, host: host, port: port)
            case .xoauth2: return SASL.xoauth2(user: user, token: token)
            }
        }

        /// The mechanism to use among what the server announced: OAUTHBEARER, then XOAUTH2.
        public static func preferred(among capabilities: some Sequence<Capability>) -> OAuthMechanism? {
            let set = Set(capabilities)
            return allCases.first { set.contains($0.capability) }
        }
    }

    /// XOAUTH2: `user=USER ^A auth=Bearer TOKEN ^A ^A`.
    public static func xoauth2(user: String, token: String) -> [UInt8] {
        Array("user=\(user)\u{1}auth=Bearer \(token)\u{1}\u{1}".utf8)
    }

    /// OAUTHBEARER (RFC 7628 §3.1): the GS2 header `n,a=USER,` (`,` and `=` escaped as `=2C`
    /// and `=3D`), then `host`, `port` and `auth` key-value pairs, each ended by `^A`, and a final `^A`.
    public static func oauthBearer(user: String, token: String, host: String, port: Int) -> [UInt8] {
        let saslName = user.replacingAll("=", with: "=3D").replacingAll(",", with: "=2C")
        return Array("n,a=\(saslName),\u{1}host=\(host)\u{1}port=\(port)\u{1}auth=Bearer \(token)\u{1}\u{1}".utf8)
    }

    /// The bytes of a continuation request's BASE64 text (a server's error challenge), or nil
    /// when it is not BASE64.
    public static func decodeChallenge(_ text: String) -> [UInt8]? {
        Base64.decode(Array(text.utf8))
    }
}

extension String {
    fileprivate func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for character in self {
            if character == target { out += replacement } else { out.append(character) }
        }
        return out
    }
}
