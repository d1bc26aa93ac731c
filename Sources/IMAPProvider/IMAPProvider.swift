import Foundation
import IMAPProtocol
import Maildir
import NIOCore
import SyncDaemon
import SyncProtocol

/// The `imap` provider: an IMAP account synchronised into a Maildir.
///
/// Each run opens the local folders while it connects (TLS, STARTTLS, or plain on loopback) and
/// logs in, mirrors the folder list, then per folder that changed uploads local flag changes and
/// deletions, applies the server's flag changes and expunges, appends new local messages, and
/// downloads new messages in pipelined batches
/// committed durably (see ``IMAPSyncRun``). A failing folder reports an
/// Error and the others go on (result `partial`); a refused login is one Error and Done
/// `auth-failed`; a lost connection is Done `network`.
public struct IMAPProvider: StoreProvider {
    public let account: IMAPAccount
    /// Stops a run at an upload step, for crash tests (``UploadStep``); never set in production.
    var uploadCrashHook: UploadCrashHook?

    public init(account: IMAPAccount) {
        self.account = account
    }

    public func synchronize(_ request: SyncRequest, callback: SyncCallback) async throws -> SyncStatus {
        let password: String
        do {
            password = try callback.secret(account.password)
        } catch {
            callback.error(.config, "\(error)")
            return .config
        }
        let store: MaildirStore
        do {
            store = try MaildirStore(root: account.maildir, layout: account.layout == .nested ? .nested : .maildirPlusPlus)
        } catch {
            callback.error(.storage, "cannot open the Maildir \(account.maildir): \(error)")
            return .storage
        }
        // The Maildir side (recovery, the local-change scan) runs while the server handshakes.
        let uploads = request.flags.contains(.uploadContents)
        let preparing = Task { [account] in try LocalFolders(store: store, account: account, scanLocalChanges: uploads) }
        // Every folder is closed before returning, so the next run finds the store free.
        do {
            let result = try await synchronize(request, callback: callback, password: password, store: store, preparing: preparing)
            (try? await preparing.value)?.closeAll()
            return result
        } catch {
            (try? await preparing.value)?.closeAll()
            throw error
        }
    }

    private func synchronize(
        _ request: SyncRequest, callback: SyncCallback, password: String, store: MaildirStore,
        preparing: Task<LocalFolders, any Error>
    ) async throws -> SyncStatus {
        do {
            return try await IMAPConnection.with(account) { connection in
                let session = IMAPSession(connection)
                try await session.open(account, password: password)
                let localFolders = try await preparing.value
                let headersOnly = request.flags.contains(.headersOnly) || (account.headersOnly && request.trigger != .onDemand)
                let run = IMAPSyncRun(
                    account: account, session: session, store: store, localFolders: localFolders, callback: callback,
                    flags: request.flags, headersOnly: headersOnly, crashHook: uploadCrashHook)
                let result = try await run.run()
                await session.logout()
                return result
            }
        } catch is CancellationError {
            return .cancelled
        } catch let error as IMAPCommandError {
            callback.error(error.status, "\(account.host): \(error)")
            return error.status
        } catch let error as IMAPConnectionError {
            if callback.isCancelled { return .cancelled }
            callback.error(.network, "\(account.host): \(error)")
            return .network
        } catch let error as MaildirError {
            callback.error(.storage, "\(error)")
            return .storage
        }
    }
}

public struct IMAPFactory: ProviderFactory {
    public init() {}
    public let name = "imap"
    public var optionKeys: [String] { IMAPAccount.keys }

    public func makeProvider(for store: String, options: ConfigSection) throws -> any StoreProvider {
        IMAPProvider(account: try IMAPAccount(options: options))
    }
}
