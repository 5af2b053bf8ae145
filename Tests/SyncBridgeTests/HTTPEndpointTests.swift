import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import ServiceLifecycle
import Testing
@testable import SyncBridge
@testable import SyncBridgeCore

/// The HMAC-SHA256 of `event(table: "ORDERS")` under `hookSecret`, computed independently of the
/// code under test.
let hookSecret = "whsec-e2e-0123"
let ordersSignature = "ee79fc10ff427929696f6fe51f5205520d4b4f47918c8dae98ea182c7e9889b0"

/// A `Stack` whose service also serves the HTTP endpoints on an ephemeral loopback port. The
/// endpoints start before the service runs, so the not-yet-assigned state can be observed.
final class HTTPStack: @unchecked Sendable {
    let stack: Stack
    let service: SyncService
    let base: URL
    private let httpGroup: ServiceGroup
    private let httpTask: Task<Void, Error>
    private var serviceGroup: ServiceGroup?
    private var serviceTask: Task<Void, Error>?

    /// `http` is appended to the stack's config as its `http:` section; `adjust` may rewrite the
    /// rest of the config text first.
    init(http: String, environment: [String: String] = [:], adjust: (String) -> String = { $0 }) async throws {
        stack = try await Stack(simulator: simulatorConfig())
        let config = try ConfigLoader.load(text: adjust(stack.configText()) + "\nhttp: \(http)\n", file: "e2e.yaml")
        service = try SyncService(
            config: config, environment: environment.merging(["E2E_KEY": "e2e-key"]) { a, _ in a }, logger: quietLogger(), observer: stack.recorder)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = try HTTPEndpoints.application(for: service, listen: "127.0.0.1:0") { port in
            continuation.yield(port)
            continuation.finish()
        }
        let group = ServiceGroup(configuration: .init(services: [.init(service: app)], logger: quietLogger()))
        httpGroup = group
        httpTask = Task { try await group.run() }
        var port = 0
        for await bound in ports { port = bound }
        base = URL(string: "http://127.0.0.1:\(port)")!
    }

    func startService() {
        let group = ServiceGroup(configuration: .init(services: [.init(service: service)], logger: quietLogger()))
        serviceGroup = group
        serviceTask = Task { try await group.run() }
    }

    func shutdown() async {
        await serviceGroup?.triggerGracefulShutdown()
        try? await serviceTask?.value
        await httpGroup.triggerGracefulShutdown()
        try? await httpTask.value
        await stack.shutdown()
    }

    /// Ready means assigned (see `Stack.waitUntilAssigned`, whose service this is not); 15 s failed 2 runs in 14.
    func waitUntilReady() async -> Bool {
        await stack.waitUntil(seconds: 40) { service.notReadyReason == nil }
    }

    func get(_ path: String) async throws -> (status: Int, body: String) {
        try await send(URLRequest(url: base.appendingPathComponent(path)))
    }

    func post(_ topicName: String = topic, body: String, headers: [String: String] = [:]) async throws -> (status: Int, body: String) {
        var request = URLRequest(url: base.appendingPathComponent("v1/events/\(topicName)"))
        request.httpMethod = "POST"
        request.httpBody = Data(body.utf8)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        return try await send(request)
    }

    private func send(_ request: URLRequest) async throws -> (status: Int, body: String) {
        var request = request
        request.timeoutInterval = 10
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    /// Whether the simulator accepted a trigger for `integration`, within a bounded wait.
    func triggered(_ integration: String) async -> Bool {
        await stack.waitUntil(seconds: 10) {
            await stack.simulator.requests().contains { $0.kind == .trigger && $0.integrationID == integration && $0.status == 202 }
        }
    }
}

@Suite(.serialized) struct HTTPEndpointTests {
    @Test func HTTP_healthReadinessAndMetrics() async throws {
        let http = try await HTTPStack(http: "{ max_body: 64 }")
        #expect(try await http.get("healthz").status == 200)

        let notReady = try await http.get("readyz")
        #expect(notReady.status == 503)
        let reason = try JSONSerialization.jsonObject(with: Data(notReady.body.utf8)) as? [String: String]
        #expect(reason?["ready"] == "false")
        #expect(reason?["reason"] == "no partitions assigned yet")

        http.startService()
        #expect(await http.waitUntilReady())
        #expect(try await http.get("readyz").status == 200)

        try await http.stack.produce([(topic, event(table: "USERS"))])
        #expect(await http.stack.waitUntil(seconds: 10) { http.stack.recorder.consumedCount == 1 })
        let metrics = try await http.get("metrics")
        #expect(metrics.status == 200)
        #expect(metrics.body.contains(#"syncbridge_events_consumed_total{topic="\#(topic)"} 1"#))
        // Matches are counted per rule by the rule's position and named when added to the metrics.
        try await http.stack.produce([(topic, event(table: "ORDERS")), (topic, event(table: "USERS")), (topic, event(table: "NOBODY"))])
        let counted = [#"syncbridge_events_matched_total{rule="users"} 2"#, #"syncbridge_events_matched_total{rule="orders"} 1"#]
        var body = ""
        for _ in 0..<100 where !counted.allSatisfy(body.contains) {
            body = try await http.get("metrics").body
            try await Task.sleep(for: .milliseconds(100))
        }
        for line in counted { #expect(body.contains(line), "\(line) in /metrics") }
        #expect(!body.contains(#"rule="items""#))
        await http.shutdown()
    }

    @Test func HTTP_ingressProducesTheEventAndItTriggersASync() async throws {
        let http = try await HTTPStack(http: "{ max_body: 64 }")
        http.startService()
        #expect(await http.waitUntilReady())

        let accepted = try await http.post(body: event(table: "ORDERS"))
        #expect(accepted.status == 202)
        #expect(await http.stack.waitUntil(seconds: 10) { http.stack.recorder.consumedCount == 1 })
        #expect(await http.triggered(integrationOrders))

        let invalid = try await http.post(body: #"{"table": "ORDERS""#)
        #expect(invalid.status == 400)
        #expect(invalid.body.contains("not valid JSON"))
        #expect(try await http.post("not.consumed", body: event(table: "ORDERS")).status == 404)
        let large = try await http.post(body: #"{"table":"ORDERS","pad":"\#(String(repeating: "x", count: 100))"}"#)
        #expect(large.status == 413)
        #expect(large.body.contains("http.max_body"))
        // Nothing refused reached the topic.
        try await Task.sleep(for: .milliseconds(500))
        #expect(http.stack.recorder.consumedCount == 1)
        await http.shutdown()
    }

    @Test func HTTP_bearerTokens() async throws {
        let http = try await HTTPStack(http: "{ ingress_tokens: [s3cret-token, other-token] }")
        http.startService()
        #expect(await http.waitUntilReady())
        let body = event(table: "ORDERS")
        let missing = try await http.post(body: body)
        #expect(missing.status == 401)
        #expect(missing.body.contains("Authorization: Bearer"))
        #expect(try await http.post(body: body, headers: ["Authorization": "Bearer wrong-token"]).status == 401)
        #expect(try await http.post(body: body, headers: ["Authorization": "other-token"]).status == 401)
        #expect(try await http.post(body: body, headers: ["Authorization": "Bearer other-token"]).status == 202)
        // An unauthenticated caller learns nothing about topics.
        #expect(try await http.post("not.consumed", body: body).status == 401)
        #expect(await http.triggered(integrationOrders))
        await http.shutdown()
    }

    @Test func HTTP_hmacSignatures() async throws {
        let http = try await HTTPStack(
            http: "{ ingress_hmac: { secret_env: HOOK_SECRET, header: X-Fivetran-Signature-256 } }",
            environment: ["HOOK_SECRET": hookSecret]
        )
        http.startService()
        #expect(await http.waitUntilReady())
        let body = event(table: "ORDERS")
        let header = "X-Fivetran-Signature-256"
        // Fivetran sends upper-case hex.
        #expect(try await http.post(body: body, headers: [header: ordersSignature.uppercased()]).status == 202)
        #expect(try await http.post(body: body, headers: [header: "sha256=" + ordersSignature]).status == 202)
        let missing = try await http.post(body: body)
        #expect(missing.status == 401)
        #expect(missing.body.contains("x-fivetran-signature-256"))
        let wrong = try await http.post(body: body, headers: [header: String(ordersSignature.reversed())])
        #expect(wrong.status == 401)
        #expect(!wrong.body.contains(hookSecret))
        #expect(try await http.post(body: body, headers: [header: "not hex"]).status == 401)
        // The signature covers the body: the same signature on other bytes fails.
        #expect(try await http.post(body: event(table: "USERS"), headers: [header: ordersSignature]).status == 401)
        #expect(await http.stack.waitUntil(seconds: 10) { http.stack.recorder.consumedCount == 2 })
        await http.shutdown()
    }

    /// dbt Cloud puts the bare hex digest in `Authorization`; bearer tokens share that header.
    @Test func HTTP_tokenOrSignatureWhenBothAreConfigured() async throws {
        let http = try await HTTPStack(
            http: "{ ingress_tokens: [t0ken], ingress_hmac: { secret_env: HOOK_SECRET, header: Authorization } }",
            environment: ["HOOK_SECRET": hookSecret]
        )
        http.startService()
        #expect(await http.waitUntilReady())
        let body = event(table: "ORDERS")
        #expect(try await http.post(body: body, headers: ["Authorization": ordersSignature]).status == 202)
        #expect(try await http.post(body: body, headers: ["Authorization": "Bearer t0ken"]).status == 202)
        #expect(try await http.post(body: body, headers: ["Authorization": "Bearer nope"]).status == 401)
        #expect(try await http.post(body: body).status == 401)
        await http.shutdown()
    }

    /// The ingress producer's delivery timeout is `http.ingress_timeout`, so a webhook caller
    /// gets its 503 in bounded time instead of waiting out librdkafka's 5-minute default.
    @Test func HTTP_brokerDownIs503WithinTheIngressTimeout() async throws {
        let http = try await HTTPStack(http: "{ ingress_timeout: 1s }")
        http.startService()
        #expect(await http.waitUntilReady())
        // First while the broker is up, so the ingress producer is connected when it goes down. On
        // a loaded machine the new producer's first delivery can take longer than the 1 s timeout.
        let connected = await http.stack.waitUntil(seconds: 20) { (try? await http.post(body: event(table: "USERS")).status) == 202 }
        #expect(connected, "the ingress accepted an event while the broker was up")
        try http.stack.cluster.setBrokerDown(1)
        let started = ContinuousClock.now
        let refused = try await http.post(body: event(table: "ORDERS"))
        let elapsed = ContinuousClock.now - started
        #expect(refused.status == 503)
        #expect(refused.body.contains("retry later"))
        #expect(elapsed < .seconds(5), "503 after \(elapsed)")
        try http.stack.cluster.setBrokerUp(1)
        await http.shutdown()
    }

    @Test func HTTP_missingSecretIsAStartupErrorThatNamesOnlyTheVariable() throws {
        let hmac = IngressHMACSettings(secretSource: .environment("HOOK_SECRET"), header: "X-Signature-256")
        let settings = HTTPSettings(listen: nil, ingressTokens: ["s3cret-token"], ingressHMAC: hmac, maxBody: 1024, ingressTimeout: .seconds(10))
        #expect(throws: (any Error).self) { try IngressAuth(settings: settings, environment: [:]) }
        do {
            _ = try IngressAuth(settings: settings, environment: ["HOOK_SECRET": "  \n"])
            Issue.record("an empty secret was accepted")
        } catch {
            #expect("\(error)".contains("HOOK_SECRET"))
        }
        let auth = try IngressAuth(settings: settings, environment: ["HOOK_SECRET": hookSecret + "\n"])
        let body = Array(event(table: "ORDERS").utf8)
        #expect(auth.acceptsSignature(" SHA256=" + ordersSignature.uppercased(), body: body))
        #expect(!auth.acceptsSignature(String(ordersSignature.dropLast(2)), body: body))
        #expect(!auth.acceptsSignature("sha256=", body: body))
        #expect(!"\(auth)".contains(hookSecret) && !"\(auth)".contains("s3cret-token"))
    }
}
