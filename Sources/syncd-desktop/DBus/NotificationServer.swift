/// org.freedesktop.Notifications (the Desktop Notifications Specification 1.2) on the session bus.
struct NotificationServer: Sendable {
    static let name = "org.freedesktop.Notifications"
    static let path = "/org/freedesktop/Notifications"
    let bus: SessionBus
    /// The application name the server shows and files notifications under.
    let appName = "syncd"

    /// What the server can do, e.g. "actions", "body", "body-markup"; empty when none runs.
    func capabilities() async throws -> Set<String> {
        Set(try await bus.call(Self.name, Self.path, Self.name, "GetCapabilities") { try $0.readStrings() })
    }

    /// Shows `notice` (replacing notification `replaces` when not 0) and returns its id.
    /// Actions are offered only when `capabilities` has "actions"; the body is escaped for
    /// a server that reads markup.
    func notify(_ notice: Notice, replaces: UInt32, capabilities: Set<String>) async throws -> UInt32 {
        var actions: [String] = []
        if capabilities.contains("actions"), let first = notice.actions.first {
            // The first action is also what a click on the notification does.
            actions = ["default", first.label] + notice.actions.flatMap { [$0.rawValue, $0.label] }
        }
        let body = capabilities.contains("body-markup") ? NoticeText.markupEscaped(notice.body) : notice.body
        let hints: [(String, BusValue)] = [
            ("urgency", .byte(notice.urgency.rawValue)),
            ("category", .string(notice.category)),
            ("desktop-entry", .string("syncd-desktop")),
        ]
        return try await bus.call(
            Self.name, Self.path, Self.name, "Notify",
            [.string(appName), .uint32(replaces), .string("mail-send-receive"), .string(notice.summary), .string(body),
             .strings(actions), .dictionary(hints), .int32(-1)]
        ) { try $0.readUInt32() }
    }

    /// Takes notification `id` off the screen.
    func close(_ id: UInt32) async throws {
        try await bus.callIgnoringReply(Self.name, Self.path, Self.name, "CloseNotification", [.uint32(id)])
    }
}
