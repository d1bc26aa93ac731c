import Foundation
import NIOCore
import SyncJSON
import SyncProtocol

/// Server-Sent Events frames (the WHATWG `text/event-stream` format) for `/events`.
///
/// Each daemon event becomes one frame whose `id` is the event's seq, so a browser that reconnects
/// sends it back as `Last-Event-ID`. Its data is one JSON line: `{"event": ..., "store": ...}`,
/// the event as `syncctl watch --json` prints it and the store's state after it (as
/// `/api/status` gives one store; null once the store is removed; absent for progress).
enum SSEFrame {
    static func event(_ event: SyncEvent, store: StoreStatus?) -> ByteBuffer {
        let object = JSONOutput.event(event)
        var data: [String: Any] = ["event": object]
        // Progress is most of the stream and changes only the run's step, index and max, which the
        // event carries: the page applies it itself, and the store document (the costly part to
        // encode) is left out.
        if !event.isProgress { data["store"] = store.flatMap { try? encoded(JSONOutput.store($0)) } ?? NSNull() }
        return frame(id: event.seq, type: object["type"] as? String ?? "event", data: data)
    }

    /// Every store's state: a new client's first frame, and after a resync.
    static func snapshot(_ snapshot: Snapshot) -> ByteBuffer {
        let data = (try? encoded(JSONOutput.status(snapshot))) ?? [:]
        return frame(id: snapshot.seq, type: "snapshot", data: data)
    }

    /// Whether syncd-http is attached to the daemon, and whether this page may offer controls.
    /// No id: it is not one of the daemon's events.
    static func daemon(connected: Bool, reason: String?, controls: Bool) -> ByteBuffer {
        frame(id: nil, type: "daemon", data: ["connected": connected, "reason": reason.map { $0 as Any } ?? NSNull(), "controls": controls])
    }

    /// A comment line: keeps proxies from timing the stream out and finds clients that left.
    static let keepalive = ByteBuffer(string: ": keepalive\n\n")

    private static func frame(id: UInt64?, type: String, data: Any) -> ByteBuffer {
        // JSONSerialization writes one line (no pretty printing), so one `data:` line suffices.
        let json = (try? JSONSerialization.data(withJSONObject: data, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        var buffer = ByteBuffer()
        if let id { buffer.writeString("id: \(id)\n") }
        buffer.writeString("event: \(type)\ndata: ")
        buffer.writeBytes(json)
        buffer.writeString("\n\n")
        return buffer
    }

    private static func encoded<T: Encodable>(_ value: T) throws -> Any {
        try JSONSerialization.jsonObject(with: JSONEncoder().encode(value))
    }
}

extension SyncEvent {
    var isProgress: Bool {
        if case .progress = kind { return true }
        return false
    }
}
