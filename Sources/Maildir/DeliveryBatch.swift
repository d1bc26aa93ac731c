#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A group of downloads into one folder that become durable together.
///
/// ```swift
/// let batch = try folder.beginBatch()
/// for message in fetched {
///     let writer = try batch.open(uid: message.uid, flags: message.flags, internalDate: message.date)
///     for chunk in message.body { try writer.write(chunk) }
///     try writer.finish()
/// }
/// let durable = try batch.commit(highestModSeq: modseq)   // only now are these UIDs done
/// ```
///
/// Writers stream into `tmp/`; nothing is fsynced until ``commit(highestUID:highestModSeq:)``, which
/// then does, in this order: (1) fsync every finished file (issued concurrently from up to 16
/// threads, so the file system groups them into shared journal commits), (2) rename each from `tmp/` to `cur/`
/// (or `new/`) under its final name carrying `,S=`, `,F=`, `,V=`, `,U=` and the flags, (3) fsync
/// each directory renamed into, once, (4) commit the UID map, (5) delete the header files that
/// whole messages from ``openBody(uid:sizeHint:)`` replace. A crash before (2) leaves only
/// temporary files, deleted at the next open; a crash after (2) leaves files that recovery adopts
/// into the map by their names. Either way every message ends up exactly once: present and mapped,
/// or absent and unmapped, to be downloaded again.
///
/// Per batch of N messages into one directory: N + 1 fsyncs, plus 2 for the map (its file and the
/// folder directory).
public final class DeliveryBatch {
    private let folder: MaildirFolder
    private let uidValidity: UInt32
    private let folderID: UInt32
    private let generation: Int
    private var writers: [MessageWriter] = []
    private var uids = Set<UInt32>()
    private var isClosed = false

    init(folder: MaildirFolder, uidValidity: UInt32, folderID: UInt32, generation: Int) {
        self.folder = folder
        self.uidValidity = uidValidity
        self.folderID = folderID
        self.generation = generation
    }

    /// Messages opened in this batch so far.
    public var count: Int { writers.count }

    /// Starts writing message `uid` into a new file in `tmp/`.
    /// - Parameters:
    ///   - flags: the server's flags at download; they go into the file name and the map.
    ///   - headersOnly: the bytes are the message's header only; its name says so (`H=1`, see
    ///     ``MessageFileName``) and ``UIDMap/Entry/isHeadersOnly`` is true until ``openBody(uid:sizeHint:)``
    ///     replaces it.
    ///   - internalDate: the message's INTERNALDATE, set as the file's modification time (what Maildir
    ///     readers show as the received date); `nil` leaves it at the download time.
    ///   - sizeHint: the announced size, advisory only (the real size is counted while writing).
    /// - Throws: ``MaildirError/Code/duplicateUID`` if `uid` is in the map or already in this batch
    ///   (so a message is never downloaded twice); ``MaildirError/Code/batchClosed``;
    ///   ``MaildirError/Code/io`` if the file cannot be created.
    public func open(
        uid: UInt32, flags: MessageFlags = [], headersOnly: Bool = false, internalDate: Date? = nil, sizeHint: Int? = nil
    ) throws -> MessageWriter {
        try checkOpen(uid)
        guard !folder.contains(uid), !uids.contains(uid) else {
            throw MaildirError(.duplicateUID, "UID \(uid) of \(folder.name) is already downloaded or in this batch")
        }
        return try makeWriter(uid: uid, flags: flags, kind: headersOnly ? .headersOnly : .whole, internalDate: internalDate)
    }

    /// Starts writing the whole message for `uid`, which is in the map headers only. At commit the
    /// new file takes the header file's place (with the flags the header file has locally), in the
    /// same order of steps as a download: the map records the new file before the old is deleted.
    /// - Throws: ``MaildirError/Code/duplicateUID`` if `uid` is not in the map as headers only, or is
    ///   already in this batch; ``MaildirError/Code/batchClosed``; ``MaildirError/Code/io``.
    public func openBody(uid: UInt32, sizeHint: Int? = nil) throws -> MessageWriter {
        try checkOpen(uid)
        guard folder.map.entries[uid]?.isHeadersOnly == true, !uids.contains(uid) else {
            throw MaildirError(.duplicateUID, "UID \(uid) of \(folder.name) is not a headers-only message (or is already in this batch)")
        }
        return try makeWriter(uid: uid, flags: [], kind: .body, internalDate: nil)
    }

    /// Starts writing message `uid` again: it is in the map, but its file is gone (deleted here
    /// while the server changed it, so the change wins and the message comes back). At commit the
    /// new file takes the entry, with the flags agreed so far, as for ``openBody(uid:sizeHint:)``.
    /// - Throws: ``MaildirError/Code/duplicateUID`` if `uid` is not in the map, or is already in
    ///   this batch; ``MaildirError/Code/batchClosed``; ``MaildirError/Code/io``.
    public func openRestore(uid: UInt32, sizeHint: Int? = nil) throws -> MessageWriter {
        try checkOpen(uid)
        guard folder.map.entries[uid] != nil, !uids.contains(uid) else {
            throw MaildirError(.duplicateUID, "UID \(uid) of \(folder.name) is not in the map (or is already in this batch)")
        }
        return try makeWriter(uid: uid, flags: [], kind: .restore, internalDate: nil)
    }

    private func checkOpen(_ uid: UInt32) throws {
        guard !isClosed else { throw MaildirError(.batchClosed, "the batch was already committed or aborted") }
        try folder.checkUsable()
        guard uid != 0 else { throw MaildirError(.duplicateUID, "UID 0 is not a valid IMAP UID") }
    }

    private func makeWriter(uid: UInt32, flags: MessageFlags, kind: MessageWriter.Kind, internalDate: Date?) throws -> MessageWriter {
        let options = folder.store.options
        var attempts = 0
        while true {
            let unique = folder.store.nextUniqueName()
            let path = folder.tmpPath + "/"
                + MessageFileName.temporaryName(unique: unique, folderID: folderID, uidValidity: uidValidity, uid: uid)
            let fd = Posix.create(path, mode: options.fileMode)
            if fd < 0 {
                attempts += 1
                if errno == EEXIST, attempts < 5 { continue }
                throw MaildirError.io("create", path)
            }
            let writer = MessageWriter(
                uid: uid, flags: flags, kind: kind, unique: unique, temporaryPath: path, descriptor: fd,
                internalDate: internalDate, convertLineEndings: options.lineEndings == .unix)
            writers.append(writer)
            uids.insert(uid)
            return writer
        }
    }

    /// Makes the finished messages durable (see the type's steps) and returns their UIDs, ascending.
    /// Writers not finished — a download cut off mid-message — are discarded and not returned; so are
    /// UIDs another batch committed meanwhile. The map's highest UID becomes at least the largest
    /// committed UID and `highestUID`; `highestModSeq`, if given, is recorded in the same map commit.
    /// An empty batch commits only those two values, and nothing at all if they are unchanged.
    ///
    /// The batch is closed afterwards, whether or not it succeeds.
    /// - Throws: ``MaildirError/Code/batchClosed`` (twice, or after a
    ///   ``MaildirFolder/resetFolder(newUIDValidity:)``); ``MaildirError/Code/io`` — then none of the
    ///   UIDs may be counted as done and the folder handle needs reopening, whose recovery keeps or
    ///   drops each message consistently.
    public func commit(highestUID: UInt32? = nil, highestModSeq: UInt64? = nil) throws -> [UInt32] {
        guard !isClosed else { throw MaildirError(.batchClosed, "the batch was already committed or aborted") }
        isClosed = true
        try folder.checkUsable()
        guard generation == folder.generation else {
            throw MaildirError(.batchClosed, "the folder's UIDVALIDITY was reset after this batch began")
        }
        var ready: [MessageWriter] = []
        for writer in writers {
            let wanted = switch writer.kind {
            case .body: folder.map.entries[writer.uid]?.isHeadersOnly == true
            case .restore: folder.contains(writer.uid)
            case .whole, .headersOnly: !folder.contains(writer.uid)
            }
            if writer.isFinished, wanted {
                ready.append(writer)
            } else {
                writer.discard()
            }
        }
        writers = []
        return try folder.commitDelivery(
            ready, uidValidity: uidValidity, folderID: folderID, highestUID: highestUID, highestModSeq: highestModSeq)
    }

    /// Abandons the batch: deletes its temporary files. (Dropping a batch without committing or
    /// aborting leaves them for the next open's recovery to delete.)
    public func abort() {
        guard !isClosed else { return }
        isClosed = true
        for writer in writers { writer.discard() }
        writers = []
    }
}

/// Streams one message body into its temporary file. Chunks of any size are accepted; at most
/// ``bufferCapacity`` bytes are held in memory, whatever the message size, and none once finished
/// (a batch of 1000 finished messages costs a few hundred bytes each until commit).
public final class MessageWriter {
    /// The most bytes a writer buffers before writing to the file.
    public static let bufferCapacity = 64 * 1024

    /// The message's UID on the server.
    public let uid: UInt32
    /// The server flags it is delivered with.
    public let flags: MessageFlags
    /// What the file will be.
    enum Kind {
        case whole
        case headersOnly
        /// The whole message, replacing its headers-only file.
        case body
        /// The whole message again, for a mapped UID whose file is gone.
        case restore
    }
    let kind: Kind
    let unique: String
    let temporaryPath: String
    private var descriptor: Int32
    private let internalDate: Date?
    private let convertLineEndings: Bool
    private var buffer: [UInt8] = []
    private var heldCR = false
    private(set) var isFinished = false
    private var isDead = false
    /// The largest the buffer has been, for tests.
    private(set) var peakBuffered = 0
    /// Memory the buffer holds now, for tests.
    var bufferAllocation: Int { buffer.capacity }
    /// Bytes in the file so far (after line-ending conversion); the final size once finished.
    public private(set) var size = 0

    init(
        uid: UInt32, flags: MessageFlags, kind: Kind, unique: String, temporaryPath: String, descriptor: Int32,
        internalDate: Date?, convertLineEndings: Bool
    ) {
        self.uid = uid
        self.flags = flags
        self.kind = kind
        self.unique = unique
        self.temporaryPath = temporaryPath
        self.descriptor = descriptor
        self.internalDate = internalDate
        self.convertLineEndings = convertLineEndings
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    /// Appends bytes to the message.
    /// - Throws: ``MaildirError/Code/writerClosed`` after ``finish()``, a failure or a discard;
    ///   ``MaildirError/Code/io`` (full disk...), after which the writer is dead and its batch will
    ///   discard it.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard !isFinished, !isDead else { throw MaildirError(.writerClosed, "message \(uid) is no longer open for writing") }
        do {
            if convertLineEndings { try appendConverting(bytes) } else { try append(bytes) }
        } catch {
            isDead = true
            throw error
        }
    }

    /// Appends bytes to the message (`[UInt8]`, `ArraySlice`, `Data`, ...); see ``write(_:)-(UnsafeRawBufferPointer)``.
    public func write(_ bytes: some Collection<UInt8>) throws {
        let done: Void? = try bytes.withContiguousStorageIfAvailable { try write(UnsafeRawBufferPointer($0)) }
        if done == nil { try Array(bytes).withUnsafeBytes { try write($0) } }
    }

    /// Completes the message: flushes, sets the modification time, closes the file (not yet fsynced:
    /// the batch commit does that for all files at once).
    /// - Throws: ``MaildirError/Code/writerClosed`` if already finished or dead; ``MaildirError/Code/io``.
    public func finish() throws {
        guard !isFinished, !isDead else { throw MaildirError(.writerClosed, "message \(uid) is no longer open for writing") }
        do {
            if heldCR {
                heldCR = false
                try put(13)
            }
            try flush()
            if let internalDate {
                let seconds = internalDate.timeIntervalSince1970
                let whole = seconds.rounded(.down)
                let stamp = timespec(tv_sec: Int(whole), tv_nsec: Int((seconds - whole) * 1e9))
                var times = (stamp, stamp)
                let result = withUnsafePointer(to: &times) {
                    $0.withMemoryRebound(to: timespec.self, capacity: 2) { futimens(descriptor, $0) }
                }
                guard result == 0 else { throw MaildirError.io("futimens", temporaryPath) }
            }
            // A batch keeps its finished writers until commit: drop the buffer now, not then.
            buffer = []
            let fd = descriptor
            descriptor = -1
            guard close(fd) == 0 else { throw MaildirError.io("close", temporaryPath) }
            isFinished = true
        } catch {
            isDead = true
            throw error
        }
    }

    /// Abandons the message and deletes its temporary file (its batch will not commit it).
    public func discard() {
        isDead = true
        if descriptor >= 0 {
            close(descriptor)
            descriptor = -1
        }
        isFinished = false
        buffer = []
        unlink(temporaryPath)
    }

    // MARK: Buffering

    private func append(_ bytes: UnsafeRawBufferPointer) throws {
        if buffer.count + bytes.count > Self.bufferCapacity { try flush() }
        if bytes.count >= Self.bufferCapacity {
            try Posix.writeAll(descriptor, bytes, path: temporaryPath)
            size += bytes.count
            return
        }
        reserveBuffer()
        buffer.append(contentsOf: bytes)
        peakBuffered = max(peakBuffered, buffer.count)
    }

    private func reserveBuffer() {
        if buffer.capacity == 0 { buffer.reserveCapacity(Self.bufferCapacity) }
    }

    private func put(_ byte: UInt8) throws {
        if buffer.count == Self.bufferCapacity { try flush() }
        reserveBuffer()
        buffer.append(byte)
        peakBuffered = max(peakBuffered, buffer.count)
    }

    /// CRLF → LF across chunk boundaries: a CR at the end of a chunk is held until the next byte.
    private func appendConverting(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        var start = 0
        if heldCR {
            heldCR = false
            if bytes[0] != 10 { try put(13) }
        }
        while start < bytes.count {
            guard let found = memchr(base + start, 13, bytes.count - start) else {
                try append(UnsafeRawBufferPointer(rebasing: bytes[start...]))
                return
            }
            let cr = base.distance(to: UnsafeRawPointer(found))
            try append(UnsafeRawBufferPointer(rebasing: bytes[start..<cr]))
            if cr + 1 == bytes.count {
                heldCR = true
                return
            }
            if bytes[cr + 1] != 10 { try put(13) }
            start = cr + 1
        }
    }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try Posix.writeAll(descriptor, $0, path: temporaryPath) }
        size += buffer.count
        buffer.removeAll(keepingCapacity: true)
    }
}
