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
/// - `V=` and `U=` are the UIDVALIDITY and UID it was downloaded under.
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

    /// Whether the name carries our markers (`F=`, `V=` and `U=`).
    var isOurs: Bool { folderID != nil && uidValidity != nil && uid != nil }

    init(_ name: String) {
        let utf8 = name.utf8
        var letters: Substring.UTF8View = ""[...].utf8
        if let colon = utf8.lastIndex(of: UInt8(ascii: ":")) {
            base = String(name[..<colon])
            let info = name[name.index(after: colon)...]
            if info.hasPrefix("2,") { letters = info.dropFirst(2).utf8 }
        } else {
            base = name
        }
        (flags, otherLetters) = MessageFlags.split(letters)
        var size: Int?, folderID: UInt32?, uidValidity: UInt32?, uid: UInt32?
        for field in base.split(separator: ",").dropFirst() {
            let bytes = field.utf8
            guard bytes.count > 2, bytes[bytes.index(after: bytes.startIndex)] == UInt8(ascii: "=") else { continue }
            let value = field.dropFirst(2)
            switch bytes.first {
            case UInt8(ascii: "S"): size = Int(decimal: value)
            case UInt8(ascii: "F"): folderID = value.utf8.count == 8 ? UInt32(value, radix: 16) : nil
            case UInt8(ascii: "V"): uidValidity = UInt32(decimal: value)
            case UInt8(ascii: "U"): uid = UInt32(decimal: value).flatMap { $0 == 0 ? nil : $0 }
            default: break
            }
        }
        self.size = size
        self.folderID = folderID
        self.uidValidity = uidValidity
        self.uid = uid
    }

    /// The file name for `base` in `cur/` with `flags` plus the preserved `others`.
    static func curName(base: String, flags: MessageFlags, others: [UInt8] = []) -> String {
        base + ":2," + flags.letters(with: others)
    }

    static func ourBase(unique: String, size: Int, folderID: UInt32, uidValidity: UInt32, uid: UInt32) -> String {
        "\(unique),S=\(size),F=\(hex8(folderID)),V=\(uidValidity),U=\(uid)"
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
    /// Plain ASCII decimal only: no sign, no spaces, no leading `+`; `nil` on overflow.
    init?(decimal text: some StringProtocol) {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return nil
        }
        guard let value = Self(text, radix: 10) else { return nil }
        self = value
    }
}
