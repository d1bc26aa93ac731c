#if canImport(Glibc)
import Glibc
#endif

/// How a task on the cooperative pool speaks to a watcher's own thread, which blocks in poll(2)
/// (``SleepWatcher``, ``NetworkWatcher``): a byte written to a pipe the thread polls beside its
/// socket. Both ends close with it.
final class ControlPipe: Sendable {
    /// What the thread polls.
    let readEnd: Int32
    private let writeEnd: Int32

    init() {
        var fds: [Int32] = [-1, -1]
        _ = pipe(&fds)
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        (readEnd, writeEnd) = (fds[0], fds[1])
    }

    deinit {
        close(readEnd)
        close(writeEnd)
    }

    func send(_ byte: UInt8) {
        var byte = byte
        _ = write(writeEnd, &byte, 1)
    }
}
