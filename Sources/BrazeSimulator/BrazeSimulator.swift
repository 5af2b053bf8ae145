import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// A stand-in for Braze's Cloud Data Ingestion REST API, for demos and tests. It owns one
/// simulated workspace: bearer auth, integration-ID validation, a job per accepted trigger
/// that answers "Another job is in progress" until it ends, per-endpoint sliding-window rate
/// limits with `X-RateLimit-*` headers, paginated status and list endpoints, optional fault
/// injection (5xx, latency, dropped connections) and a log of every request at
/// `GET /_sim/requests`. It follows Braze's documented behaviour, never a particular client's
/// expectations, and keeps all state in memory.
///
/// ```swift
/// let simulator = BrazeSimulator(config: SimulatorConfig(apiKey: "key", integrations: [id]))
/// try await simulator.run(port: 0) { port in print("listening on \(port)") }
/// ```
public final class BrazeSimulator: Sendable {
    public let config: SimulatorConfig
    private let workspace: Workspace
    private let logger: Logger

    public init(config: SimulatorConfig, logger: Logger = Logger(label: "BrazeSimulator")) {
        self.config = config
        self.workspace = Workspace(config: config)
        self.logger = logger
    }

    /// Serves until the task is cancelled. Port 0 picks a free port; `onListening` receives the bound one.
    public func run(
        host: String = "127.0.0.1", port: Int = 0,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws {
        try await service(host: host, port: port, onListening: onListening).run()
    }

    /// The simulator as a lifecycle `Service`, for a `ServiceGroup` that shuts it down gracefully.
    public func service(
        host: String = "127.0.0.1", port: Int = 0,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some Service {
        Application(
            router: makeRouter(),
            configuration: .init(address: .hostname(host, port: port), serverName: "BrazeSimulator"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }

    /// The request log, oldest first.
    public func requests() async -> [SimRequest] {
        await workspace.log
    }

    /// Forgets jobs, rate-limit windows and the log.
    public func reset() async {
        await workspace.reset()
    }

    private func makeRouter() -> Router<SimulatorContext> {
        let router = Router(context: SimulatorContext.self)
        router.post("/cdi/integrations/:id/sync") { request, context in
            try await self.serve(.trigger, request, context)
        }
        router.get("/cdi/integrations/:id/job_sync_status") { request, context in
            try await self.serve(.status, request, context)
        }
        router.get("/cdi/integrations") { request, context in
            try await self.serve(.list, request, context)
        }
        router.get("/_sim/requests") { _, _ in
            Self.json(200, Workspace.encode(await self.workspace.log))
        }
        router.post("/_sim/reset") { _, _ in
            await self.workspace.reset()
            return Self.json(200, Workspace.encode(["message": "success"]))
        }
        for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete] {
            router.on("**", method: method) { request, _ in
                await self.workspace.record(
                    SimRequest(
                        method: request.method.rawValue, path: request.uri.path, integrationID: nil,
                        status: 404, message: "Not found", receivedAt: Date().timeIntervalSince1970, kind: .other
                    ))
                return Self.json(404, Workspace.encode(["message": "Not found"]))
            }
        }
        return router
    }

    private func serve(_ kind: SimRequest.Kind, _ request: Request, _ context: SimulatorContext) async throws -> Response {
        let receivedAt = Date().timeIntervalSince1970
        let integrationID = context.parameters.get("id")
        let faults = await workspace.drawFaults()
        if let latency = faults.latency {
            try await Task.sleep(for: latency)
        }
        if faults.dropConnection {
            await workspace.record(
                SimRequest(
                    method: request.method.rawValue, path: request.uri.path, integrationID: integrationID,
                    status: 0, message: "connection dropped", receivedAt: receivedAt, kind: kind
                ))
            context.closeConnection()
            // Never written: the connection is already closing.
            return Response(status: .internalServerError)
        }
        let call = CDICall(
            kind: kind, method: request.method.rawValue, path: request.uri.path,
            authorization: request.headers[.authorization], integrationID: integrationID,
            cursor: request.uri.queryParameters.get("cursor"),
            origin: "http://\(request.head.authority ?? "127.0.0.1")"
        )
        let reply = await workspace.handle(call, at: receivedAt)
        var response = Self.json(reply.status, reply.body)
        for header in reply.headers {
            if let name = HTTPFields.Element.Name(header.name) { response.headers[name] = header.value }
        }
        return response
    }

    private static func json(_ status: Int, _ body: Data) -> Response {
        Response(
            status: HTTPResponse.Status(code: status),
            headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body))
        )
    }
}

/// Request context that can close the underlying connection, for the dropped-connection fault.
struct SimulatorContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let closeConnection: @Sendable () -> Void

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        let channel = source.channel
        closeConnection = { channel.close(promise: nil) }
    }
}
