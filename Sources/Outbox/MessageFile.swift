#if canImport(Glibc)
import Glibc
#endif
import Maildir
import MessageHeaders

/// A message file's header, read without reading its body: the bytes up to (not including) the
/// empty line that ends it, split into fields with their raw lines.
struct MessageHead {
    /// The most of a file read to find the end of its header.
    static let limit = 1 << 20

    struct Field {
        /// Lower-cased, without the colon.
        var name: String
        /// The field's lines as they are in the file, line ends included.
        var raw: [UInt8]
    }

    var fields: [Field]
    /// Where the body starts in the file: the empty line after the header (or the file's end).
    var bodyOffset: Int
    /// The file's line end, "\r\n" or "\n", for fields syncd adds.
    var lineEnd: [UInt8]

    /// Reads the header of the file at `path`.
    /// - Throws: ``OutboxError`` when the file cannot be read or its header exceeds ``limit``.
    init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw OutboxError.io("open", path) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var end: Int?
        while end == nil, bytes.count < Self.limit {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw OutboxError.io("read", path)
            }
            if n == 0 { break }
            let searchFrom = max(0, bytes.count - 3)
            bytes += chunk[0..<n]
            end = Self.headerEnd(bytes, from: searchFrom)
        }
        if end == nil, bytes.count >= Self.limit {
            throw OutboxError("the message header is over \(Self.limit) bytes without an empty line ending it")
        }
        self.init(header: Array(bytes[..<(end ?? bytes.count)]))
        bodyOffset = end ?? bytes.count
    }

    /// Parses header bytes (without the empty line after them).
    init(header: [UInt8]) {
        fields = []
        lineEnd = Array("\n".utf8)
        bodyOffset = header.count
        var index = 0
        var firstLine = true
        while index < header.count {
            var lineEndIndex = index
            while lineEndIndex < header.count, header[lineEndIndex] != UInt8(ascii: "\n") { lineEndIndex += 1 }
            let next = min(lineEndIndex + 1, header.count)
            var line = Array(header[index..<next])
            if line.last != UInt8(ascii: "\n") { line.append(UInt8(ascii: "\n")) }  // the last line, unterminated
            if firstLine, line.count >= 2, line[line.count - 2] == UInt8(ascii: "\r") { lineEnd = Array("\r\n".utf8) }
            firstLine = false
            if let first = line.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t"), !fields.isEmpty {
                fields[fields.count - 1].raw += line
            } else {
                let colon = line.firstIndex(of: UInt8(ascii: ":")) ?? line.count
                let name = String(decoding: line[..<colon], as: UTF8.self).trimmingWhitespace.lowercased()
                fields.append(Field(name: name, raw: line))
            }
            index = next
        }
    }

    /// The first index of the empty line ending a header, searching from `start`.
    static func headerEnd(_ bytes: [UInt8], from start: Int) -> Int? {
        if bytes.first == UInt8(ascii: "\n") { return 0 }
        if bytes.count >= 2, bytes[0] == UInt8(ascii: "\r"), bytes[1] == UInt8(ascii: "\n") { return 0 }
        var i = max(start, 0)
        while i + 1 < bytes.count {
            if bytes[i] == UInt8(ascii: "\n") {
                if bytes[i + 1] == UInt8(ascii: "\n") { return i + 1 }
                if i + 2 < bytes.count, bytes[i + 1] == UInt8(ascii: "\r"), bytes[i + 2] == UInt8(ascii: "\n") { return i + 1 }
            }
            i += 1
        }
        return nil
    }

    /// The unfolded value of the first field named `name` (lower case).
    func value(_ name: String) -> String? {
        fields.first { $0.name == name }.map(Self.value)
    }

    /// Every field named `name`'s unfolded value.
    func values(_ name: String) -> [String] {
        fields.filter { $0.name == name }.map(Self.value)
    }

    static func value(_ field: Field) -> String {
        MessageHeaders.headerFields(field.raw).first?.value ?? ""
    }

    var bytes: [UInt8] { fields.flatMap(\.raw) }
}

extension String {
    var trimmingWhitespace: String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" || first == "\r" || first == "\n" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" || last == "\r" || last == "\n" { scalars.removeLast() }
        return String(scalars)
    }
}

/// Copies `from[offset...]` to `fd`, 64 KiB at a time.
func copyFile(_ from: String, offset: Int, to fd: Int32, path: String) throws {
    let source = open(from, O_RDONLY | O_CLOEXEC)
    guard source >= 0 else { throw OutboxError.io("open", from) }
    defer { close(source) }
    guard lseek(source, off_t(offset), SEEK_SET) >= 0 else { throw OutboxError.io("lseek", from) }
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw OutboxError.io("read", from)
        }
        if n == 0 { return }
        try chunk.withUnsafeBytes { try DurableFiles.write(fd, UnsafeRawBufferPointer(rebasing: $0[0..<n]), path: path) }
    }
}
