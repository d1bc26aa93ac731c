import Foundation
import MailServers
import XCTest
@testable import IMAPProvider

/// COMPRESS=DEFLATE (RFC 4978) against Dovecot's imap_zlib plugin: the sync is the same message
/// by message, the wire carries less, and Dovecot's rawlog shows the stream compressed.
final class CompressTests: IMAPProviderTestCase {
    /// Over TLS (the deflate handlers go right after TLS) and in the clear.
    func testFullSync_withCompress_matchesTheServer_andTheWireCarriesLess() async throws {
        let dovecot = try Dovecot(messages: 200, folders: "INBOX,Sent", compress: true, rawlog: true)
        for security in ["tls", "none"] {
            let compressed = try await download(dovecot, security: security, compress: true)
            let plain = try await download(dovecot, security: security, compress: false)
            XCTAssertLessThan(Double(compressed.received), 0.6 * Double(plain.received),
                              "\(security): \(compressed.received) bytes compressed, \(plain.received) not")
            XCTAssertLessThan(compressed.sent, plain.sent, security)
        }
        // Dovecot's side: COMPRESS DEFLATE accepted, and what followed it was not plain text
        // (the rawlog holds the bytes as they came off the socket).
        var compressedSessions = 0
        for file in try FileManager.default.contentsOfDirectory(atPath: dovecot.rawlogDirectory) where file.hasSuffix(".in") {
            let input = String(decoding: try Data(contentsOf: URL(fileURLWithPath: dovecot.rawlogDirectory + "/" + file)), as: UTF8.self)
            let output = String(decoding: try Data(contentsOf: URL(fileURLWithPath: dovecot.rawlogDirectory + "/" + file.dropLast(3) + ".out")), as: UTF8.self)
            guard input.contains("COMPRESS DEFLATE") else {
                XCTAssertTrue(input.contains("UID FETCH"), "an uncompressed session is readable")
                continue
            }
            compressedSessions += 1
            XCTAssertTrue(output.contains("OK Begin compression"), output.prefix(300).description)
            let after = input[input.range(of: "COMPRESS DEFLATE")!.upperBound...]
            XCTAssertFalse(after.contains("UID FETCH") || after.contains("LOGOUT"), "plain commands after COMPRESS")
        }
        XCTAssertGreaterThanOrEqual(compressedSessions, 2)
    }

    /// A server that does not offer COMPRESS: nothing is asked for, the sync works as ever.
    func testServerWithoutCompress_isSyncedAsEver() async throws {
        let dovecot = try Dovecot(messages: 20, folders: "INBOX", rawlog: true)
        _ = try await download(dovecot, security: "none", compress: true)
        for file in try FileManager.default.contentsOfDirectory(atPath: dovecot.rawlogDirectory) where file.hasSuffix(".in") {
            let input = String(decoding: try Data(contentsOf: URL(fileURLWithPath: dovecot.rawlogDirectory + "/" + file)), as: UTF8.self)
            XCTAssertFalse(input.contains("COMPRESS"))
        }
    }

    /// Opt-in (SYNCD_COMPRESS_BENCH=1, or Benchmarks/imap-compress.sh): a full download of
    /// SYNCD_COMPRESS_MESSAGES (default 2 000) generated messages (text of random words, base64
    /// attachments of random bytes: they compress as real mail does, not ~100x as the tests'
    /// repeated line) over TLS with and without COMPRESS; prints bytes on the wire and wall time.
    func testBenchmark_fullDownload_withAndWithoutCompress() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard environment["SYNCD_COMPRESS_BENCH"] != nil else {
            throw XCTSkip("set SYNCD_COMPRESS_BENCH=1 (or run Benchmarks/imap-compress.sh)")
        }
        let messages = Int(environment["SYNCD_COMPRESS_MESSAGES"] ?? "") ?? 2_000
        let dovecot = try Dovecot(messages: messages, folders: "INBOX,Sent,Archiv/2024", compress: true, mixedBodies: true)
        let server = try serverContents(dovecot)
        let bytes = try FileManager.default.subpathsOfDirectory(atPath: dovecot.mailbox)
            .filter { $0.contains("/cur/") || $0.hasPrefix("cur/") }
            .reduce(0) { $0 + ((try? FileManager.default.attributesOfItem(atPath: dovecot.mailbox + "/" + $1)[.size] as? Int) ?? 0) }
        _ = try await download(dovecot, security: "tls", compress: false)  // warm Dovecot's index and the page cache
        let plain = try await download(dovecot, security: "tls", compress: false)
        let compressed = try await download(dovecot, security: "tls", compress: true)
        func mb(_ count: Int) -> String { String(format: "%.1f MB", Double(count) / 1_048_576) }
        func kb(_ count: Int) -> String { String(format: "%.0f KB", Double(count) / 1024) }
        print("compress: \(server.count) messages, \(mb(bytes)) on the server, full download over TLS on loopback")
        print(String(format: "compress: off: %@ received, %@ sent, %.2f s", mb(plain.received), kb(plain.sent), plain.seconds))
        print(String(format: "compress: on:  %@ received, %@ sent, %.2f s (%.0f%% of the bytes)",
                     mb(compressed.received), kb(compressed.sent), compressed.seconds, 100 * Double(compressed.received) / Double(plain.received)))
    }

    /// A first sync into an empty Maildir; checked against the server; the bytes on the wire.
    private func download(_ dovecot: Dovecot, security: String, compress: Bool) async throws -> (received: Int, sent: Int, seconds: Double) {
        try? FileManager.default.removeItem(atPath: local)
        let imap = try provider(dovecot, security: security, extra: "compress = \(compress)" + (security == "tls" ? "\nca_file = \"\(dovecot.caFile)\"" : ""))
        let (received, sent) = (WireTraffic.total.received, WireTraffic.total.sent)
        let started = ContinuousClock.now
        let (result, errors) = try await sync(imap)
        let seconds = (ContinuousClock.now - started) / .seconds(1)
        XCTAssertEqual(result, .ok, "\(security), compress \(compress): \(errors)")
        try assertInSync(dovecot)
        return (WireTraffic.total.received - received, WireTraffic.total.sent - sent, seconds)
    }
}
