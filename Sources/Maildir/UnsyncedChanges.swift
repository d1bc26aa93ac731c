/// For a watcher beside the store's runs (which lock the store): whether a folder holds a change
/// that no run has synchronised, read from the files and the UID map alone.
extension MaildirTree {
    /// Whether `name` holds a local change (a flag, a vanished message, a file that is not ours)
    /// that its UID map does not record: what the next run's ``MaildirFolder/scanLocalChanges()``
    /// would report, read without opening the store. A folder whose saved listing stamp still
    /// matches is clean without reading its directories. A folder never synchronised (no map)
    /// holds a change if it holds any message; a missing one holds none.
    ///
    /// Only meaningful while no run writes the folder: a run in progress may show half its work.
    /// - Throws: ``MaildirError/Code/io`` if a directory or the map cannot be read, or the map
    ///   does not parse (a caller unsure should assume a change).
    public func hasUnsyncedChanges(_ name: FolderName) throws -> Bool {
        let path = try directory(for: name)
        if let saved = ListingStamp.saved(folder: path), try ListingStamp.current(folder: path) == saved { return false }
        let mapPath = path + "/" + MaildirStore.mapFileName
        guard MaildirStore.isMaildir(path) else { return false }
        guard let map = try UIDMap(file: mapPath) else { return try !FolderListing(folder: path, map: UIDMap()).files.isEmpty }
        return !MaildirFolder.changes(map: map, listing: try FolderListing(folder: path, map: map)).isEmpty
    }
}
