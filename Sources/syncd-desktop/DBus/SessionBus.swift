#if canImport(Glibc)
import Glibc
#endif
import CSystemd
import Foundation
import Synchronization

/// A signal syncd-desktop listens for, decoded on the bus thread.
enum BusSignal: Sendable, Hashable {
    /// org.freedesktop.Notifications: the user chose an action of notification `id`.
    case actionInvoked(id: UInt32, action: String)
    /// org.freedesktop.Notifications: notification `id` is gone (expired, dismissed, replaced).
    case notificationClosed(id: UInt32)
    /// org.kde.JobViewV2: the user pressed Cancel on the job view at `path`.
    case cancelRequested(path: String)
}

/// The user's session bus through sd-bus, on a thread of its own.
///
/// sd-bus objects may be used by one thread at a time only, so the connection lives on one
/// thread, which runs the calls it is handed (in order) between dispatching what arrives.
/// Signals come out of ``signals``; the stream ends when the bus connection is lost.
final class SessionBus: Sendable {
    typealias Job = @Sendable (OpaquePointer) -> Void

    /// The signals matched at connect time, in the order they arrived.
    let signals: AsyncStream<BusSignal>
    private let shared: Shared

    private final class Shared: Sendable {
        let jobs = Mutex<(queue: [Job], closed: BusError?)>(([], nil))
        /// The write end of the pipe that wakes the bus thread's poll when a job is queued.
        let wakeWrite: Int32
        let wakeRead: Int32
        let continuation: AsyncStream<BusSignal>.Continuation

        init(wakeRead: Int32, wakeWrite: Int32, continuation: AsyncStream<BusSignal>.Continuation) {
            self.wakeRead = wakeRead
            self.wakeWrite = wakeWrite
            self.continuation = continuation
        }

        func wake() {
            var byte: UInt8 = 1
            _ = write(wakeWrite, &byte, 1)
        }
    }

    /// Connects to the session bus (`$DBUS_SESSION_BUS_ADDRESS`, else `$XDG_RUNTIME_DIR/bus`)
    /// and takes the well-known name `claiming`, which only one connection holds at a time.
    /// - Throws: ``BusError`` when there is no session bus to connect to, ``NameTaken`` when
    ///   another connection holds the name.
    static func connect(claiming name: String) async throws -> SessionBus {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw BusError("pipe", code: -errno) }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        let (stream, continuation) = AsyncStream<BusSignal>.makeStream()
        let shared = Shared(wakeRead: fds[0], wakeWrite: fds[1], continuation: continuation)
        try await withCheckedThrowingContinuation { (opened: CheckedContinuation<Void, Error>) in
            let thread = Thread { Self.run(shared, claiming: name, opened: opened) }
            thread.name = "session-bus"
            thread.start()
        }
        return SessionBus(signals: stream, shared: shared)
    }

    private init(signals: AsyncStream<BusSignal>, shared: Shared) {
        self.signals = signals
        self.shared = shared
    }

    /// Runs `body` on the bus thread and returns what it returns.
    /// - Throws: what `body` throws, or ``BusError`` once the connection is lost.
    func perform<T: Sendable>(_ body: @escaping @Sendable (OpaquePointer) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<T, Error>) in
            let closed = shared.jobs.withLock { jobs -> BusError? in
                if let closed = jobs.closed { return closed }
                jobs.queue.append { bus in done.resume(with: Result { try body(bus) }) }
                return nil
            }
            if let closed { return done.resume(throwing: closed) }
            shared.wake()
        }
    }

    /// Calls a method and reads its reply with `read`.
    func call<T: Sendable>(
        _ destination: String, _ path: String, _ interface: String, _ member: String, _ arguments: [BusValue] = [],
        timeout: Duration = .seconds(5), read: @escaping @Sendable (BusMessage) throws -> T
    ) async throws -> T {
        let micros = UInt64(timeout.components.seconds) * 1_000_000 + UInt64(timeout.components.attoseconds / 1_000_000_000_000)
        return try await perform { bus in
            var message: OpaquePointer?
            try check(sd_bus_message_new_method_call(bus, &message, destination, path, interface, member), "\(member)")
            defer { sd_bus_message_unref(message) }
            try BusMessage(pointer: message!).append(arguments)
            var error = sd_bus_error()
            defer { sd_bus_error_free(&error) }
            var reply: OpaquePointer?
            let code = sd_bus_call(bus, message, micros, &error, &reply)
            guard code >= 0, let reply else { throw BusError("\(destination) \(member)", code: code, error: error) }
            defer { sd_bus_message_unref(reply) }
            return try read(BusMessage(pointer: reply))
        }
    }

    /// Sends a method call whose reply does not matter (or a method that has none).
    func callIgnoringReply(_ destination: String, _ path: String, _ interface: String, _ member: String, _ arguments: [BusValue] = []) async throws {
        try await perform { bus in
            var message: OpaquePointer?
            try check(sd_bus_message_new_method_call(bus, &message, destination, path, interface, member), "\(member)")
            defer { sd_bus_message_unref(message) }
            try check(sd_bus_message_set_expect_reply(message, 0), "\(member)")
            try BusMessage(pointer: message!).append(arguments)
            try check(sd_bus_send(bus, message, nil), "\(destination) \(member)")
        }
    }

    /// Broadcasts a signal from `path`.
    func emit(_ path: String, _ interface: String, _ member: String, _ arguments: [BusValue]) async throws {
        try await perform { bus in
            var message: OpaquePointer?
            try check(sd_bus_message_new_signal(bus, &message, path, interface, member), "signal \(member)")
            defer { sd_bus_message_unref(message) }
            try BusMessage(pointer: message!).append(arguments)
            try check(sd_bus_send(bus, message, nil), "signal \(member)")
        }
    }

    /// Whether some connection owns the well-known `name` now (asked without activating it).
    func hasOwner(_ name: String) async -> Bool {
        (try? await call(
            "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner", [.string(name)]
        ) { try $0.readBool() }) ?? false
    }

    // MARK: the bus thread

    private static func run(_ shared: Shared, claiming name: String, opened: CheckedContinuation<Void, Error>) {
        var bus: OpaquePointer?
        let code = sd_bus_open_user(&bus)
        guard code >= 0, let bus else {
            let error = BusError("cannot connect to the session bus", code: code)
            close(shared.wakeRead)
            close(shared.wakeWrite)
            shared.continuation.finish()
            return opened.resume(throwing: error)
        }
        let claimed = sd_bus_request_name(bus, name, 0)
        guard claimed >= 0 else {
            sd_bus_flush_close_unref(bus)
            close(shared.wakeRead)
            close(shared.wakeWrite)
            shared.continuation.finish()
            return opened.resume(throwing: claimed == -EEXIST ? NameTaken(name: name) : BusError("cannot own \(name)", code: claimed))
        }
        let sink = Unmanaged.passRetained(SignalSink(shared.continuation))
        let matches: [(String, String)] = [
            ("org.freedesktop.Notifications", "ActionInvoked"),
            ("org.freedesktop.Notifications", "NotificationClosed"),
            ("org.kde.JobViewV2", "cancelRequested"),
        ]
        for (interface, member) in matches {
            let matched = sd_bus_match_signal(bus, nil, nil, nil, interface, member, onSignal, sink.toOpaque())
            guard matched >= 0 else {
                sd_bus_flush_close_unref(bus)
                sink.release()
                shared.continuation.finish()
                return opened.resume(throwing: BusError("cannot listen for \(member)", code: matched))
            }
        }
        opened.resume()
        let lost = loop(bus, shared)
        let pending = shared.jobs.withLock { jobs in
            jobs.closed = lost
            defer { jobs.queue.removeAll() }
            return jobs.queue
        }
        // Each queued job sees the closed bus fail its call and resumes its caller with that.
        for job in pending { job(bus) }
        sd_bus_flush_close_unref(bus)
        sink.release()
        close(shared.wakeRead)
        close(shared.wakeWrite)
        shared.continuation.finish()
    }

    /// Dispatches and runs jobs until the connection fails; returns why.
    private static func loop(_ bus: OpaquePointer, _ shared: Shared) -> BusError {
        while true {
            while true {
                let processed = sd_bus_process(bus, nil)
                if processed < 0 { return BusError("session bus connection lost", code: processed) }
                if processed == 0 { break }
            }
            let jobs = shared.jobs.withLock { jobs in
                defer { jobs.queue.removeAll() }
                return jobs.queue
            }
            for job in jobs { job(bus) }
            if !jobs.isEmpty { continue }  // a job's call may have queued incoming messages
            var fds = [
                pollfd(fd: sd_bus_get_fd(bus), events: Int16(sd_bus_get_events(bus)), revents: 0),
                pollfd(fd: shared.wakeRead, events: Int16(POLLIN), revents: 0),
            ]
            _ = poll(&fds, 2, pollTimeout(bus))
            if fds[1].revents != 0 {
                var drain = [UInt8](repeating: 0, count: 64)
                while read(shared.wakeRead, &drain, drain.count) > 0 {}
            }
        }
    }

    /// Milliseconds until sd-bus's next deadline (a call's timeout), -1 for none.
    private static func pollTimeout(_ bus: OpaquePointer) -> Int32 {
        var deadline: UInt64 = 0
        guard sd_bus_get_timeout(bus, &deadline) >= 0, deadline != UInt64.max else { return -1 }
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let nowMicros = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
        guard deadline > nowMicros else { return 0 }
        return Int32(min((deadline - nowMicros + 999) / 1000, 60_000))
    }
}

/// Another connection owns the name: another syncd-desktop runs in this session.
struct NameTaken: Error, CustomStringConvertible {
    let name: String
    var description: String { "another syncd-desktop runs in this session (it owns \(name))" }
}

/// Where the C signal callback hands decoded signals; kept alive while the bus is open.
private final class SignalSink {
    let continuation: AsyncStream<BusSignal>.Continuation
    init(_ continuation: AsyncStream<BusSignal>.Continuation) { self.continuation = continuation }
}

private func onSignal(_ message: OpaquePointer?, _ userdata: UnsafeMutableRawPointer?, _ error: UnsafeMutablePointer<sd_bus_error>?) -> Int32 {
    guard let message, let userdata else { return 0 }
    let sink = Unmanaged<SignalSink>.fromOpaque(userdata).takeUnretainedValue()
    let reader = BusMessage(pointer: message)
    // A signal whose arguments do not decode is someone else's mistake: skipped.
    switch reader.member {
    case "ActionInvoked":
        if let id = try? reader.readUInt32(), let action = try? reader.readString() {
            sink.continuation.yield(.actionInvoked(id: id, action: action))
        }
    case "NotificationClosed":
        if let id = try? reader.readUInt32() { sink.continuation.yield(.notificationClosed(id: id)) }
    case "cancelRequested":
        sink.continuation.yield(.cancelRequested(path: reader.path))
    default:
        break
    }
    return 0
}
