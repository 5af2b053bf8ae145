import Foundation
import Hummingbird
import SyncBridgeCore

/// `GET /v1/integrations`, `GET /v1/integrations/{id}` and the status page at `/` (SPEC §4):
/// the coordinator's view for an operator. The JSON needs one of `http.admin_tokens` when any
/// are set; the page itself holds no data, and its script sends the token it is given.
struct OperatorEndpoints: Sendable {
    let service: SyncService
    let tokens: BearerTokens

    init(service: SyncService) {
        self.service = service
        tokens = BearerTokens(service.config.http.adminTokens)
    }

    func register(on router: Router<BasicRequestContext>) {
        router.get("/") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(string: StatusPage.html)))
        }
        router.get("/v1/integrations") { request, _ -> Response in
            if let refusal = refusal(request) { return refusal }
            return document(service.integrationsDocument())
        }
        router.get("/v1/integrations/:id") { request, context -> Response in
            if let refusal = refusal(request) { return refusal }
            let given = context.parameters.get("id") ?? ""
            guard let id = canonicalIntegrationID(given) else {
                return HTTPEndpoints.json(400, ["message": "'\(given.prefix(64))' is not an integration ID; Braze integration IDs are UUIDs"])
            }
            let found = service.integrationsDocument(integrationID: id)
            guard !found.integrations.isEmpty else {
                return HTTPEndpoints.json(
                    404, ["message": "integration \(id) is not known here: no event for it since this process started, and no state record names it"])
            }
            return document(found)
        }
    }

    private func refusal(_ request: Request) -> Response? {
        guard !tokens.isEmpty, !tokens.accept(request.headers[.authorization]) else { return nil }
        return HTTPEndpoints.json(401, ["message": "missing or invalid credentials; send Authorization: Bearer <one of http.admin_tokens>"])
    }

    private func document(_ document: IntegrationsDocument) -> Response {
        let data = (try? IntegrationsDocument.encoder.encode(document)) ?? Data("{}".utf8)
        return Response(
            status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
