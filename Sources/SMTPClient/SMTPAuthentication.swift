import SMTPProtocol

extension SMTPConnection {
    /// AUTH (RFC 4954) with the best mechanism the server offers for the credentials.
    static func authenticate(_ login: SMTPLogin, wire: SMTPWire, capabilities: ServerCapabilities) async throws {
        let offered = capabilities.authMechanisms
        let server = wire.server
        let user: String
        var reply: SMTPReply
        switch login {
        case .password(let name, let password):
            user = name
            if offered.contains("PLAIN") {
                reply = try await wire.command(.auth(mechanism: "PLAIN", initialResponse: SASLResponses.plain(user: name, password: password)))
            } else if offered.contains("LOGIN") {
                reply = try await wire.command(.auth(mechanism: "LOGIN", initialResponse: nil))
                if reply.code == 334 { reply = try await wire.command(.authResponse(Array(name.utf8))) }
                if reply.code == 334 { reply = try await wire.command(.authResponse(Array(password.utf8))) }
            } else {
                throw unsupported(server.host, offered, wanted: "PLAIN or LOGIN")
            }
        case .oauth2(let name, let token):
            user = name
            let mechanism: String
            let initial: [UInt8]
            // RFC 7628 §3.2.3 and Google's XOAUTH2 alike: a refused token gets a 334 carrying an
            // error document; the client answers (0x01 for OAUTHBEARER, nothing for XOAUTH2) and
            // the server then sends its failure reply.
            let acknowledgement: [UInt8]
            if offered.contains("OAUTHBEARER") {
                mechanism = "OAUTHBEARER"
                initial = SASLResponses.oauthBearer(user: name, token: token, host: server.host, port: server.port)
                acknowledgement = [0x01]
            } else if offered.contains("XOAUTH2") {
                mechanism = "XOAUTH2"
                initial = SASLResponses.xoauth2(user: name, token: token)
                acknowledgement = []
            } else {
                throw unsupported(server.host, offered, wanted: "OAUTHBEARER or XOAUTH2")
            }
            reply = try await wire.command(.auth(mechanism: mechanism, initialResponse: initial))
            if reply.code == 334 {
                let detail = SASLResponses.decodeChallenge(reply.lines.joined()).map { String(decoding: $0, as: UTF8.self) }
                reply = try await wire.command(.authResponse(acknowledgement))
                if !reply.isPositiveCompletion, let detail, !detail.isEmpty { reply.lines.append("(\(detail))") }
            }
        }
        guard reply.code == 235 else {
            if reply.code == 334 {
                throw SMTPError(kind: .protocolViolation, isTemporary: false, reply: reply,
                                description: "\(server.host) asked for more than the login of \(user) gives: \(reply.summary)")
            }
            throw SMTPError.refused("\(server.host) refused the login of \(user)", reply, kind: .authenticationFailed)
        }
    }

    private static func unsupported(_ host: String, _ offered: Set<String>, wanted: String) -> SMTPError {
        SMTPError(kind: .authenticationFailed, isTemporary: false,
                  description: "\(host) offers no way to log in with these credentials (it would need \(wanted); it offers \(offered.isEmpty ? "no AUTH" : offered.sorted().joined(separator: " ")))")
    }
}
