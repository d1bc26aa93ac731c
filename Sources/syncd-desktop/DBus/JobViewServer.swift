/// KDE's job progress UI (kuiserver, Plasma's notifications applet): `org.kde.JobViewServer`
/// hands out one `org.kde.JobViewV2` object per job, which the job then updates.
struct JobViewServer: Sendable {
    static let name = "org.kde.JobViewServer"
    static let path = "/JobViewServer"
    static let viewInterface = "org.kde.JobViewV2"
    /// JobViewV2 capability bits: the job can be killed (a Cancel button).
    static let killable: Int32 = 0x0001
    let bus: SessionBus

    /// Whether a job view server runs now.
    func isRunning() async -> Bool { await bus.hasOwner(Self.name) }

    /// Asks for a view of a new job; returns the view's object path.
    func requestView(appName: String, icon: String) async throws -> String {
        try await bus.call(Self.name, Self.path, Self.name, "requestView",
                           [.string(appName), .string(icon), .int32(Self.killable)]) { try $0.readString("o") }
    }

    /// One JobViewV2 object.
    struct View: Sendable, Hashable {
        let path: String
    }

    func setInfoMessage(_ view: View, _ text: String) async throws {
        try await call(view, "setInfoMessage", [.string(text)])
    }

    func setDescriptionField(_ view: View, number: UInt32, name: String, value: String) async throws {
        try await call(view, "setDescriptionField", [.uint32(number), .string(name), .string(value)])
    }

    func setPercent(_ view: View, _ percent: UInt32) async throws {
        try await call(view, "setPercent", [.uint32(percent)])
    }

    func setAmounts(_ view: View, processed: UInt64, total: UInt64, unit: String) async throws {
        try await call(view, "setTotalAmount", [.uint64(total), .string(unit)])
        try await call(view, "setProcessedAmount", [.uint64(processed), .string(unit)])
    }

    /// Ends the job: an empty `errorMessage` means it ended well.
    func terminate(_ view: View, errorMessage: String) async throws {
        try await call(view, "terminate", [.string(errorMessage)])
    }

    private func call(_ view: View, _ member: String, _ arguments: [BusValue]) async throws {
        try await bus.callIgnoringReply(Self.name, view.path, Self.viewInterface, member, arguments)
    }
}
