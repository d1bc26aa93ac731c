/// The `com.canonical.Unity.LauncherEntry` signal that docks and task managers read (GNOME's
/// Dash to Dock, KDE's task manager, Plank): a progress bar and a count on the application's icon.
struct LauncherEntry: Sendable {
    static let interface = "com.canonical.Unity.LauncherEntry"
    /// The desktop file the dock matches the signal to.
    static let appURI = "application://syncd-desktop.desktop"
    static let path = "/com/canonical/unity/launcherentry/syncd_desktop"
    let bus: SessionBus

    /// What the icon shows.
    struct State: Hashable, Sendable {
        /// 0...1; meaningful while `progressVisible`.
        var progress: Double = 0
        var progressVisible = false
        var count: Int64 = 0

        var countVisible: Bool { count > 0 }
    }

    func update(_ state: State) async throws {
        try await bus.emit(Self.path, Self.interface, "Update", [
            .string(Self.appURI),
            .dictionary([
                ("progress", .double(state.progress)),
                ("progress-visible", .bool(state.progressVisible)),
                ("count", .int64(state.count)),
                ("count-visible", .bool(state.countVisible)),
            ]),
        ])
    }
}
