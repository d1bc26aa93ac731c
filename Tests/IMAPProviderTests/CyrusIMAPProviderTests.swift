import MailServers
import XCTest

/// The imap provider against a real Cyrus IMAP (the second server beside Dovecot): the same
/// end-to-end bodies as ``IMAPProviderTests``, each sync checked message by message against what
/// Cyrus returns over IMAP.
///
/// Mostly in Debian's name space (separator ".", alice's folders below INBOX: "INBOX.Sent", which
/// syncd keeps as the folder INBOX/Sent), and some in Cyrus's own defaults ("/", folders beside
/// INBOX) and with "/" below INBOX.
final class CyrusIMAPProviderTests: IMAPProviderTestCase {
    static func cyrus(_ namespace: Cyrus.Namespace = .debian, suppressing suppressed: String? = nil) -> MakeIMAPServer {
        { messages, folders in try Cyrus(messages: messages, folders: folders, namespace: namespace, suppressing: suppressed) }
    }

    func testFirstSync_matchesTheServerMessageByMessage_andASecondFindsNothingNew() async throws {
        try await firstSyncMatchesTheServer(Self.cyrus())
    }

    func testFirstSync_slashSeparatorBelowInbox() async throws {
        try await firstSyncMatchesTheServer(Self.cyrus(.slashBelowInbox))
    }

    func testFirstSync_upstreamDefaults_slashSeparatorAndAltNamespace() async throws {
        try await firstSyncMatchesTheServer(Self.cyrus(.upstream))
    }

    func testIncremental_withQRESYNC() async throws {
        try await incrementalSyncs(Self.cyrus())
    }

    func testIncremental_withCONDSTOREOnly() async throws {
        try await incrementalSyncs(Self.cyrus(suppressing: "QRESYNC"))
    }

    func testIncremental_withPlainIMAP4rev1() async throws {
        try await incrementalSyncs(Self.cyrus(suppressing: "QRESYNC CONDSTORE"))
    }

    func testIncremental_upstreamDefaults() async throws {
        try await incrementalSyncs(Self.cyrus(.upstream))
    }

    func testHeadersOnly_scheduledRunsFetchHeaders_andAnOnDemandRunTheBodies() async throws {
        try await headersOnlyThenBodies(Self.cyrus())
    }

    func testLocalFlagChanges_areUploaded() async throws {
        try await localFlagChangesAreUploaded(Self.cyrus())
    }

    func testWrongPassword_isOneAuthFailedError() async throws {
        try await wrongPasswordIsOneAuthFailedError(Self.cyrus())
    }

    func testConnectionCutMidFetch_thenRerun_deliversEveryMessageOnce() async throws {
        try await connectionCutMidFetchThenRerun(Self.cyrus())
    }

    func testUIDValidityChange_resyncsWithoutDuplicates() async throws {
        try await uidValidityChangeResyncs(Self.cyrus())
    }

    func testFolderDeletedOnServer_goesLocallyToo_andAFailingFolderDoesNotStopTheOthers() async throws {
        try await folderDeletedOnServerGoesLocallyToo(Self.cyrus())
    }

    func testNestedLayout_withExcludedFolders() async throws {
        try await nestedLayoutWithExcludedFolders(Self.cyrus())
    }

    func testNestedLayout_withExcludedFolders_slashSeparatorBelowInbox() async throws {
        try await nestedLayoutWithExcludedFolders(Self.cyrus(.slashBelowInbox))
    }
}
