/// A 32-bit result code in the style of a Windows HRESULT, as MAPI's sync callbacks use.
///
/// Bit 31 is the severity: set means failure (error), clear means success. A success code other
/// than zero is a warning: the work finished, but not everything went to plan. Values follow MAPI
/// where MAPI has one (`MAPI_E_USER_CANCEL`, `MAPI_E_LOGON_FAILED`, ...); syncd's own codes use
/// facility 4 (`FACILITY_ITF`) with numbers from 0x0A00. Unknown codes are valid: a newer peer may
/// send them, and ``name`` then reads as hex.
public struct SyncStatus: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    /// True when bit 31 (severity) is set.
    public var isFailure: Bool { rawValue & 0x8000_0000 != 0 }
    /// True for a success code other than ``ok``.
    public var isWarning: Bool { !isFailure && rawValue != 0 }
    /// True only for ``ok``.
    public var isOK: Bool { rawValue == 0 }

    /// The well-known entry for this code, if any.
    public var known: (name: String, text: String)? {
        Self.table[rawValue]
    }

    /// A short stable identifier such as `cancelled`, or `0x80040A99` for an unknown code.
    public var name: String { known?.name ?? hex }

    /// A sentence for people, such as "cancelled by the user".
    public var text: String {
        if let known { return known.text }
        return isFailure ? "error \(hex)" : "warning \(hex)"
    }

    public var hex: String {
        let digits = String(rawValue, radix: 16, uppercase: true)
        return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
    }

    public var description: String { name }

    /// Looks a code up by its ``name`` (as used in configs and on the command line).
    public init?(name: String) {
        guard let entry = Self.table.first(where: { $0.value.name == name }) else { return nil }
        self.rawValue = entry.key
    }

    /// Every well-known code, ordered by value.
    public static var allKnown: [SyncStatus] { table.keys.sorted().map(SyncStatus.init(rawValue:)) }
}

extension SyncStatus {
    public static let ok = SyncStatus(0x0000_0000)
    /// `MAPI_W_PARTIAL_COMPLETION`: done, but some items (folders, messages) failed.
    public static let partial = SyncStatus(0x0004_0680)
    /// A warning with no more specific code.
    public static let warning = SyncStatus(0x0004_0A00)

    /// `MAPI_E_CALL_FAILED` (`E_FAIL`): an error with no more specific code.
    public static let failed = SyncStatus(0x8000_4005)
    /// `MAPI_E_NO_ACCESS` (`E_ACCESSDENIED`): the peer may not do this.
    public static let permissionDenied = SyncStatus(0x8007_0005)
    /// `MAPI_E_INVALID_PARAMETER` (`E_INVALIDARG`).
    public static let invalidArgument = SyncStatus(0x8007_0057)
    /// `MAPI_E_BUSY`: the store is already syncing.
    public static let busy = SyncStatus(0x8004_010B)
    /// `MAPI_E_NOT_FOUND`: no such store.
    public static let notFound = SyncStatus(0x8004_010F)
    /// `MAPI_E_VERSION`: no protocol version in common.
    public static let unsupportedVersion = SyncStatus(0x8004_0110)
    /// `MAPI_E_LOGON_FAILED`: the server refused the credentials.
    public static let authFailed = SyncStatus(0x8004_0111)
    /// `MAPI_E_USER_CANCEL`: the run was cancelled.
    public static let cancelled = SyncStatus(0x8004_0113)
    /// `MAPI_E_NETWORK_ERROR`: the server could not be reached or dropped the connection.
    public static let network = SyncStatus(0x8004_0115)
    /// `MAPI_E_DISK_ERROR`: local storage failed (disk full, permissions, I/O error).
    public static let storage = SyncStatus(0x8004_0116)
    /// `MAPI_E_CORRUPT_DATA`: the remote side broke its protocol.
    public static let protocolError = SyncStatus(0x8004_011B)
    /// `MAPI_E_TIMEOUT`.
    public static let timeout = SyncStatus(0x8004_0401)

    /// The configuration is invalid.
    public static let config = SyncStatus(0x8004_0A01)
    /// The run reported nothing for too long and was given up.
    public static let stalled = SyncStatus(0x8004_0A02)
    /// The provider ended without a result (crashed, threw, or never called done).
    public static let providerFailed = SyncStatus(0x8004_0A03)
    /// The store is paused.
    public static let paused = SyncStatus(0x8004_0A04)
    /// The daemon is shutting down.
    public static let shuttingDown = SyncStatus(0x8004_0A05)
    /// The store needs a person to log in again (`syncctl login STORE`): its OAuth2 refresh
    /// token was refused, or it never logged in. It is not retried until then.
    public static let authRequired = SyncStatus(0x8004_0A06)
    /// A frame could not be decoded.
    public static let malformedFrame = SyncStatus(0x8004_0A10)
    /// A frame exceeded the size limit.
    public static let frameTooLarge = SyncStatus(0x8004_0A11)
    /// The peer did not complete the handshake in time.
    public static let handshakeTimeout = SyncStatus(0x8004_0A12)
    /// The viewer fell too far behind and was disconnected; it may reconnect with "since seq".
    public static let tooSlow = SyncStatus(0x8004_0A13)
    /// The server has as many viewers as it accepts.
    public static let tooManyViewers = SyncStatus(0x8004_0A14)
    /// The request is not valid at this point of the conversation.
    public static let unexpectedMessage = SyncStatus(0x8004_0A15)

    static let table: [UInt32: (name: String, text: String)] = [
        ok.rawValue: ("ok", "completed"),
        partial.rawValue: ("partial", "completed, but some items failed"),
        warning.rawValue: ("warning", "completed with warnings"),
        failed.rawValue: ("failed", "failed"),
        permissionDenied.rawValue: ("permission-denied", "permission denied"),
        invalidArgument.rawValue: ("invalid-argument", "invalid argument"),
        busy.rawValue: ("busy", "already syncing"),
        notFound.rawValue: ("not-found", "no such store"),
        unsupportedVersion.rawValue: ("unsupported-version", "no protocol version in common"),
        authFailed.rawValue: ("auth-failed", "authentication failed"),
        cancelled.rawValue: ("cancelled", "cancelled"),
        network.rawValue: ("network", "network error"),
        storage.rawValue: ("storage", "local storage error"),
        protocolError.rawValue: ("protocol", "the server broke the protocol"),
        timeout.rawValue: ("timeout", "timed out"),
        config.rawValue: ("config", "configuration error"),
        stalled.rawValue: ("stalled", "stalled: no progress reported in time"),
        providerFailed.rawValue: ("provider-failed", "the provider ended without a result"),
        paused.rawValue: ("paused", "the store is paused"),
        shuttingDown.rawValue: ("shutting-down", "the daemon is shutting down"),
        authRequired.rawValue: ("auth-required", "a login is required"),
        malformedFrame.rawValue: ("malformed-frame", "malformed frame"),
        frameTooLarge.rawValue: ("frame-too-large", "frame too large"),
        handshakeTimeout.rawValue: ("handshake-timeout", "handshake not completed in time"),
        tooSlow.rawValue: ("too-slow", "viewer too slow: fell behind the event stream"),
        tooManyViewers.rawValue: ("too-many-viewers", "too many viewers connected"),
        unexpectedMessage.rawValue: ("unexpected-message", "message not expected here"),
    ]
}
