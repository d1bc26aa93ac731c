import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Everything syncctl writes goes through here, with `write(2)` rather than stdio or FileHandle
/// (whose write traps on a failed write).
///
/// A reader that went away (`syncctl watch --json | head -1`) is not an error: like other Unix
/// tools, syncctl then exits quietly with status 0. SIGPIPE is ignored (``ignoreSIGPIPE()``, at
/// start-up) so that the failed write returns EPIPE here instead of killing the process.
enum Output {
    /// Ignores SIGPIPE for the whole process; a write to a closed pipe then fails with EPIPE.
    static func ignoreSIGPIPE() {
        signal(SIGPIPE, SIG_IGN)
    }

    /// Writes `text` and a newline to standard output.
    static func line(_ text: String) {
        write(text + "\n")
    }

    static func write(_ text: String) {
        write(Data(text.utf8))
    }

    /// Writes all of `data` to standard output; on EPIPE exits with status 0, on any other write
    /// error says so on stderr and exits with 74 (EX_IOERR).
    static func write(_ data: Data) {
        guard let failure = writeAll(data, to: STDOUT_FILENO) else { return }
        if failure == EPIPE { exit(Exit.ok) }
        error("syncctl: cannot write to standard output: \(String(cString: strerror(failure)))")
        exit(Exit.ioError)
    }

    /// Writes `text` and a newline to standard error; a failure there cannot be reported anywhere.
    static func error(_ text: String) {
        _ = writeAll(Data((text + "\n").utf8), to: STDERR_FILENO)
    }

    /// Writes all of `data` to `fd`, retrying short writes and EINTR.
    /// - Returns: the errno of a failed write, nil when everything was written.
    private static func writeAll(_ data: Data, to fd: CInt) -> Int32? {
        data.withUnsafeBytes { bytes -> Int32? in
            guard let base = bytes.baseAddress else { return nil }
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(fd, base + offset, bytes.count - offset)
                if written >= 0 {
                    offset += written
                } else if errno != EINTR {
                    return errno
                }
            }
            return nil
        }
    }
}
