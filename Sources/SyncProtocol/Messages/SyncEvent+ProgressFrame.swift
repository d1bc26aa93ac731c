import NIOCore

extension SyncEvent {
    /// Appends this Progress as a whole frame in one pass over raw memory: the same bytes as the
    /// field-by-field ``writePayload(to:)`` (FrameTests compares the two), at a fraction of the cost. Progress is most of a flood, and each of ByteBuffer's checked writes
    /// costs a bounds and an exclusivity check; a frame has eleven of them.
    /// - Returns: false, having written nothing, when a string is too long for a field (the
    ///   field-by-field path cuts it).
    func writeProgressFrame(step: String?, index: UInt32, max: UInt32, into buffer: inout ByteBuffer) -> Bool {
        var store = self.store
        var step = step
        let storeBytes = store.utf8.count
        let stepBytes = step?.utf8.count ?? 0
        guard storeBytes <= ByteBuffer.maxStringBytes, stepBytes <= ByteBuffer.maxStringBytes else { return false }
        // type, seq, time, run, store, index, max, step presence (and step), callbacks
        let length = 2 + 8 + 8 + 8 + (2 + storeBytes) + 4 + 4 + 1 + (step == nil ? 0 : 2 + stepBytes) + 4
        let seq = self.seq, time = time.rawValue, run = self.run, callbacks = self.callbacks
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: Frame.lengthFieldSize + length) { raw in
            var out = RawWriter(raw)
            out.put(UInt32(length))
            out.put(MessageType.progress.rawValue)
            out.put(seq)
            out.put(time)
            out.put(run)
            out.put(UInt16(storeBytes))
            store.withUTF8 { out.put($0) }
            out.put(index)
            out.put(max)
            if step == nil {
                out.put(UInt8(0))
            } else {
                out.put(UInt8(1))
                out.put(UInt16(stepBytes))
                step!.withUTF8 { out.put($0) }
            }
            out.put(callbacks)
            return out.offset
        }
        return true
    }
}

/// Big-endian stores into memory the caller sized beforehand.
private struct RawWriter {
    let base: UnsafeMutableRawBufferPointer
    var offset = 0

    init(_ base: UnsafeMutableRawBufferPointer) { self.base = base }

    @inline(__always)
    mutating func put<T: FixedWidthInteger>(_ value: T) {
        base.storeBytes(of: value.bigEndian, toByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
    }

    @inline(__always)
    mutating func put(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        (base.baseAddress! + offset).copyMemory(from: source, byteCount: bytes.count)
        offset += bytes.count
    }
}
