/// Initial responses of the SASL mechanisms the submission client offers.
public enum SASLResponses {
    /// RFC 4616: authzid NUL authcid NUL password (empty authzid).
    public static func plain(user: String, password: String) -> [UInt8] {
        [0] + Array(user.utf8) + [0] + Array(password.utf8)
    }

    /// Google's XOAUTH2: user=U ^A auth=Bearer T ^A ^A.
    public static func xoauth2(user: String, token: String) -> [UInt8] {
        Array("user=\(user)\u{1}auth=Bearer \(token)\u{1}\u{1}".utf8)
    }

    /// RFC 7628 §3.1, with "," and "=" in the user escaped as the GS2 header requires.
    public static func oauthBearer(user: String, token: String, host: String, port: Int) -> [UInt8] {
        let escaped = user.map { $0 == "=" ? "=3D" : $0 == "," ? "=2C" : String($0) }.joined()
        return Array("n,a=\(escaped),\u{1}host=\(host)\u{1}port=\(port)\u{1}auth=Bearer \(token)\u{1}\u{1}".utf8)
    }

    /// A 334 challenge's text decoded (LOGIN's "VXNlcm5hbWU6" is "Username:"); nil if not base64.
    public static func decodeChallenge(_ text: String) -> [UInt8]? { Base64.decode(text) }
}
