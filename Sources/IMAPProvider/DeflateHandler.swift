import CompressNIO
import NIOCore
import Synchronization

/// COMPRESS=DEFLATE (RFC 4978): raw deflate (RFC 1951, no zlib header) both ways, inserted
/// right after TLS (or at the socket without it) once the server said OK to `COMPRESS DEFLATE`.
/// Each write is sent with a sync flush, so a command reaches the server whole at once; what
/// the server sends is inflated as it comes, in chunks of at most 64 KB.
final class DeflateHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let deflater: ZlibCompressor
    private let inflater: ZlibDecompressor

    init() throws {
        deflater = try ZlibCompressor(algorithm: .deflate)
        inflater = try ZlibDecompressor(algorithm: .deflate)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = unwrapInboundIn(data)
        while true {
            var output = context.channel.allocator.buffer(capacity: min(65_536, max(16_384, input.readableBytes * 4)))
            var outputFull = false
            do {
                try inflater.inflate(from: &input, to: &output)
            } catch let error as CompressNIOError where error == .bufferOverflow {
                outputFull = true  // more may be pending inside zlib: go on with a new buffer
            } catch let error as CompressNIOError where error == .inputBufferOverflow {
                // Everything received so far is inflated.
            } catch {
                context.fireErrorCaught(IMAPConnectionError.lost("COMPRESS: the server's deflate stream is broken (\(error))"))
                context.close(promise: nil)
                return
            }
            if output.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(output)) }
            if !outputFull { break }
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var input = unwrapOutboundIn(data)
        guard input.readableBytes > 0 else {
            context.write(data, promise: promise)
            return
        }
        var output = context.channel.allocator.buffer(capacity: deflater.maxSize(from: input))
        do {
            try deflater.deflate(from: &input, to: &output, flush: .sync)
        } catch {
            promise?.fail(IMAPConnectionError.lost("COMPRESS: \(error)"))
            context.close(promise: nil)
            return
        }
        context.write(wrapOutboundOut(output), promise: promise)
    }
}

/// Bytes on the wire (below TLS and COMPRESS) of every IMAP connection of this process: what
/// the benchmarks and tests compare with and without COMPRESS.
final class WireTraffic: Sendable {
    static let total = WireTraffic()
    private let receivedBytes = Atomic<Int>(0)
    private let sentBytes = Atomic<Int>(0)

    var received: Int { receivedBytes.load(ordering: .relaxed) }
    var sent: Int { sentBytes.load(ordering: .relaxed) }

    func add(received count: Int) { receivedBytes.add(count, ordering: .relaxed) }
    func add(sent count: Int) { sentBytes.add(count, ordering: .relaxed) }
}

/// Counts the bytes of a connection as they pass the socket (first in the pipeline).
final class WireCountingHandler: ChannelDuplexHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        WireTraffic.total.add(received: unwrapInboundIn(data).readableBytes)
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        WireTraffic.total.add(sent: unwrapOutboundIn(data).readableBytes)
        context.write(data, promise: promise)
    }
}
