import Foundation
import MailServers
import SMTPClient
import XCTest

/// Each SASL mechanism the client speaks, against Postfix offering only that one (through
/// Dovecot's auth, which checks a bearer token as the user's password).
final class AuthenticationTests: XCTestCase {
    private func login(offering mechanisms: String, _ login: SMTPLogin, loggedAs method: String) async throws {
        let postfix = try Postfix(authMechanisms: mechanisms)
        let submission = try Submission(postfix)
        let connection = try await submission.connect(login: login)
        XCTAssertEqual(connection.capabilities.authMechanisms, Set(mechanisms.uppercased().split(separator: " ").map(String.init)))
        let path = try submission.message(subject: method, body: "logged in with \(method)\n")
        let delivery = try await connection.send(SMTPEnvelope(from: "alice@example.test", recipients: ["bob@example.test"]), messageFile: path)
        await connection.quit()
        XCTAssertEqual(delivery.accepted, ["bob@example.test"])
        XCTAssertTrue(postfix.waitForLog("sasl_method=\(method), sasl_username=alice"), postfix.log)
    }

    func testPlain() async throws {
        try await login(offering: "plain login", .password(user: "alice", password: "secret"), loggedAs: "PLAIN")
    }

    func testLogin_whenPlainIsNotOffered() async throws {
        try await login(offering: "login", .password(user: "alice", password: "secret"), loggedAs: "LOGIN")
    }

    func testOAuthBearer_isPreferred() async throws {
        try await login(offering: "xoauth2 oauthbearer", .oauth2(user: "alice", accessToken: "secret"), loggedAs: "OAUTHBEARER")
    }

    func testXOAuth2_whenOAuthBearerIsNotOffered() async throws {
        try await login(offering: "xoauth2", .oauth2(user: "alice", accessToken: "secret"), loggedAs: "XOAUTH2")
    }

    /// A refused token: the server's 334 error challenge is answered, and its 535 is the error.
    func testRefusedToken_isAuthenticationFailed() async throws {
        for mechanisms in ["oauthbearer", "xoauth2"] {
            let postfix = try Postfix(authMechanisms: mechanisms)
            let submission = try Submission(postfix)
            do {
                _ = try await submission.connect(login: .oauth2(user: "alice", accessToken: "expired"))
                XCTFail("\(mechanisms): logged in with a bad token")
            } catch let error as SMTPError {
                XCTAssertEqual(error.kind, .authenticationFailed, "\(mechanisms): \(error)")
                XCTAssertEqual(error.isTemporary, false)
                XCTAssertEqual(error.reply?.code, 535, "\(mechanisms): \(error)")
            }
        }
    }

    func testNoMechanismForTheCredentials_isAuthenticationFailed() async throws {
        let postfix = try Postfix(authMechanisms: "plain login")
        let submission = try Submission(postfix)
        do {
            _ = try await submission.connect(login: .oauth2(user: "alice", accessToken: "secret"))
            XCTFail("logged in without an OAuth2 mechanism")
        } catch let error as SMTPError {
            XCTAssertEqual(error.kind, .authenticationFailed)
            XCTAssertNil(error.reply, "nothing was tried")
            XCTAssertTrue(error.description.contains("LOGIN PLAIN"), error.description)
        }
    }
}
