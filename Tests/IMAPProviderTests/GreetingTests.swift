import Foundation
import MailServers
import NIOCore
import NIOPosix
import XCTest
@testable import IMAPProvider
@testable import SyncDaemon

/// A server that greets the moment it accepts (Cyrus does) must never lose its greeting to a
/// reader attached too late.
final class GreetingTests: XCTestCase {
    /// Writes an IMAP greeting as soon as a connection is up, before the client says anything.
    private final class GreetAtOnce: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        func channelActive(context: ChannelHandlerContext) {
            let greeting = context.channel.allocator.buffer(string: "* OK [CAPABILITY IMAP4rev1] ready\r\n")
            context.writeAndFlush(Self.wrapOutboundOut(greeting), promise: nil)
        }
    }

    func testAnImmediateGreeting_isReadOnEveryConnection() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let listener = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(GreetAtOnce()) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = listener.localAddress!.port!
        let config = try DaemonConfig.parse("""
            [store.mail]
            provider = "imap"
            host = "127.0.0.1"
            port = \(port)
            security = "none"
            user = "alice"
            password = { file = "/dev/null" }
            maildir = "/tmp/unused"
            timeout = "5s"
            """, file: "test.toml", factories: [IMAPFactory()])
        let account = (config.stores["mail"]!.provider as! IMAPProvider).account
        for attempt in 1...300 {
            let greeting = try await IMAPConnection.with(account) { connection in
                try await connection.read()
            }
            let text = greeting.map { String(buffer: $0) } ?? "nothing"
            XCTAssertTrue(text.hasPrefix("* OK"), "connection \(attempt) got \(text)")
            if !text.hasPrefix("* OK") { break }
        }
        try await listener.close()
        try await group.shutdownGracefully()
    }
}
