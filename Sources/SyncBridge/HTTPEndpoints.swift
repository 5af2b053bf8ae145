import Foundation
import Hummingbird
import HummingbirdCore
import Kafka
import ServiceLifecycle
import SyncBridgeCore

/// `/healthz`, `/readyz`, `/metrics`, the operator's view (`/v1/integrations`, the status page
/// at `/`) and the webhook ingress `POST /v1/events/{topic}` (SPEC §4),
/// served by an HTTP/1.1 server with connection limits and deadlines (`GuardedHTTP1Channel`).
public enum HTTPEndpoints {
    public static func application(
        for service: SyncService, listen: String, onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> some Service {
        let address = try ListenAddress(parsing: listen)
        let (host, port) = (address.host, address.port)
        let router = Router()
        let settings = service.config.http
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/readyz") { _, _ -> Response in
            if let reason = service.notReadyReason { return json(503, ["ready": "false", "reason": reason]) }
            return json(200, ["ready": "true"])
        }
        router.get("/metrics") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: service.metricsText)))
        }
        OperatorEndpoints(service: service).register(on: router)
        let ingress = IngressEndpoint(service: service)
        router.post("/v1/events/:topic") { request, context -> Response in
            try await ingress.respond(to: request, topicSegment: context.parameters.get("topic") ?? "")
        }
        let limits = RequestDeadlines.Limits(settings)
        let connections = ConnectionCount(limit: settings.maxConnections)
        return Application(
            router: router,
            server: HTTPServerBuilder { responder in GuardedHTTP1Channel(responder: responder, limits: limits, connections: connections) },
            configuration: .init(address: .hostname(host, port: port), serverName: "SyncBridge"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: service.logger
        )
    }

    static func json(_ status: Int, _ fields: [String: String], retryAfterSeconds: Int? = nil) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])) ?? Data()
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfterSeconds { headers[.retryAfter] = String(retryAfterSeconds) }
        return Response(status: HTTPResponse.Status(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// `POST /v1/events/{topic}`: checks the caller, the topic and the body, in the order that
/// reads and holds as little as possible for a request that will be refused.
///
/// 1. A bearer token is checked before anything else; without a signature scheme to fall back
///    on, a request without one is refused before its body is read.
/// 2. The path's topic is percent-decoded and must be a legal Kafka name (400). A caller with a
///    token learns here, still before sending its body, whether the topic is consumed (404).
/// 3. The body is read against `http.max_body` (413) and the shared `http.max_inflight_body`
///    budget (503 with Retry-After), then its signature is checked (401).
/// 4. The body must be JSON (400), and the broker must take it: 202, or 413 when the broker
///    finds it too large, or 503 with Retry-After when it is unreachable.
struct IngressEndpoint: Sendable {
    let service: SyncService
    let auth: IngressAuth
    let settings: HTTPSettings
    let topics: ConsumedTopics
    let budget: BodyBudget
    let clusterTopics: ClusterTopics

    init(service: SyncService) {
        self.service = service
        auth = service.ingressAuth
        settings = service.config.http
        topics = ConsumedTopics(service.config.kafka.topics)
        budget = BodyBudget(limit: settings.maxInflightBody)
        let (servers, properties) = (service.bootstrapServers, SyncService.ingressProducerProperties(service.config))
        let timeout = Int32(min(5_000, max(1, settings.ingressTimeout / .milliseconds(1))))
        // A client per listing: listings are rare, and this one never holds up the ingress producer.
        clusterTopics = ClusterTopics {
            let lister = try KafkaProducer(bootstrapServers: servers, properties: properties)
            defer { lister.close() }
            return try lister.topicNames(timeoutMilliseconds: timeout)
        }
    }

    func respond(to request: Request, topicSegment: String) async throws -> Response {
        let json = HTTPEndpoints.json
        let authenticatedByToken = auth.isOpen || auth.acceptsToken(request.headers[.authorization])
        if !authenticatedByToken, auth.signature == nil { return json(401, ["message": auth.howToAuthenticate], nil) }
        let topic: String
        switch IngressTopic.parse(pathSegment: topicSegment[...]) {
        case .failure(let problem): return json(400, ["message": problem.message], nil)
        case .success(let name): topic = name
        }
        if authenticatedByToken, let refusal = refusalUnlessConsumed(topic) { return refusal }

        var held = 0
        defer { budget.release(held) }
        let body: [UInt8]
        switch try await readBody(request, holding: &held) {
        case .tooLarge:
            return json(413, ["message": "body is larger than http.max_body (\(settings.maxBody) bytes)"], nil)
        case .overBudget:
            return json(
                503, ["message": "the server is holding http.max_inflight_body (\(budget.limit) bytes) of request bodies already; retry later"], 1)
        case .timedOut:
            return json(408, ["message": "the body did not arrive within http.read_timeout (\(settings.readTimeout.configText))"], nil)
        case .complete(let bytes):
            body = bytes
        }
        if !authenticatedByToken {
            guard auth.acceptsSignature(auth.presentedSignature(in: request.headers), body: body) else {
                return json(401, ["message": auth.howToAuthenticate], nil)
            }
            if let refusal = refusalUnlessConsumed(topic) { return refusal }
        }
        do {
            _ = try JSONParser.parse(body)
        } catch {
            return json(400, ["message": "body is not valid JSON: \(error)"], nil)
        }
        return await produce(body, to: topic)
    }

    private func refusalUnlessConsumed(_ topic: String) -> Response? {
        guard topics.kind(of: topic) == .notConsumed else { return nil }
        return HTTPEndpoints.json(404, ["message": "topic '\(topic)' is not one this service consumes (kafka.topics)"])
    }

    private func produce(_ body: [UInt8], to topic: String) async -> Response {
        let json = HTTPEndpoints.json
        let kind = topics.kind(of: topic)
        switch await clusterTopics.exists(topic) {
        case true?: break
        case false? where kind == .listed: return missingListedTopic(topic)
        case false?: return missingPatternTopic(topic)
        case nil: return json(503, ["message": "the cluster could not be asked whether topic '\(topic)' exists; retry later"], 5)
        }
        do {
            try await service.ingest(topic: topic, body: body)
        } catch {
            switch IngressFailure(error) {
            case .tooLargeForBroker:
                return json(
                    413,
                    [
                        "message":
                            "the broker refused the \(body.count)-byte body as larger than its message.max.bytes (a broker and topic setting, about 1 MB by default); send a smaller body or raise max.message.bytes on the topic"
                    ], nil)
            case .unknownTopic where kind == .listed:
                return missingListedTopic(topic)
            case .unknownTopic:
                return missingPatternTopic(topic)
            case .unavailable:
                return json(503, ["message": "the broker did not acknowledge the event within http.ingress_timeout: \(error); retry later"], 5)
            }
        }
        return json(202, ["message": "accepted"], nil)
    }

    /// A topic the config names but the cluster lacks is the operator's to create; the sender may retry.
    private func missingListedTopic(_ topic: String) -> Response {
        HTTPEndpoints.json(
            503,
            [
                "message":
                    "topic '\(topic)' is in kafka.topics but does not exist on the cluster; create it (the ingress never creates topics); retry later"
            ], retryAfterSeconds: 30)
    }

    private func missingPatternTopic(_ topic: String) -> Response {
        HTTPEndpoints.json(
            404,
            ["message": "topic '\(topic)' matches kafka.topics but does not exist on the cluster; create it first (the ingress never creates topics)"]
        )
    }

    private enum BodyRead {
        case complete([UInt8])
        case tooLarge, overBudget, timedOut
    }

    /// Reads the body while `held` bytes of the shared budget cover it: a declared length is
    /// reserved before reading (so a request that is let in can finish), a chunked body as it comes.
    private func readBody(_ request: Request, holding held: inout Int) async throws -> BodyRead {
        let declared = request.headers[.contentLength].flatMap { Int(saturatingDecimal: $0) }
        if let declared {
            guard declared >= 0, declared <= settings.maxBody else { return .tooLarge }
            guard budget.reserve(declared) else { return .overBudget }
            held = declared
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(held)
        do {
            for try await chunk in request.body {
                let total = bytes.count + chunk.readableBytes
                guard total <= settings.maxBody else { return .tooLarge }
                if total > held {
                    guard budget.reserve(total - held) else { return .overBudget }
                    held = total
                }
                bytes.append(contentsOf: chunk.readableBytesView)
            }
        } catch is RequestReadTimeout {
            return .timedOut
        }
        // The parser enforces a declared length; this guards against a stream that merely stopped.
        if let declared, bytes.count != declared { return .timedOut }
        return .complete(bytes)
    }
}
