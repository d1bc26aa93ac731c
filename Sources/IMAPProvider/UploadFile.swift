#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import IMAPProtocol
import NIOCore

/// A local message file read for APPEND: its size on the wire (line ends as CRLF, which IMAP
/// requires and Maildir files usually lack), its Message-ID and its modification time, found in
/// one pass; then its bytes streamed in chunks of ``chunkSize``, never the whole file in memory.
struct UploadFile {
    static let chunkSize = 64 * 1024

    let path: String
    /// The bytes the APPEND literal carries: every LF not preceded by CR counts two.
    let wireSize: Int
    /// The Message-ID header's value (`<...>`), if the header has one.
    let messageID: String?
    /// The file's modification time in seconds since 1970 (Maildir's delivery date).
    let modificationTime: Int64

    /// Reads the file once.
    /// - Throws: ``UploadFileError`` when it cannot be opened or read (the user deleted it
    ///   meanwhile: `ENOENT`).
    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw UploadFileError(path: path, errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw UploadFileError(path: path, errno: errno) }
        modificationTime = Int64(info.st_mtim.tv_sec)
        var size = 0
        var previous: UInt8 = 0
        var header = HeaderScanner()
        var buffer = [UInt8](repeating: 0, count: Self.chunkSize)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw UploadFileError(path: path, errno: errno)
            }
            if count == 0 { break }
            for index in 0..<count {
                let byte = buffer[index]
                if byte == 10, previous != 13 { size += 1 }
                previous = byte
            }
            size += count
            if !header.done { header.feed(buffer[0..<count]) }
        }
        wireSize = size
        messageID = header.messageID
    }

    /// Opens the file for ``stream(from:_:)`` — before the APPEND announces its size, so that a
    /// file deleted meanwhile fails before anything is sent (an open file stays readable).
    func openForReading() throws -> Int32 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw UploadFileError(path: path, errno: errno) }
        return fd
    }

    /// Streams the message with CRLF line ends from `fd` (closed at the end) to `write`, in chunks;
    /// throws if the file no longer has ``wireSize`` bytes (it changed since it was measured: the
    /// APPEND cannot be completed correctly, and the connection must be given up).
    func stream(from fd: Int32, _ write: (ByteBuffer) async throws -> Void) async throws {
        defer { close(fd) }
        var sent = 0
        var previous: UInt8 = 0
        var input = [UInt8](repeating: 0, count: Self.chunkSize)
        while true {
            let count = input.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw UploadFileError(path: path, errno: errno)
            }
            if count == 0 { break }
            var output = ByteBuffer()
            output.reserveCapacity(count + count / 8)
            var start = 0
            for index in 0..<count where input[index] == 10 && (index > 0 ? input[index - 1] : previous) != 13 {
                output.writeBytes(input[start..<index])
                output.writeInteger(UInt8(13))
                start = index
            }
            output.writeBytes(input[start..<count])
            previous = input[count - 1]
            sent += output.readableBytes
            guard sent <= wireSize else { break }
            try await write(output)
        }
        guard sent == wireSize else {
            throw UploadFileError(path: path, reason: "changed while it was being uploaded (\(sent) bytes instead of \(wireSize))")
        }
    }

    /// The APPEND date: the modification time, in UTC.
    var internalDate: InternalDate? { InternalDate(secondsSince1970: modificationTime) }

    /// The Message-ID in a message header fetched from the server, read as a local file's is.
    static func messageID(inHeader bytes: [UInt8]) -> String? {
        var header = HeaderScanner()
        header.feed(bytes[...])
        header.feed([10, 10][...])  // the header may end without its empty line
        return header.messageID
    }
}

/// Finds the Message-ID in a message's header as bytes arrive (folded lines joined; the header
/// ends at the first empty line; at most 256 KiB are looked at).
private struct HeaderScanner {
    private(set) var done = false
    private(set) var messageID: String?
    private var line: [UInt8] = []
    private var field: [UInt8] = []
    private var seen = 0

    mutating func feed(_ bytes: ArraySlice<UInt8>) {
        for byte in bytes {
            seen += 1
            if seen > 256 * 1024 { done = true }
            if done { return }
            if byte == 10 {
                if line.last == 13 { line.removeLast() }
                if line.isEmpty {
                    finishField()
                    done = true
                    return
                }
                if line.first == 32 || line.first == 9 {
                    field += line  // a folded continuation
                } else {
                    finishField()
                    field = line
                }
                line = []
            } else if line.count < 8192 {
                line.append(byte)
            }
        }
    }

    private mutating func finishField() {
        defer { field = [] }
        guard messageID == nil, let colon = field.firstIndex(of: UInt8(ascii: ":")) else { return }
        let name = String(decoding: field[..<colon], as: UTF8.self).lowercased().trimmingSpaces()
        guard name == "message-id" else { return }
        let value = String(decoding: field[(colon + 1)...], as: UTF8.self).trimmingSpaces()
        if let open = value.firstIndex(of: "<"), let close = value[open...].firstIndex(of: ">") {
            messageID = String(value[open...close])
        } else if !value.isEmpty {
            messageID = value
        }
        // SEARCH HEADER takes a 7-bit value without CR/LF here.
        if let id = messageID, id.utf8.contains(where: { $0 >= 0x80 || $0 < 0x20 }) { messageID = nil }
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return String(slice)
    }
}

struct UploadFileError: Error, CustomStringConvertible {
    let path: String
    let reason: String
    /// The file is gone (deleted by the user since it was listed).
    let isMissing: Bool

    init(path: String, errno code: Int32) {
        self.path = path
        reason = String(cString: strerror(code))
        isMissing = code == ENOENT
    }

    init(path: String, reason: String) {
        self.path = path
        self.reason = reason
        isMissing = false
    }

    var description: String { "\(path): \(reason)" }
}
