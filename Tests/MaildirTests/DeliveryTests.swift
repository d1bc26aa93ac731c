#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest
@testable import Maildir

final class DeliveryTests: XCTestCase {
    func testCommit_makesMessagesDurableUnderMarkedNames() throws {
        let directory = try TemporaryDirectory()
        let store = try MaildirStore(directory)
        let folder = try store.prepare(uidValidity: 4242)
        let date = Date(timeIntervalSince1970: 1_600_000_000)
        let batch = try folder.beginBatch()
        let writer = try batch.open(uid: 7, flags: [.seen, .replied], internalDate: date, sizeHint: 10)
        try writer.write(Array("Subject: hi\r\n\r\nbody\r\n".utf8))
        try writer.finish()
        XCTAssertEqual(try folder.fileNames("cur"), [], "nothing visible before commit")
        XCTAssertEqual(try batch.commit(), [7])

        let names = try folder.fileNames("cur")
        XCTAssertEqual(names.count, 1)
        let name = try XCTUnwrap(names.first)
        let pattern = #"^\d+\.M\d+P\d+Q\d+R[0-9a-f]{8}\.test\.host,S=18,F=[0-9a-f]{8},V=4242,U=7:2,RS$"#
        XCTAssertNotNil(name.range(of: pattern, options: .regularExpression), name)
        XCTAssertEqual(try Posix.readFile(folder.path + "/cur/" + name), Array("Subject: hi\n\nbody\n".utf8))
        let info = try XCTUnwrap(try Posix.status(folder.path + "/cur/" + name))
        XCTAssertEqual(info.st_mtim.tv_sec, 1_600_000_000, "mtime is the INTERNALDATE")
        XCTAssertEqual(info.st_mode & 0o777, 0o600)
        XCTAssertEqual(try folder.fileNames("tmp"), [])
        XCTAssertEqual(folder.map[7]?.flags, [.seen, .replied])
        XCTAssertEqual(folder.highestUID, 7)

        folder.close()
        let reopened = try store.openFolder(.inbox)
        XCTAssertTrue(reopened.lastRecovery.isEmpty)
        XCTAssertEqual(reopened.map, folder.map)
        XCTAssertEqual(reopened.filePath(for: 7), folder.path + "/cur/" + name)
    }

    func testCommit_fsyncsEachFileOnceAndEachDirectoryOnce() throws {
        let directory = try TemporaryDirectory()
        let store = try MaildirStore(directory)
        let folder = try store.prepare()
        let batch = try folder.beginBatch()
        let before = store.fsyncs
        for uid in UInt32(1)...20 {
            let writer = try batch.open(uid: uid, flags: [.seen])
            for _ in 0..<50 { try writer.write(Array(repeating: UInt8(ascii: "x"), count: 100)) }
            try writer.finish()
        }
        XCTAssertEqual(store.fsyncs, before, "writes and finish never fsync")
        _ = try batch.commit()
        // 20 files + cur/ + (map file + folder directory).
        XCTAssertEqual(store.fsyncs - before, 20 + 1 + 2)
    }

    func testCommit_withUnseenToNew_syncsBothDirectoriesOnce() throws {
        let directory = try TemporaryDirectory()
        var options = MaildirStore.Options(hostname: "h")
        options.deliverUnseenToNew = true
        let store = try MaildirStore(directory, options: options)
        let folder = try store.prepare()
        let before = store.fsyncs
        try folder.deliver(1...10, flags: { $0 % 2 == 0 ? [.seen] : [] })
        XCTAssertEqual(store.fsyncs - before, 10 + 2 + 2)
        XCTAssertEqual(try folder.fileNames("new").count, 5)
        XCTAssertEqual(try folder.fileNames("cur").count, 5)
        XCTAssertTrue(try folder.fileNames("new").allSatisfy { !$0.contains(":") }, "new/ files carry no info")
        try assertConsistent(folder, expected: Set(1...10))
        XCTAssertTrue(try folder.scanLocalChanges().isEmpty)
    }

    func testLargeMessage_streamedInMiBChunks_buffersAtMostOneBufferWhateverItsSize() throws {
        let directory = try TemporaryDirectory()
        let store = try MaildirStore(directory)
        let folder = try store.prepare()
        let batch = try folder.beginBatch()
        let writer = try batch.open(uid: 1, sizeHint: 100 << 20)
        var chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1 << 20)
        for index in 0..<100 {
            chunk[0] = UInt8(index)
            chunk[chunk.count - 2] = 13  // CRLF at the end of each chunk
            chunk[chunk.count - 1] = 10
            try writer.write(chunk)
            XCTAssertLessThanOrEqual(writer.peakBuffered, MessageWriter.bufferCapacity)
            XCTAssertLessThanOrEqual(writer.size, (index + 1) << 20, "written through, not accumulated")
            XCTAssertGreaterThanOrEqual(writer.size, index << 20)
        }
        try writer.finish()
        XCTAssertEqual(writer.bufferAllocation, 0, "a finished writer waiting for its commit holds no buffer")
        XCTAssertEqual(writer.size, 100 * ((1 << 20) - 1), "one CR dropped per chunk")
        XCTAssertEqual(try batch.commit(), [1])
        let path = try XCTUnwrap(folder.filePath(for: 1))
        XCTAssertEqual(try Posix.status(path).map { Int($0.st_size) }, writer.size)
        XCTAssertTrue(path.contains(",S=\(writer.size),"))
        unlink(path)
    }

    func testLineEndings_CRLFBecomesLFAcrossAnyChunking() throws {
        let directory = try TemporaryDirectory()
        let store = try MaildirStore(directory)
        let folder = try store.prepare()
        let input = Array("a\r\nb\r\r\nc\rd\r\n\r\n\r".utf8)
        let expected = Array("a\nb\r\nc\rd\n\n\r".utf8)
        for chunk in 1...input.count {
            let batch = try folder.beginBatch()
            let writer = try batch.open(uid: UInt32(chunk))
            var offset = 0
            while offset < input.count {
                try writer.write(input[offset..<min(offset + chunk, input.count)])
                offset += chunk
            }
            try writer.finish()
            _ = try batch.commit()
            XCTAssertEqual(try Posix.readFile(folder.filePath(for: UInt32(chunk))!), expected, "chunk \(chunk)")
        }
    }

    func testLineEndings_preserveKeepsBytes() throws {
        let directory = try TemporaryDirectory()
        let store = try MaildirStore(directory, options: MaildirStore.Options(hostname: "h", lineEndings: .preserve))
        let folder = try store.prepare()
        let batch = try folder.beginBatch()
        let writer = try batch.open(uid: 1)
        let bytes = Array("a\r\nb\r".utf8) + (0...255).map(UInt8.init)
        try writer.write(bytes)
        try writer.finish()
        _ = try batch.commit()
        XCTAssertEqual(try Posix.readFile(folder.filePath(for: 1)!), bytes)
    }

    func testRapidDelivery_givesEveryMessageAUniqueName() throws {
        let directory = try TemporaryDirectory()
        let store = try MaildirStore(directory)
        let folder = try store.prepare()
        for start in stride(from: UInt32(1), through: 4001, by: 1000) {
            let batch = try folder.beginBatch()
            for uid in start..<start + 1000 { try batch.open(uid: uid).finish() }
            XCTAssertEqual(try batch.commit().count, 1000)
        }
        let names = try folder.fileNames("cur")
        XCTAssertEqual(names.count, 5000)
        XCTAssertEqual(Set(names.map { MessageFileName($0).base.split(separator: ",")[0] }).count, 5000)
        XCTAssertEqual(folder.map.count, 5000)
    }

    func testDuplicateUID_isRefusedInMapAndInBatch() throws {
        let directory = try TemporaryDirectory()
        let store = try MaildirStore(directory)
        let folder = try store.prepare()
        try folder.deliver([1])
        let batch = try folder.beginBatch()
        XCTAssertThrowsError(try batch.open(uid: 1)) { XCTAssertEqual(($0 as? MaildirError)?.code, .duplicateUID) }
        _ = try batch.open(uid: 2)
        XCTAssertThrowsError(try batch.open(uid: 2)) { XCTAssertEqual(($0 as? MaildirError)?.code, .duplicateUID) }
        XCTAssertThrowsError(try batch.open(uid: 0)) { XCTAssertEqual(($0 as? MaildirError)?.code, .duplicateUID) }
    }

    func testTwoBatchesWithSameUID_commitItOnce() throws {
        let directory = try TemporaryDirectory()
        let store = try MaildirStore(directory)
        let folder = try store.prepare()
        let first = try folder.beginBatch()
        let second = try folder.beginBatch()
        for batch in [first, second] {
            let writer = try batch.open(uid: 5)
            try writer.write(messageBody(uid: 5))
            try writer.finish()
        }
        XCTAssertEqual(try first.commit(), [5])
        XCTAssertEqual(try second.commit(), [], "the first batch already committed UID 5")
        try assertConsistent(folder, expected: [5])
    }

    func testCommit_discardsUnfinishedWriters() throws {
        let directory = try TemporaryDirectory()
        let store = try MaildirStore(directory)
        let folder = try store.prepare()
        let batch = try folder.beginBatch()
        let done = try batch.open(uid: 1)
        try done.write(messageBody(uid: 1))
        try done.finish()
        let cut = try batch.open(uid: 2)
        try cut.write(Array("half a mess".utf8))  // the connection dropped here
        XCTAssertEqual(try batch.commit(), [1])
        XCTAssertThrowsError(try cut.write([1])) { XCTAssertEqual(($0 as? MaildirError)?.code, .writerClosed) }
        XCTAssertThrowsError(try batch.commit()) { XCTAssertEqual(($0 as? MaildirError)?.code, .batchClosed) }
        try assertConsistent(folder, expected: [1])
    }

    func testCommitFailure_makesHandleNeedReopen_andReopenRecovers() throws {
        let directory = try TemporaryDirectory()
        var store: MaildirStore? = try MaildirStore(directory)
        var folder: MaildirFolder? = try store!.prepare()
        try folder!.deliver(1...2)
        do {
            let batch = try folder!.beginBatch()
            var writers: [MessageWriter] = []
            for uid in UInt32(3)...6 {
                let writer = try batch.open(uid: uid)
                try writer.write(messageBody(uid: uid))
                try writer.finish()
                writers.append(writer)
            }
            XCTAssertEqual(unlink(writers[2].temporaryPath), 0)  // its fsync will fail with ENOENT
            XCTAssertThrowsError(try batch.commit()) { XCTAssertEqual(($0 as? MaildirError)?.systemError, ENOENT) }
        }
        XCTAssertThrowsError(try folder!.deliver([7])) { XCTAssertEqual(($0 as? MaildirError)?.code, .needsReopen) }
        XCTAssertThrowsError(try folder!.scanLocalChanges()) { XCTAssertEqual(($0 as? MaildirError)?.code, .needsReopen) }
        folder = nil
        store = nil
        store = try MaildirStore(directory)
        folder = try store!.openFolder(.inbox)
        XCTAssertEqual(folder!.lastRecovery.removedTemporaryFiles, 3)
        try assertConsistent(folder!, expected: [1, 2])
        try folder!.deliver(3...7)
        try assertConsistent(folder!, expected: Set(1...7))
    }

    func testRenameNoReplace_neverOverwrites() throws {
        let directory = try TemporaryDirectory()
        try writeFile(directory.path + "/a", "A")
        try writeFile(directory.path + "/b", "B")
        XCTAssertThrowsError(try Posix.renameNoReplace(directory.path + "/a", directory.path + "/b")) {
            XCTAssertEqual(($0 as? MaildirError)?.systemError, EEXIST)
        }
        XCTAssertEqual(try Posix.readFile(directory.path + "/b"), Array("B".utf8))
        try Posix.renameNoReplace(directory.path + "/a", directory.path + "/c")
        XCTAssertEqual(try Posix.readFile(directory.path + "/c"), Array("A".utf8))
        XCTAssertNil(try Posix.readFile(directory.path + "/a"))
    }

    func testAbort_removesTemporaryFiles() throws {
        let directory = try TemporaryDirectory()
        let store = try MaildirStore(directory)
        let folder = try store.prepare()
        let batch = try folder.beginBatch()
        try batch.open(uid: 1).finish()
        try batch.open(uid: 2).write([1, 2, 3])
        XCTAssertEqual(try folder.fileNames("tmp").count, 2)
        batch.abort()
        XCTAssertEqual(try folder.fileNames("tmp"), [])
        XCTAssertEqual(folder.map.count, 0)
    }

    func testBeginBatch_requiresUIDValidity() throws {
        let directory = try TemporaryDirectory()
        let store = try MaildirStore(directory)
        try store.createFolder(.inbox)
        let folder = try store.openFolder(.inbox)
        XCTAssertThrowsError(try folder.beginBatch()) { XCTAssertEqual(($0 as? MaildirError)?.code, .noUIDValidity) }
    }

    func testCommit_recordsHighestUIDAndModSeq() throws {
        let directory = try TemporaryDirectory()
        let store = try MaildirStore(directory)
        let folder = try store.prepare()
        try folder.deliver([3, 9], highestModSeq: 77)
        XCTAssertEqual(folder.highestUID, 9)
        XCTAssertEqual(folder.highestModSeq, 77)
        let before = store.fsyncs
        XCTAssertEqual(try folder.beginBatch().commit(highestUID: 20, highestModSeq: 80), [])
        XCTAssertEqual(store.fsyncs - before, 2, "an empty batch commits only the map")
        XCTAssertEqual(folder.highestUID, 20)
        XCTAssertEqual(try folder.beginBatch().commit(highestUID: 5), [])
        XCTAssertEqual(folder.highestUID, 20, "never decreases")
        XCTAssertEqual(store.fsyncs - before, 2, "nothing changed, nothing written")
        folder.close()
        let reopened = try store.openFolder(.inbox)
        XCTAssertEqual(reopened.highestModSeq, 80)
        XCTAssertEqual(reopened.highestUID, 20)
    }

    /// Not a benchmark assertion: prints the cost of a typical batch.
    func testBatchOf1000SmallMessages_printsCommitTime() throws {
        let directory = try TemporaryDirectory()
        let store = try MaildirStore(directory)
        let folder = try store.prepare()
        let body = [UInt8](repeating: UInt8(ascii: "m"), count: 4096)
        let clock = ContinuousClock()
        let batch = try folder.beginBatch()
        let write = try clock.measure {
            for uid in UInt32(1)...1000 {
                let writer = try batch.open(uid: uid, flags: [.seen])
                try writer.write(body)
                try writer.finish()
            }
        }
        let before = store.fsyncs
        let commit = try clock.measure { XCTAssertEqual(try batch.commit().count, 1000) }
        XCTAssertEqual(store.fsyncs - before, 1003)
        print("1000 x 4 KiB: write \(write), commit (1000 file fsyncs + renames + dir fsync + map) \(commit)")
    }
}
