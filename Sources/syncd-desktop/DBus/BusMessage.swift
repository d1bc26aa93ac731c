import Foundation
import CSystemd

/// A D-Bus value syncd-desktop sends: the few types the desktop interfaces use.
enum BusValue: Sendable {
    case string(String)
    case objectPath(String)
    case uint32(UInt32)
    case int32(Int32)
    case uint64(UInt64)
    case int64(Int64)
    case double(Double)
    case bool(Bool)
    case byte(UInt8)
    case strings([String])
    /// `a{sv}`: hints, launcher properties.
    case dictionary([(String, BusValue)])

    /// The D-Bus signature of this value.
    var signature: String {
        switch self {
        case .string: return "s"
        case .objectPath: return "o"
        case .uint32: return "u"
        case .int32: return "i"
        case .uint64: return "t"
        case .int64: return "x"
        case .double: return "d"
        case .bool: return "b"
        case .byte: return "y"
        case .strings: return "as"
        case .dictionary: return "a{sv}"
        }
    }
}

/// Why a D-Bus operation failed, with sd-bus's error name and text when it gave them.
struct BusError: Error, CustomStringConvertible {
    let description: String
    /// The D-Bus error name, e.g. `org.freedesktop.DBus.Error.ServiceUnknown`.
    let name: String?

    init(_ what: String, code: Int32, error: sd_bus_error? = nil) {
        let name = error?.name.map { String(cString: $0) }
        let message = error?.message.map { String(cString: $0) }
        self.name = name
        self.description = "\(what): " + (message ?? name ?? String(cString: strerror(-code)))
    }
}

/// Wraps one sd-bus call's result code: negative errno is a failure.
@discardableResult
func check(_ code: Int32, _ what: @autoclosure () -> String) throws -> Int32 {
    guard code >= 0 else { throw BusError(what(), code: code) }
    return code
}

private func type(_ character: Unicode.Scalar) -> CChar { CChar(UInt8(ascii: character)) }

/// A message being built or read: only ever touched on the bus thread (sd-bus is single-threaded).
struct BusMessage {
    let pointer: OpaquePointer

    func append(_ values: [BusValue]) throws {
        for value in values { try append(value) }
    }

    func append(_ value: BusValue) throws {
        switch value {
        case .string(let text): try appendString("s", text)
        case .objectPath(let path): try appendString("o", path)
        case .uint32(var n): try check(sd_bus_message_append_basic(pointer, type("u"), &n), "append u")
        case .int32(var n): try check(sd_bus_message_append_basic(pointer, type("i"), &n), "append i")
        case .uint64(var n): try check(sd_bus_message_append_basic(pointer, type("t"), &n), "append t")
        case .int64(var n): try check(sd_bus_message_append_basic(pointer, type("x"), &n), "append x")
        case .double(var n): try check(sd_bus_message_append_basic(pointer, type("d"), &n), "append d")
        case .bool(let flag):
            var n: Int32 = flag ? 1 : 0  // D-Bus booleans are 32-bit on the wire and in sd-bus
            try check(sd_bus_message_append_basic(pointer, type("b"), &n), "append b")
        case .byte(var n): try check(sd_bus_message_append_basic(pointer, type("y"), &n), "append y")
        case .strings(let texts):
            try check(sd_bus_message_open_container(pointer, type("a"), "s"), "open as")
            for text in texts { try appendString("s", text) }
            try check(sd_bus_message_close_container(pointer), "close as")
        case .dictionary(let entries):
            try check(sd_bus_message_open_container(pointer, type("a"), "{sv}"), "open a{sv}")
            for (key, value) in entries {
                try check(sd_bus_message_open_container(pointer, type("e"), "sv"), "open {sv}")
                try appendString("s", key)
                try check(sd_bus_message_open_container(pointer, type("v"), value.signature), "open v")
                try append(value)
                try check(sd_bus_message_close_container(pointer), "close v")
                try check(sd_bus_message_close_container(pointer), "close {sv}")
            }
            try check(sd_bus_message_close_container(pointer), "close a{sv}")
        }
    }

    private func appendString(_ kind: Unicode.Scalar, _ text: String) throws {
        // D-Bus strings hold no NUL; one inside would cut the text short, so drop them.
        let clean = text.contains("\0") ? text.replacingOccurrences(of: "\0", with: "") : text
        _ = try clean.withCString { try check(sd_bus_message_append_basic(pointer, type(kind), $0), "append \(kind)") }
    }

    func readUInt32() throws -> UInt32 {
        var n: UInt32 = 0
        try check(sd_bus_message_read_basic(pointer, type("u"), &n), "read u")
        return n
    }

    func readBool() throws -> Bool {
        var n: Int32 = 0
        try check(sd_bus_message_read_basic(pointer, type("b"), &n), "read b")
        return n != 0
    }

    /// Reads a string, object path (`o`) or signature.
    func readString(_ kind: Unicode.Scalar = "s") throws -> String {
        var text: UnsafePointer<CChar>?
        try check(sd_bus_message_read_basic(pointer, type(kind), &text), "read \(kind)")
        return text.map { String(cString: $0) } ?? ""
    }

    func readStrings() throws -> [String] {
        try check(sd_bus_message_enter_container(pointer, type("a"), "s"), "enter as")
        var texts: [String] = []
        while true {
            var text: UnsafePointer<CChar>?
            let read = try check(sd_bus_message_read_basic(pointer, type("s"), &text), "read s")
            if read == 0 { break }
            texts.append(text.map { String(cString: $0) } ?? "")
        }
        try check(sd_bus_message_exit_container(pointer), "exit as")
        return texts
    }

    var member: String { sd_bus_message_get_member(pointer).map { String(cString: $0) } ?? "" }
    var path: String { sd_bus_message_get_path(pointer).map { String(cString: $0) } ?? "" }
    var interface: String { sd_bus_message_get_interface(pointer).map { String(cString: $0) } ?? "" }
}
