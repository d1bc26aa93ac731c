import SyncIPC
import SyncProtocol

/// One request to the daemon on a connection of its own: what `/api/...` and the dashboard's
/// buttons do. The daemon checks this process's rights on each (SO_PEERCRED), as for syncctl.
enum DaemonRequest {
    static func status(socket: String, stores: [String]) async throws -> Snapshot {
        try await with(socket) { try await $0.status(stores: stores) }
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

    private static func with<T: Sendable>(_ socket: String, _ body: (SyncClient) async throws -> T) async throws -> T {
        let client = try await SyncClient.connect(to: socket, clientName: "syncd-http", requestTimeout: .seconds(10))
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
