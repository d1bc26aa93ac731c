#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A message file name, taken apart.
///
/// Our names are `<unique>,S=<size>,F=<folder id>,V=<uidvalidity>,U=<uid>:2,<flags>`:
/// - `<unique>` is `<seconds>.M<microseconds>P<pid>Q<counter>R<random>.<hostname>` (the Maildir
///   spec's time.deliveryid.host), with `/ : , \` and any byte outside `[A-Za-z0-9._-]` in the host
///   name written as `\ooo` octal;
/// - `S=` is the file's size in bytes (Courier/Dovecot read it too);
/// - `F=` is the owning folder's random id (8 hex digits, from its UID map), so a message the user
///   moved here from another folder is never mistaken for one of this folder's UIDs;
/// - `V=` and `U=` are the UIDVALIDITY and UID it was downloaded under;
/// - `H=1`, last and only on some, marks a message downloaded headers only (its body comes later
///   and replaces the file under a new name).
/// The *base name* is everything before `:`; it stays the same when flags change or a mail client
/// moves the file from `new/` to `cur/`, so it identifies a message across renames.
struct MessageFileName {
    let base: String
    let flags: MessageFlags
    /// Info letters other than `DFPRST`, preserved on rename.
    let otherLetters: [UInt8]
    let size: Int?
    let folderID: UInt32?
    let uidValidity: UInt32?
    let uid: UInt32?
    /// Whether the name says the file holds the message's header only (`H=1`).
    let headersOnly: Bool

    /// Whether the name carries our markers (`F=`, `V=` and `U=`).
    var isOurs: Bool { folderID != nil && uidValidity != nil && uid != nil }

    init(_ name: String) {
        // Byte-wise: recovery and the local-change scan parse every name in a folder on each run,
        // and String.split with its per-Character indexing cost most of a no-op sync.
        var name = name
        self = name.withUTF8 { Self(bytes: $0) }
    }

    private init(bytes: UnsafeBufferPointer<UInt8>) {
        let colon = bytes.lastIndex(of: UInt8(ascii: ":")) ?? bytes.endIndex
        let baseBytes = UnsafeBufferPointer(rebasing: bytes[..<colon])
        base = String(decoding: baseBytes, as: UTF8.self)
        var letters = UnsafeBufferPointer(rebasing: bytes[colon..<colon])
        if colon + 3 <= bytes.endIndex, bytes[colon + 1] == UInt8(ascii: "2"), bytes[colon + 2] == UInt8(ascii: ",") {
            letters = UnsafeBufferPointer(rebasing: bytes[(colon + 3)...])
        }
        (flags, otherLetters) = MessageFlags.split(letters)
        (size, folderID, uidValidity, uid) = Self.fields(baseBytes)
        self.headersOnly = Self.isHeadersOnly(base: base)
    }

    /// The `F=`, `V=` and `U=` of a base name, if it has all three (a name of ours).
    static func markers(_ base: UnsafeBufferPointer<UInt8>) -> (folderID: UInt32, uidValidity: UInt32, uid: UInt32)? {
        let fields = fields(base)
        guard let folderID = fields.folderID, let uidValidity = fields.uidValidity, let uid = fields.uid else { return nil }
        return (folderID, uidValidity, uid)
    }

    private static func fields(_ base: UnsafeBufferPointer<UInt8>) -> (size: Int?, folderID: UInt32?, uidValidity: UInt32?, uid: UInt32?) {
        var size: Int?, folderID: UInt32?, uidValidity: UInt32?, uid: UInt32?
        // Fields after the first comma: `X=value`, each up to the next comma.
        var cursor = (base.firstIndex(of: UInt8(ascii: ",")) ?? base.endIndex)
        while cursor < base.endIndex {
            let start = cursor + 1
            var end = start
            while end < base.endIndex, base[end] != UInt8(ascii: ",") { end += 1 }
            cursor = end
            guard end - start > 2, base[start + 1] == UInt8(ascii: "=") else { continue }
            let value = UnsafeBufferPointer(rebasing: base[(start + 2)..<end])
            switch base[start] {
            case UInt8(ascii: "S"): size = Int(digits: value, radix: 10)
            case UInt8(ascii: "F"): folderID = value.count == 8 ? UInt32(digits: value, radix: 16) : nil
            case UInt8(ascii: "V"): uidValidity = UInt32(digits: value, radix: 10)
            case UInt8(ascii: "U"): uid = UInt32(digits: value, radix: 10).flatMap { $0 == 0 ? nil : $0 }
            default: break
            }
        }
        return (size, folderID, uidValidity, uid)
    }

    /// Whether a base name marks a header-only file: `,H=1` is always its last field.
    static func isHeadersOnly(base: String) -> Bool {
        base.hasSuffix(",H=1")
    }

    /// The file name for `base` in `cur/` with `flags` plus the preserved `others`.
    static func curName(base: String, flags: MessageFlags, others: [UInt8] = []) -> String {
        base + ":2," + flags.letters(with: others)
    }

    static func ourBase(
        unique: String, size: Int, folderID: UInt32, uidValidity: UInt32, uid: UInt32, headersOnly: Bool = false
    ) -> String {
        "\(unique),S=\(size),F=\(hex8(folderID)),V=\(uidValidity),U=\(uid)" + (headersOnly ? ",H=1" : "")
    }

    static func temporaryName(unique: String, folderID: UInt32, uidValidity: UInt32, uid: UInt32) -> String {
        "\(unique),F=\(hex8(folderID)),V=\(uidValidity),U=\(uid)"
    }

    /// The host name as the Maildir spec wants it in a file name.
    static func escapeHostname(_ host: String) -> String {
        var out = ""
        for byte in host.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let octal = String(byte, radix: 8)
                out += "\\" + String(repeating: "0", count: 3 - octal.count) + octal
            }
        }
        return out.isEmpty ? "localhost" : out
    }

    static func hex8(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}

/// Makes the `<unique>` part of new message names (see ``MessageFileName``).
struct UniqueNames: Sendable {
    let hostname: String
    let pid = getpid()

    init(hostname: String?) {
        if let hostname {
            self.hostname = MessageFileName.escapeHostname(hostname)
        } else {
            var buffer = [CChar](repeating: 0, count: 256)
            let host = gethostname(&buffer, buffer.count - 1) == 0
                ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
            self.hostname = MessageFileName.escapeHostname(host)
        }
    }

    func make(counter: UInt64) -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let random = UInt32.random(in: 0...UInt32.max)
        return "\(now.tv_sec).M\(now.tv_nsec / 1000)P\(pid)Q\(counter)R\(MessageFileName.hex8(random)).\(hostname)"
    }
}

extension FixedWidthInteger {
    /// ASCII digits only (`0-9`, and `a-f`/`A-F` for radix 16): no sign, no spaces; `nil` if
    /// empty or on overflow.
    init?(digits: UnsafeBufferPointer<UInt8>, radix: Self) {
        guard !digits.isEmpty else { return nil }
        var value: Self = 0
        for byte in digits {
            let digit: Self
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = Self(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f") where radix == 16: digit = Self(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F") where radix == 16: digit = Self(byte - UInt8(ascii: "A") + 10)
            default: return nil
            }
            let (shifted, overflow1) = value.multipliedReportingOverflow(by: radix)
            let (sum, overflow2) = shifted.addingReportingOverflow(digit)
            guard !overflow1, !overflow2 else { return nil }
            value = sum
        }
        self = value
    }
}
