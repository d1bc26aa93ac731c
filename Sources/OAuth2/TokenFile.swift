#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The tokens syncd holds for one store, as kept in its file.
public struct StoredTokens: Codable, Sendable, Hashable {
    public var refreshToken: String
    public var accessToken: String?
    /// When the access token expires (seconds since 1970), if known.
    public var expiresAt: Double?
    /// When the access token was issued (seconds since 1970).
    public var issuedAt: Double?
    /// Which server and client issued them: a store whose configuration now names another
    /// token endpoint or client must log in again rather than send the token elsewhere.
    public var tokenURL: String
    public var clientID: String
    public var scope: String?
    /// When the login that issued the refresh token happened (seconds since 1970).
    public var loggedIn: Double

    enum CodingKeys: String, CodingKey {
        case refreshToken = "refresh_token", accessToken = "access_token", expiresAt = "expires_at", issuedAt = "issued_at"
        case tokenURL = "token_url", clientID = "client_id", scope, loggedIn = "logged_in"
    }

    public init(refreshToken: String, accessToken: String?, expiresAt: Double?, issuedAt: Double?, tokenURL: String,
                clientID: String, scope: String?, loggedIn: Double) {
        self.refreshToken = refreshToken
        self.accessToken = accessToken
        self.expiresAt = expiresAt
        self.issuedAt = issuedAt
        self.tokenURL = tokenURL
        self.clientID = clientID
        self.scope = scope
        self.loggedIn = loggedIn
    }

    /// The access token, if it is still good for at least `margin` seconds.
    public func usableAccessToken(now: Double, margin: Double = 60) -> String? {
        guard let accessToken, let expiresAt else { return nil }
        return expiresAt - now > margin ? accessToken : nil
    }
}

/// One store's token file under the daemon's state directory: `oauth2/STORE.json`, mode 0600
/// in a directory of mode 0700, replaced atomically (temporary file, fsync, rename, fsync of
/// the directory), so a crash leaves the old tokens or the new, never a torn file.
public struct TokenFile: Sendable {
    public let path: String
    public var directory: String { String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) }

    public init(stateDirectory: String, store: String) {
        path = stateDirectory + "/oauth2/" + store + ".json"
    }

    /// The tokens, or nil when the store has none (never logged in, or the login was refused).
    public func load() throws -> StoredTokens? {
        guard let data = FileManager.default.contents(atPath: path) else {
            if errno == ENOENT || !FileManager.default.fileExists(atPath: path) { return nil }
            throw TokenFileError("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        do {
            return try JSONDecoder().decode(StoredTokens.self, from: data)
        } catch {
            throw TokenFileError("\(path) is damaged (\(error)); run the login again")
        }
    }

    public func save(_ tokens: StoredTokens) throws {
        if mkdir(directory, 0o700) != 0, errno != EEXIST {
            throw TokenFileError("cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(tokens)
        // A name of this writer's own: a login and a refresh saving at once never share a file.
        let temporary = path + ".tmp.\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw TokenFileError("cannot write \(temporary): \(String(cString: strerror(errno)))") }
        // A file left by an older mode, or made by hand, is tightened before anything is in it.
        fchmod(fd, 0o600)
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == data.count, synced else {
            unlink(temporary)
            throw TokenFileError("cannot write \(temporary): \(String(cString: strerror(errno)))")
        }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw TokenFileError("cannot replace \(path): \(String(cString: strerror(errno)))")
        }
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }

    /// Takes the store's refresh lock (an flock on `<store>.json.lock`), waiting for another holder
    /// (another task of this process, or another process) at most `patience`.
    /// - Returns: the descriptor that holds it, for ``unlock(_:)``.
    public func lockForRefresh(patience: Duration = .seconds(120)) async throws -> Int32 {
        if mkdir(directory, 0o700) != 0, errno != EEXIST {
            throw TokenFileError("cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        let lockPath = path + ".lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw TokenFileError("cannot open \(lockPath): \(String(cString: strerror(errno)))") }
        let deadline = ContinuousClock.now + patience
        // Polled rather than blocking: a blocked flock would hold one of the few cooperative threads.
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR, ContinuousClock.now < deadline else {
                let reason = errno == EWOULDBLOCK ? "another refresh of these tokens has taken too long" : String(cString: strerror(errno))
                close(fd)
                throw TokenFileError("cannot lock \(lockPath): \(reason)")
            }
            do { try await Task.sleep(for: .milliseconds(20)) } catch {
                close(fd)
                throw error
            }
        }
        return fd
    }

    /// Lets the next refresh go on.
    public func unlock(_ fd: Int32) {
        close(fd)
    }

    /// Forgets the tokens (a refused refresh token is no use, and must not be sent again).
    public func remove() {
        unlink(path)
    }
}

public struct TokenFileError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
