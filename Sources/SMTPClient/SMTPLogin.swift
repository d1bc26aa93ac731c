/// The credentials a submission server checks (RFC 4954). They are only ever sent under TLS.
public enum SMTPLogin: Sendable {
    /// AUTH PLAIN when the server offers it, else AUTH LOGIN.
    case password(user: String, password: String)
    /// An OAuth2 access token: OAUTHBEARER (RFC 7628) when offered, else Google's XOAUTH2.
    case oauth2(user: String, accessToken: String)
}
