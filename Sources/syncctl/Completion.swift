import ArgumentParser
import Foundation
import SyncIPC
import SyncProtocol

/// Shell completion of store names (`syncctl sync <TAB>`): asks the daemon on the socket the
/// command line being completed names, and offers nothing, quickly, when it does not answer.
enum Completion {
    /// For the store arguments of sync, cancel, pause, resume, status, watch and errors.
    static let stores = CompletionKind.custom { words, index, prefix in
        await storeNames(words: words, index: index, prefix: prefix)
    }

    /// The configured stores starting with `prefix`, less those already named on the line.
    /// `words` are the shell's words (the command's name first), `index` the one being completed.
    static func storeNames(words: [String], index: Int, prefix: String) async -> [String] {
        let path = socket(in: words, completing: index)
        // A shell waits for this: at most 400 ms for the connection and 400 ms for the answer.
        guard let client = try? await SyncClient.connect(
            to: path, clientName: "syncctl completion", timeout: .milliseconds(400), requestTimeout: .milliseconds(400))
        else { return [] }
        let snapshot = try? await client.status()
        await client.close()
        let named = Set(words.enumerated().filter { $0.offset != index }.map(\.element))
        return (snapshot?.stores ?? []).map(\.name).filter { $0.hasPrefix(prefix) && !named.contains($0) }
    }

    /// The socket `--socket` names on the line (the last one, as parsing takes it), else
    /// $SYNCD_SOCKET, else the system socket. bash splits `--socket=P` into "--socket", "=", "P".
    static func socket(in words: [String], completing index: Int) -> String {
        var found: String?
        var i = 0
        while i < words.count {
            let word = words[i]
            if word == "--socket", i + 1 < words.count, i + 1 != index {
                if words[i + 1] == "=", i + 2 < words.count, i + 2 != index {
                    found = words[i + 2]
                    i += 3
                    continue
                }
                found = words[i + 1]
                i += 2
                continue
            }
            if word.hasPrefix("--socket="), i != index {
                found = String(word.dropFirst("--socket=".count))
            }
            i += 1
        }
        // The shell has not expanded the word yet: `--socket ~/syncd.sock`.
        if let found, !found.isEmpty { return (found as NSString).expandingTildeInPath }
        return ProcessInfo.processInfo.environment["SYNCD_SOCKET"] ?? SocketTrouble.systemSocket
    }
}
