import Foundation
import NIOCore
import XCTest
@testable import SyncProtocol

final class GoldenVectorTests: XCTestCase {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/vectors")

    /// Reads a vector file: hex digits, whitespace ignored, `#` starts a comment.
    static func bytes(_ name: String) throws -> [UInt8] {
        let text = try String(contentsOf: directory.appendingPathComponent("\(name).hex"), encoding: .utf8)
        let digits = text.split(separator: "\n").map { line in
            line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        }.joined().filter(\.isHexDigit)
        var bytes: [UInt8] = []
        var index = digits.startIndex
        while index < digits.endIndex {
            let next = digits.index(index, offsetBy: 2)
            bytes.append(UInt8(digits[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    func testEncoding_matchesEveryVector() throws {
        if ProcessInfo.processInfo.environment["SYNC_WRITE_VECTORS"] == "1" { try writeVectors() }
        for (name, message) in GoldenVectors.all {
            let encoded = Frame.encode(message)
            XCTAssertEqual(Array(encoded.readableBytesView), try Self.bytes(name), "vector \(name)")
        }
    }

    func testDecoding_everyVectorGivesItsMessage() throws {
        for (name, message) in GoldenVectors.all {
            var buffer = ByteBuffer(bytes: try Self.bytes(name))
            XCTAssertEqual(try Frame.decode(from: &buffer, limit: Frame.defaultServerFrameLimit), message, "vector \(name)")
            XCTAssertEqual(buffer.readableBytes, 0, "vector \(name) has bytes left over")
        }
    }

    func testVectors_coverEveryMessageType() {
        let types = Set(GoldenVectors.all.map(\.message.type))
        let expected: [MessageType] = [
            .hello, .welcome, .goodbye, .runStarted, .progress, .error, .done, .storeChanged, .storeRemoved,
            .snapshot, .subscribe, .status, .syncNow, .cancel, .pause, .resume, .reload, .errors, .reply, .subscribed,
            .statusReply, .errorHistory, .runs, .ping, .runHistory, .login, .newMessages,
        ]
        XCTAssertEqual(types, Set(expected))
    }

    /// Regenerates the files (SYNC_WRITE_VECTORS=1 swift test --filter GoldenVectorTests), for a
    /// deliberate protocol change only: the files are the contract.
    private func writeVectors() throws {
        try FileManager.default.createDirectory(at: Self.directory, withIntermediateDirectories: true)
        for (name, message) in GoldenVectors.all {
            let bytes = Array(Frame.encode(message).readableBytesView)
            var lines = ["# \(name): message type \(message.type), \(bytes.count) bytes"]
            lines.append(bytes.prefix(6).map { String(format: "%02x", $0) }.joined(separator: " ") + "  # length, type")
            var rest = bytes.dropFirst(6)
            while !rest.isEmpty {
                lines.append(rest.prefix(16).map { String(format: "%02x", $0) }.joined(separator: " "))
                rest = rest.dropFirst(16)
            }
            try (lines.joined(separator: "\n") + "\n").write(
                to: Self.directory.appendingPathComponent("\(name).hex"), atomically: true, encoding: .utf8)
        }
    }
}
