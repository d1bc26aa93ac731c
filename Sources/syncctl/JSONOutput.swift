import Foundation
import SyncJSON
import SyncProtocol

// The documents themselves live in SyncJSON (syncd-http serves the same ones); printing them and
// the control replies' wording are syncctl's.
extension JSONOutput {
    /// The shape of ``reply(_:message:for:)``, for the subcommands' help.
    static let replyShape = #"{"command" (sync, cancel, pause, resume, reload), "store", "status": {"code", "name", "text"}, "message"}"#

    static func print<T: Encodable>(_ value: T) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let data = try! encoder.encode(value)
        Output.write(data + Data("\n".utf8))
    }

    /// One compact line (for streams: one object per line).
    static func printLine(_ object: [String: Any]) {
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        Output.write(data + Data("\n".utf8))
    }
}
