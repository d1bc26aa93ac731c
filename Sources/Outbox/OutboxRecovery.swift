#if canImport(Glibc)
import Glibc
#endif
import Maildir

extension Outbox {
    /// Brings `sending/` back to a state of the lifecycle after a crash at any step (see
    /// ``Outbox``): temporaries removed, an envelope without its message removed (the original is
    /// still queued), an original whose prepared copy exists removed, decided outcomes completed, a
    /// prepared message without an envelope (never ours to lose) put back into the queue.
    func recover() throws {
        let names = try DurableFiles.list(sendingPath) ?? []
        let present = Set(names)
        var changed = false
        for name in names where name.hasSuffix(".tmp") {
            if try DurableFiles.unlinkIfPresent(sendingPath + "/" + name) { changed = true }
        }
        var claimed = Set<String>()
        for name in names where name.hasSuffix(".envelope") {
            let base = String(name.dropLast(".envelope".count))
            claimed.insert(base)
            guard let sidecar = try Sidecar.read(sendingPath + "/" + name) else { continue }
            guard present.contains(base) else {
                // Written before its message (so the original is still queued), or left after
                // the message was removed: nothing refers to it.
                try DurableFiles.unlinkIfPresent(sendingPath + "/" + name)
                changed = true
                continue
            }
            if sidecar.sent || sidecar.failure != nil || sidecar.filing != nil {
                try complete(base, sidecar)
            } else {
                try removeQueued(base: sidecar.source)
            }
        }
        for name in names where !name.hasSuffix(".tmp") && !name.hasSuffix(".envelope") && !claimed.contains(name) {
            let from = sendingPath + "/" + name
            guard Self.isRegularFile(from) else { continue }
            try DurableFiles.renameNoReplace(from, path + "/new/" + name)
            try DurableFiles.syncDirectory(path + "/new")
            changed = true
        }
        if changed { try DurableFiles.syncDirectory(sendingPath) }
    }

    static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG
    }
}
