import Foundation
import Logging
import NIOCore
import SyncIPC
import SyncProtocol
import TestSupport
import XCTest

/// A short socket path in /tmp (`sun_path` holds only 108 bytes).
func temporarySocketPath() -> String {
    "/tmp/sipc-\(UInt32.random(in: 0...UInt32.max)).sock"
}

func makeServer(
    path: String = temporarySocketPath(), access: AccessPolicy = .watchOnly, control: (any ControlHandler)? = nil,
    firstSeq: UInt64 = 1, configure: (inout SyncServer.Limits) -> Void = { _ in }
) async throws -> SyncServer {
    var limits = SyncServer.Limits()
    configure(&limits)
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    let server = SyncServer(configuration: .init(
        listener: .path(path), serverName: "test", access: access, control: control, limits: limits,
        firstSeq: firstSeq, logger: logger))
    try await server.start()
    return server
}

extension SyncServer {
    var socketPath: String {
        guard case .path(let path, _) = configuration.listener else { fatalError("not a path listener") }
        return path
    }

    /// Publishes a store and returns once viewers can see it (the forwarder has applied it).
    func announce(_ store: String, provider: String = "synthetic") async {
        let seq = publisher.publish(store: store, run: 0, .storeChanged(StoreInfo(provider: provider)))
        await waitForForwarder(seq)
    }

    func waitForForwarder(_ seq: UInt64) async {
        while await snapshot().seq < seq { try? await Task.sleep(nanoseconds: 1_000_000) }
    }
}

/// Collects `count` updates from a subscription, failing the test after `timeout`.
func collect(
    _ count: Int, from updates: AsyncThrowingStream<ViewerUpdate, Error>, timeout: Duration = .seconds(10)
) async throws -> [ViewerUpdate] {
    try await withTimeout(timeout, "\(count) updates") {
        var collected: [ViewerUpdate] = []
        for try await update in updates {
            collected.append(update)
            if collected.count == count { break }
        }
        return collected
    }
}

extension ViewerUpdate {
    var event: SyncEvent? {
        if case .event(let event) = self { return event }
        return nil
    }
}

extension Message {
    var goodbye: Goodbye? {
        if case .goodbye(let goodbye) = self { return goodbye }
        return nil
    }
}
