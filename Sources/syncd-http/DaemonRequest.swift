import NIOCore
import SyncIPC
import SyncProtocol

/// One request to the daemon on a connection of its own: what `/api/...` and the dashboard's
/// buttons do. The daemon checks this process's rights on each (SO_PEERCRED), as for syncctl.
enum DaemonRequest {
    static func status(socket: String, stores: [String]) async throws -> StatusReply {
        try await with(socket) { try await $0.statusReply(stores: stores) }
    }

    /// The daemon's viewer counts (nil from a daemon before 0.5), within a scrape's patience.
    static func viewers(socket: String) async throws -> ViewerCounts? {
        try await with(socket, timeout: .seconds(2)) { try await $0.statusReply().viewers }
    }

    static func errors(socket: String, stores: [String]) async throws -> [ErrorEntry] {
        try await with(socket) { try await $0.errors(stores: stores) }
    }

    static func runs(socket: String, stores: [String]) async throws -> [RunRecord] {
        try await with(socket) { try await $0.runs(stores: stores) }
    }

    static func histories(socket: String) async throws -> ([RunRecord], [ErrorEntry]) {
        try await with(socket) { (try await $0.runs(), try await $0.errors()) }
    }

    static func send(_ command: Request.Command, socket: String) async throws -> Reply {
        try await with(socket) { try await $0.send(command) }
    }

    private static func with<T: Sendable>(_ socket: String, timeout: TimeAmount = .seconds(10),
                                          _ body: (SyncClient) async throws -> T) async throws -> T {
        let client = try await SyncClient.connect(to: socket, clientName: "syncd-http", requestTimeout: timeout)
        do {
            let result = try await body(client)
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }
}
