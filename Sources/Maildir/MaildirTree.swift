#if canImport(Glibc)
import Glibc
#endif

/// Where a store's folders are on disk, read without opening the store (which locks it): for a
/// watcher beside the store's runs. Only reads directories.
public struct MaildirTree: Sendable {
    public let root: String
    public let layout: MaildirLayout

    public init(root: String, layout: MaildirLayout) {
        var root = root
        while root.count > 1, root.hasSuffix("/") { root.removeLast() }
        self.root = root
        self.layout = layout
    }

    /// The folder's Maildir directory (the root for INBOX in Maildir++).
    public func directory(for name: FolderName) throws -> String {
        guard let relative = try FolderPathCodec.relativePath(for: name, layout: layout) else { return root }
        return root + "/" + relative
    }

    /// The folders that exist locally as complete Maildirs (`cur`, `new` and `tmp` present), sorted,
    /// INBOX first. Directories whose names are not canonical encodings (see ``MaildirLayout``), and a
    /// nested-layout parent that is only a plain directory, are not listed.
    /// - Throws: ``MaildirError/Code/io`` if the root cannot be read.
    public func listFolders() throws -> [FolderName] {
        var found: [FolderName] = []
        switch layout {
        case .maildirPlusPlus:
            if MaildirStore.isMaildir(root) { found.append(.inbox) }
            for entry in try Posix.list(root)?.entries ?? [] {
                guard entry.name.hasPrefix("."), !entry.name.hasPrefix(".syncd-"),
                    let name = FolderPathCodec.folderName(plusPlusDirectory: entry.name),
                    MaildirStore.isMaildir(root + "/" + entry.name)
                else { continue }
                found.append(name)
            }
        case .nested:
            try walkNested(directory: root, relative: [], depth: 0, into: &found)
        }
        return found.sorted()
    }

    private func walkNested(directory: String, relative: [String], depth: Int, into found: inout [FolderName]) throws {
        guard depth < 64 else { return }
        for entry in try Posix.list(directory)?.entries ?? [] where FolderPathCodec.mayBeNestedFolder(entry.name) {
            let path = directory + "/" + entry.name
            guard Posix.isDirectory(entry, in: directory) else { continue }
            let components = relative + [entry.name]
            guard let name = FolderPathCodec.folderName(nestedDirectories: components) else { continue }
            if MaildirStore.isMaildir(path) { found.append(name) }
            try walkNested(directory: path, relative: components, depth: depth + 1, into: &found)
        }
    }

}
