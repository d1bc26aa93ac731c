#if canImport(Glibc)
import Glibc
#endif
import CSystemd
import Foundation
import Logging
import Synchronization

/// logind's `PrepareForSleep` through sd-bus, with a delay inhibitor lock: before the machine
/// sleeps the daemon closes its push connections cleanly and then lets the sleep go on; after
/// resume it reconnects and catches up at once.
///
/// The bus is the system bus, or the one at `$SYNCD_SLEEP_BUS` (an address such as
/// `unix:path=/tmp/bus`): for tests, which emit the signal on a private dbus-daemon; there any
/// sender's signal counts, while on the system bus only logind's does. Without a bus (a container,
/// a machine without logind) the daemon simply does without.
final class SleepWatcher: Sendable {
    enum Event: Sendable {
        case sleeping
        case resumed
    }

    let events: AsyncStream<Event>
    private let continuation: AsyncStream<Event>.Continuation
    /// Written to by ``released()`` ("r") and ``stop()`` ("q"), read by the bus thread.
    private let control = ControlPipe()
    private let address: String?
    private let logger: Logger

    init(address: String?, logger: Logger) {
        (events, continuation) = AsyncStream.makeStream(of: Event.self)
        self.address = address
        self.logger = logger
    }

    /// Starts the bus thread (it blocks in poll(2), so not on the cooperative pool).
    func start() {
        let thread = Thread { [self] in
            self.run()
            self.continuation.finish()
        }
        thread.name = "sd-bus sleep"
        thread.start()
    }

    /// The daemon is ready for the sleep: the delay lock goes.
    func released() {
        control.send(UInt8(ascii: "r"))
    }

    func stop() {
        control.send(UInt8(ascii: "q"))
    }

    /// Passed to the signal callback: where it says what it saw.
    private final class Sink {
        let continuation: AsyncStream<Event>.Continuation
        var sleeping = false
        init(_ continuation: AsyncStream<Event>.Continuation) { self.continuation = continuation }
    }

    private func run() {
        var bus: OpaquePointer?
        var status: Int32
        if let address {
            status = sd_bus_new(&bus)
            if status >= 0 { status = address.withCString { sd_bus_set_address(bus, $0) } }
            if status >= 0 { status = sd_bus_set_bus_client(bus, 1) }
            if status >= 0 { status = sd_bus_start(bus) }
        } else {
            status = sd_bus_open_system(&bus)
        }
        guard status >= 0, let bus else {
            logger.info("no system bus (\(String(cString: strerror(-status)))): sleep and resume are not watched")
            if let bus { sd_bus_unref(bus) }
            return
        }
        defer { sd_bus_flush_close_unref(bus) }
        let sink = Unmanaged.passRetained(Sink(continuation))
        defer { sink.release() }
        var slot: OpaquePointer?
        let handler: sd_bus_message_handler_t = { message, userdata, _ in
            guard let userdata else { return 0 }
            let sink = Unmanaged<Sink>.fromOpaque(userdata).takeUnretainedValue()
            var start: Int32 = 0
            guard sd_bus_message_read_basic(message, CChar(UInt8(ascii: "b")), &start) >= 0 else { return 0 }
            sink.sleeping = start != 0
            sink.continuation.yield(start != 0 ? .sleeping : .resumed)
            return 0
        }
        // logind's own signal only, on the system bus: anyone may emit one with its path.
        let sender: String? = address == nil ? "org.freedesktop.login1" : nil
        status = withOptionalCString(sender) { sender in
            sd_bus_match_signal(bus, &slot, sender, "/org/freedesktop/login1", "org.freedesktop.login1.Manager",
                                "PrepareForSleep", handler, sink.toOpaque())
        }
        guard status >= 0 else {
            logger.warning("cannot watch for sleep on the bus: \(String(cString: strerror(-status)))")
            return
        }
        defer { sd_bus_slot_unref(slot) }
        var inhibitor = takeInhibitor(bus)
        logger.info("watching for sleep and resume\(inhibitor >= 0 ? " (with a delay lock)" : "")")
        var byte: UInt8 = 0
        while true {
            while sd_bus_process(bus, nil) > 0 {}
            var fds = [
                pollfd(fd: sd_bus_get_fd(bus), events: Int16(sd_bus_get_events(bus)), revents: 0),
                pollfd(fd: control.readEnd, events: Int16(POLLIN), revents: 0),
            ]
            var timeout: UInt64 = 0
            var wait: Int32 = -1
            if sd_bus_get_timeout(bus, &timeout) > 0, timeout != UInt64.max {
                var now = timespec()
                clock_gettime(CLOCK_MONOTONIC, &now)
                let nowUsec = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
                wait = timeout > nowUsec ? Int32(min(UInt64(Int32.max), (timeout - nowUsec + 999) / 1000)) : 0
            }
            guard poll(&fds, 2, wait) >= 0 || errno == EINTR else { return }
            if fds[0].revents & Int16(POLLHUP | POLLERR) != 0 {
                logger.warning("the bus went away: sleep and resume are no longer watched")
                return
            }
            if fds[1].revents != 0, read(control.readEnd, &byte, 1) == 1 {
                if byte == UInt8(ascii: "q") { break }
                if inhibitor >= 0 {
                    close(inhibitor)
                    inhibitor = -1
                }
            }
            // After a resume, a new lock for the next sleep.
            if inhibitor < 0, !sink.takeUnretainedValue().sleeping, address == nil { inhibitor = takeInhibitor(bus) }
        }
        if inhibitor >= 0 { close(inhibitor) }
    }

    /// logind's `Inhibit("sleep", "syncd", ..., "delay")`: the sleep waits until the fd is closed
    /// (at most logind's InhibitDelayMaxSec). -1 when logind refuses or is not there.
    private func takeInhibitor(_ bus: OpaquePointer) -> Int32 {
        var message: OpaquePointer?
        guard sd_bus_message_new_method_call(bus, &message, "org.freedesktop.login1", "/org/freedesktop/login1",
                                             "org.freedesktop.login1.Manager", "Inhibit") >= 0 else { return -1 }
        defer { sd_bus_message_unref(message) }
        for argument in ["sleep", "syncd", "closing push connections", "delay"] {
            guard argument.withCString({ sd_bus_message_append_basic(message, CChar(UInt8(ascii: "s")), $0) }) >= 0 else { return -1 }
        }
        var error = sd_bus_error()
        var reply: OpaquePointer?
        defer {
            sd_bus_error_free(&error)
            sd_bus_message_unref(reply)
        }
        guard sd_bus_call(bus, message, 5_000_000, &error, &reply) >= 0 else {
            logger.info("no delay lock for sleep: \(error.message.map { String(cString: $0) } ?? "logind refused")")
            return -1
        }
        var fd: Int32 = -1
        guard sd_bus_message_read_basic(reply, CChar(UInt8(ascii: "h")), &fd) >= 0 else { return -1 }
        // The message owns its descriptor.
        return fcntl(fd, F_DUPFD_CLOEXEC, 3)
    }
}

private func withOptionalCString<T>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> T) -> T {
    guard let string else { return body(nil) }
    return string.withCString(body)
}
