import ArgumentParser
import Foundation
import SyncIPC
import SyncJSON
import SyncProtocol

extension Syncctl {
    /// `syncctl login STORE`: the daemon runs the login (it keeps the tokens in its state
    /// directory, which this user may not be able to read); syncctl shows what to do and waits.
    struct Login: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Log a store in (OAuth2): shows the web address and the code to enter, and waits until you did.",
            discussion: """
                For an imap store with an oauth2 table. syncd asks the authorization server for a code (the OAuth2 device authorization grant, RFC 8628) and keeps the refresh token it gets in its state directory; open the address on any device, sign in and enter the code. The store does not sync while the login waits, and syncs at once after it. Exits 0 once logged in, 1 if the login was refused, declined or expired. Interrupting syncctl does not stop the login: it waits in syncd until the code expires.

                --json prints the instructions as \(JSONOutput.replyShape), then {"store", "logged_in": true|false, "message"}.
                """)

        @OptionGroup var socket: SocketOption
        @Argument(help: "The store to log in.", completion: Completion.stores) var store: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let client = try await socket.connect()
            // Subscribed first, so the outcome cannot slip by between the reply and the subscription.
            let (_, updates) = await request { try await client.subscribe(stores: [store]) }
            let reply = await request { try await client.send(.login(store: store)) }
            let code = status(for: reply)
            guard code == Exit.ok else {
                complain(reply.message)
                throw ExitCode(code)
            }
            if json {
                JSONOutput.printLine(JSONOutput.reply(reply, message: reply.message, for: .login(store: store)))
            } else {
                Output.line("\(store): \(reply.message)")
                Output.line("waiting for the login…")
            }
            let (loggedIn, message) = await Self.outcome(of: store, in: updates)
            if json {
                JSONOutput.printLine(["store": store, "logged_in": loggedIn, "message": message])
            } else if loggedIn {
                Output.line("\(store): \(message)")
            } else {
                complain("\(store): \(message)")
            }
            await client.close()
            throw ExitCode(loggedIn ? Exit.ok : Exit.refused)
        }

        /// Reads the store's events until its login succeeded (the auth-required bit, set while a
        /// login waits, clears) or failed (a store-level Error comes first).
        static func outcome(of store: String, in updates: AsyncThrowingStream<ViewerUpdate, Error>) async -> (Bool, String) {
            var waiting = false
            do {
                for try await update in updates {
                    switch update {
                    case .snapshot(let snapshot):
                        if snapshot.stores.first(where: { $0.name == store })?.info.authRequired == true { waiting = true }
                    case .event(let event) where event.store == store:
                        switch event.kind {
                        case .storeChanged(let info):
                            if info.authRequired {
                                waiting = true
                            } else if waiting {
                                return (true, "logged in; it syncs now")
                            }
                        case .error(let code, let message) where event.run == 0 && code.isFailure:
                            return (false, message)
                        case .storeRemoved:
                            return (false, "the store was removed from the configuration")
                        default:
                            break
                        }
                    case .event:
                        break
                    }
                }
            } catch {
                return (false, "lost syncd while waiting: \(error)")
            }
            return (false, "lost syncd while waiting")
        }
    }
}
