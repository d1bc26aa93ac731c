import NIOCore
import SyncProtocol

/// Splits a byte stream into protocol messages, refusing frames over `limit` before buffering them.
struct MessageDecoder: ByteToMessageDecoder {
    typealias InboundOut = Message
    let limit: Int

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let message = try Frame.decode(from: &buffer, limit: limit) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(message))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // A partial frame at EOF is simply dropped with the connection.
        try decode(context: context, buffer: &buffer)
    }
}
