import Foundation
import HTTPTypes
import Hummingbird
import ServiceLifecycle
import SyncIPC
import SyncJSON
import SyncProtocol

/// The HTTP surface: the dashboard and its assets, `/metrics`, `/events`, `/api/...`.
enum Routes {
    static func router(bridge: Bridge, gate: ControlGate) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/") { _, _ in asset(Dashboard.html, type: "text/html; charset=utf-8") }
        router.get("/dashboard.js") { _, _ in asset(Dashboard.script, type: "text/javascript; charset=utf-8") }
        router.get("/dashboard.css") { _, _ in asset(Dashboard.style, type: "text/css; charset=utf-8") }
        router.get("/metrics") { request, _ in
            // The viewer counts are the daemon's, not in its event stream: asked for at each scrape.
            let viewers = try? await DaemonRequest.viewers(socket: bridge.socket)
            let text = await bridge.metricsText(viewers: viewers)
            if OpenMetrics.isAccepted(by: request.headers[.accept]) {
                return Response(status: .ok, headers: [.contentType: OpenMetrics.contentType],
                                body: .init(byteBuffer: ByteBuffer(string: OpenMetrics.text(fromPrometheus: text))))
            }
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        router.get("/events") { request, _ in
            // The browser sends Last-Event-ID itself when it reconnects; `?since=` is for scripts.
            let last = request.headers[lastEventID].flatMap { UInt64($0) }
                ?? request.uri.queryParameters.get("since", as: UInt64.self)
            let (id, mailbox) = await bridge.attach(lastEventID: last)
            return Response(
                status: .ok,
                headers: [.contentType: "text/event-stream", .cacheControl: "no-store", accelBuffering: "no"],
                body: ResponseBody { writer in
                    do {
                        try await withGracefulShutdownHandler {
                            while let frames = await mailbox.next() {
                                var batch = ByteBuffer()
                                for var frame in frames { batch.writeBuffer(&frame) }
                                try await writer.write(batch)
                            }
                        } onGracefulShutdown: {
                            mailbox.finish()
                        }
                    } catch {
                        await bridge.detach(id)  // the client went away
                        throw error
                    }
                    await bridge.detach(id)
                    try await writer.finish(nil)
                })
        }
        router.get("/api/status") { request, _ in
            try await daemon {
                let reply = try await DaemonRequest.status(socket: bridge.socket, stores: request.uri.queryParameters.getAll("store"))
                return try json(JSONSerialization.jsonObject(with: JSONEncoder().encode(JSONOutput.status(reply.snapshot, viewers: reply.viewers))))
            }
        }
        router.get("/api/errors") { request, _ in
            try await daemon {
                let entries = try await DaemonRequest.errors(socket: bridge.socket, stores: request.uri.queryParameters.getAll("store"))
                return try json(entries.map(JSONOutput.entry))
            }
        }
        router.get("/api/runs") { request, _ in
            try await daemon {
                let runs = try await DaemonRequest.runs(socket: bridge.socket, stores: request.uri.queryParameters.getAll("store"))
                return try json(runs.map { run in JSONOutput.run(run).merging(["store": run.store]) { $1 } })
            }
        }
        router.post("/api/stores/:store/:action") { request, context in
            let store = try context.parameters.require("store")
            let command: SyncProtocol.Request.Command
            switch try context.parameters.require("action") {
            case "sync": command = .syncNow(store: store, flags: [])  // the store's configured flags, as `syncctl sync`
            case "cancel": command = .cancel(store: store)
            case "pause": command = .pause(store: store)
            case "resume": command = .resume(store: store)
            case let other: return try json(["error": "unknown action '\(other)': sync, cancel, pause or resume"], status: .notFound)
            }
            guard gate.offersControls else {
                return try json(["error": "controls are off: start syncd-http with --control-token-file (see the README)"], status: .forbidden)
            }
            guard gate.allows(request) else {
                var response = try json(["error": "not authorised: send the control token (Authorization: Bearer) and X-Syncd-Control: 1"],
                                        status: .unauthorized)
                if case .token = gate { response.headers[.wwwAuthenticate] = "Bearer" }
                return response
            }
            return try await daemon {
                let reply = try await DaemonRequest.send(command, socket: bridge.socket)
                return try json(JSONOutput.reply(reply, message: reply.message, for: command), status: httpStatus(reply.status))
            }
        }
        return router
    }

    private static let lastEventID = HTTPField.Name("Last-Event-ID")!
    // nginx buffers responses unless told not to; an event stream must pass through at once.
    private static let accelBuffering = HTTPField.Name("X-Accel-Buffering")!

    private static func asset(_ text: String, type: String) -> Response {
        Response(
            status: .ok,
            headers: [
                .contentType: type, .cacheControl: "no-cache",
                .contentSecurityPolicy: "default-src 'self'; frame-ancestors 'none'", .xContentTypeOptions: "nosniff",
            ],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    private static func json(_ object: Any, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
        return Response(status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data + Data("\n".utf8))))
    }

    /// Runs a daemon request; a daemon that is down or refuses becomes a JSON error, not a 500.
    private static func daemon(_ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch let error as SyncClientError {
            if case .refused(let reply) = error {
                return try json(["error": "\(error)", "code": reply.status.name], status: httpStatus(reply.status))
            }
            return try json(["error": "\(error)"], status: .serviceUnavailable)
        }
    }

    private static func httpStatus(_ status: SyncStatus) -> HTTPResponse.Status {
        switch status {
        case _ where !status.isFailure: return .ok
        case .permissionDenied: return .forbidden
        case .notFound: return .notFound
        case .invalidArgument: return .badRequest
        case .busy, .paused, .authRequired, .shuttingDown: return .conflict
        default: return .badGateway
        }
    }
}
