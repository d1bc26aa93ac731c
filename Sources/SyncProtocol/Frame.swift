import NIOCore

/// Framing: `u32 length | u16 type | payload`, big-endian, where `length` counts the type and the
/// payload (so it is at least 2). See docs/PROTOCOL.md §1.
public enum Frame {
    /// Bytes before the type: the length field.
    public static let lengthFieldSize = 4
    /// Default cap on `length` for frames a server accepts from clients: requests are small.
    public static let defaultClientFrameLimit = 64 * 1024
    /// Default cap on `length` for frames a client accepts from a server: snapshots can be large.
    public static let defaultServerFrameLimit = 16 * 1024 * 1024

    /// Appends `message` as one frame.
    public static func encode(_ message: Message, into buffer: inout ByteBuffer) {
        write(message.type, into: &buffer) { message.writePayload(to: &$0) }
    }

    /// Appends one event as a frame; the hot path of the fan-out, so no `Message` wrapper.
    public static func encode(_ event: SyncEvent, into buffer: inout ByteBuffer) {
        if case .progress(let step, let index, let max) = event.kind,
           event.writeProgressFrame(step: step, index: index, max: max, into: &buffer) {
            return
        }
        write(event.messageType, into: &buffer) { event.writePayload(to: &$0) }
    }

    /// Writes the length placeholder and type, the payload, then the real length.
    @inline(__always)
    private static func write(_ type: MessageType, into buffer: inout ByteBuffer, payload: (inout ByteBuffer) -> Void) {
        let start = buffer.writerIndex
        buffer.writeInteger(UInt32(0))
        buffer.writeInteger(type.rawValue)
        payload(&buffer)
        buffer.setInteger(UInt32(buffer.writerIndex - start - lengthFieldSize), at: start)
    }

    /// A new buffer holding `message` as one frame.
    public static func encode(_ message: Message, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 64)
        encode(message, into: &buffer)
        return buffer
    }

    /// Splits off the next whole frame, without decoding its payload.
    ///
    /// - Returns: the type and payload, or nil when `buffer` does not yet hold a whole frame (the
    ///   buffer is then left as it was).
    /// - Throws: ``ProtocolError/frameTooLarge(length:limit:)`` as soon as the length field is read,
    ///   before anything is allocated, and ``ProtocolError/frameTooShort(length:)``. The buffer is
    ///   left as it was.
    public static func next(in buffer: inout ByteBuffer, limit: Int) throws(ProtocolError) -> (MessageType, ByteBuffer)? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard length <= limit else { throw .frameTooLarge(length: length, limit: limit) }
        guard length >= 2 else { throw .frameTooShort(length: length) }
        guard buffer.readableBytes >= lengthFieldSize + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: lengthFieldSize)
        let type = MessageType(rawValue: buffer.readInteger(as: UInt16.self)!)
        let payload = buffer.readSlice(length: Int(length) - 2)!
        return (type, payload)
    }

    /// Decodes the next whole frame in `buffer`.
    ///
    /// - Returns: the message, or nil when more bytes are needed (the buffer is left as it was).
    /// - Throws: ``ProtocolError`` for a frame that cannot be trusted; the frame's bytes are consumed
    ///   when its payload is at fault, and left in place when its length field is.
    public static func decode(from buffer: inout ByteBuffer, limit: Int) throws(ProtocolError) -> Message? {
        guard let (type, payload) = try next(in: &buffer, limit: limit) else { return nil }
        var fields = payload
        return try Message.read(type, payload: &fields)
    }
}
