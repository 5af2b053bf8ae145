import Foundation
import Hummingbird
import Kafka
import ServiceLifecycle
import SyncBridgeCore

/// `/healthz`, `/readyz`, `/metrics` and the webhook ingress `POST /v1/events/{topic}` (SPEC §4).
public enum HTTPEndpoints {
    public static func application(for service: SyncService, listen: String, onListening: @escaping @Sendable (Int) async -> Void = { _ in }) throws -> some Service {
        let (host, port) = try parseListen(listen)
        let router = Router()
        let settings = service.config.http
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/readyz") { _, _ -> Response in
            if let reason = service.notReadyReason { return json(503, ["ready": "false", "reason": reason]) }
            return json(200, ["ready": "true"])
        }
        router.get("/metrics") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: service.metricsText)))
        }
        let auth = service.ingressAuth
        router.post("/v1/events/:topic") { request, context -> Response in
            let tokenPassed = auth.acceptsToken(request.headers[.authorization])
            // Without a signature to check, refuse before reading the body or naming topics.
            if !auth.isOpen, !tokenPassed, auth.signature == nil { return json(401, ["message": auth.howToAuthenticate]) }
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: settings.maxBody)
            } catch {
                return json(413, ["message": "body is larger than http.max_body (\(settings.maxBody) bytes)"])
            }
            let bytes = Array(body.readableBytesView)
            if !auth.isOpen, !tokenPassed, !auth.acceptsSignature(auth.presentedSignature(in: request.headers), body: bytes) {
                return json(401, ["message": auth.howToAuthenticate])
            }
            let topic = context.parameters.get("topic") ?? ""
            guard service.consumes(topic: topic) else {
                return json(404, ["message": "topic '\(topic)' is not one this service consumes (kafka.topics)"])
            }
            do {
                _ = try JSONParser.parse(bytes)
            } catch {
                return json(400, ["message": "body is not valid JSON: \(error)"])
            }
            do {
                try await service.ingest(topic: topic, body: bytes)
            } catch {
                return json(503, ["message": "the broker did not acknowledge the event within http.ingress_timeout: \(error); retry later"])
            }
            return json(202, ["message": "accepted"])
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "SyncBridge"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: service.logger
        )
    }

    struct BadListen: Error, CustomStringConvertible {
        var description: String
    }

    static func parseListen(_ text: String) throws -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw BadListen(description: "http.listen '\(text)' must be HOST:PORT, like 127.0.0.1:8080")
        }
        return (String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port)
    }

    static func json(_ status: Int, _ fields: [String: String]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])) ?? Data()
        return Response(status: HTTPResponse.Status(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
