import ArgumentParser
import Foundation

/// `syncd-desktop`: syncd's events on the desktop — notifications, KDE job progress with a
/// working Cancel, and the dock's progress and count. A viewer like any other: it attaches to
/// the daemon's socket and reconnects when the daemon restarts.
@main
struct SyncdDesktop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "syncd-desktop",
        abstract: "Show syncd's runs on the desktop: notifications, job progress, the dock's badge.",
        discussion: """
            Talks to the session bus ($DBUS_SESSION_BUS_ADDRESS): org.freedesktop.Notifications for new mail, \
            failed runs and stores that need `syncctl login`; org.kde.JobViewServer (when it runs) for one \
            progress view per running sync, whose Cancel cancels the run; com.canonical.Unity.LauncherEntry \
            for the dock. One runs per session (it owns io.github.syncd.Desktop; a second one exits at once). \
            Exit status: 0 stopped or another one runs, 1 the session bus went away, 69 no session bus.
            """)

    /// The name the running syncd-desktop owns on the session bus, so that it runs once.
    static let busName = "io.github.syncd.Desktop"

    @Option(name: .long, help: ArgumentHelp("The daemon's socket.", discussion: "Default: $SYNCD_SOCKET, else /run/syncd/syncd.sock."))
    var socket: String?

    @Option(name: .long, help: "At most one notification per store and kind in this many seconds; what comes meanwhile is merged into it.")
    var coalesce: Double = 5

    @Option(name: .long, help: "The shell command the Open action of a new-mail notification runs.")
    var openCommand = "xdg-open mailto:"

    func validate() throws {
        guard coalesce >= 0, coalesce.isFinite else { throw ValidationError("--coalesce must be 0 or more seconds") }
    }

    func run() async throws {
        let path = socket ?? ProcessInfo.processInfo.environment["SYNCD_SOCKET"] ?? "/run/syncd/syncd.sock"
        let bus: SessionBus
        do {
            bus = try await SessionBus.connect(claiming: Self.busName)
        } catch let error as NameTaken {
            // An autostart entry and the user service may both start one: the second steps aside.
            log("\(error); exiting")
            return
        } catch {
            log("\(error) (is DBUS_SESSION_BUS_ADDRESS set? syncd-desktop runs in a desktop session)")
            throw ExitCode(69)
        }
        let desktop = Desktop(socket: path, bus: bus, coalesce: .milliseconds(Int64(coalesce * 1000)), openCommand: openCommand)
        let status = await desktop.run()
        throw ExitCode(status)
    }
}
