import Crypto
import FuzzSupport
@testable import SyncBridge
import SyncBridgeCore

/// The webhook ingress's checks on what a client sends before anything reaches Kafka: the
/// bearer token, the body signature (hex decoding and HMAC comparison) and the topic in
/// `POST /v1/events/{topic}` (percent-decoding and Kafka's name rule).
///
/// An input is four parts separated by NUL: the `Authorization` value, the signature header's
/// value, the raw path segment and the body. Each answer is checked against a plain
/// restatement of the rule, so an accepted forgery or a refused valid request is a finding too.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIngress(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let parts = FuzzInput.parts(data, size, count: 4)
    let authorization = String(decoding: parts[0], as: UTF8.self)
    let signature = String(decoding: parts[1], as: UTF8.self)
    let segment = String(decoding: parts[2], as: UTF8.self)
    let body = parts[3]

    let tokenExpected = tokens.contains { Array(("Bearer " + $0).utf8) == Array(authorization.utf8) }
    FuzzInput.require(auth.acceptsToken(authorization) == tokenExpected, "token check of \(FuzzInput.show(parts[0])) is not \(tokenExpected)")

    let mac = Array(HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8))))
    let decoded = IngressAuth.decodeHex(signature)
    if let decoded {
        FuzzInput.require(signature.lowercased().contains(hex(decoded)), "\(FuzzInput.show(parts[1])) decoded to \(hex(decoded))")
    }
    let signatureExpected = decoded == mac
    FuzzInput.require(
        auth.acceptsSignature(signature, body: body) == signatureExpected,
        "signature check of \(FuzzInput.show(parts[1])) is not \(signatureExpected)")
    // The real signature is accepted in every form senders use.
    for form in [hex(mac), hex(mac).uppercased(), "sha256=" + hex(mac), "SHA256=" + hex(mac).uppercased(), " " + hex(mac) + " "] {
        FuzzInput.require(auth.acceptsSignature(form, body: body), "the body's own signature refused as \(form)")
    }
    FuzzInput.require(IngressAuth.decodeHex(hex(body)) == (body.isEmpty ? nil : body), "hex of the body does not decode back to it")

    checkTopic(segment)
    return 0
}

func checkTopic(_ segment: String) {
    switch IngressTopic.parse(pathSegment: Substring(segment)) {
    case .success(let name):
        FuzzInput.require(isLegalTopic(name), "accepted topic \(name.debugDescription) from \(segment.debugDescription)")
        let encoded = name.utf8.map { "%" + hex([$0]).uppercased() }.joined()
        FuzzInput.require(try! IngressTopic.parse(pathSegment: Substring(encoded)).get() == name, "\(encoded) does not decode to \(name)")
    case .failure(let problem):
        FuzzInput.require(problem.message.utf8.count < 2048, "a \(problem.message.utf8.count)-byte message for a \(segment.utf8.count)-byte segment")
        FuzzInput.require(segment.contains("%") || !isLegalTopic(segment), "refused legal topic \(segment.debugDescription): \(problem)")
    }
}

/// Kafka's rule, restated: 1 to 249 of [a-zA-Z0-9._-], and not "." or "..".
func isLegalTopic(_ name: String) -> Bool {
    let bytes = Array(name.utf8)
    let legal = bytes.allSatisfy { byte in
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
            || byte == UInt8(ascii: "-")
    }
    return legal && (1...249).contains(bytes.count) && name != "." && name != ".."
}

func hex(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef")
    return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
}

let tokens = ["t0k3n-one", "second-token"]
let secret = "webhook-secret"

/// Configured the way the service does it: from a config's `http` section and the environment.
let auth: IngressAuth = {
    let config = """
        kafka: { brokers: embedded, group: g, topics: [t] }
        targets: [{ name: braze, endpoint: "https://rest.iad-01.braze.com", api_key_env: K }]
        http: { listen: "127.0.0.1:8080", ingress_tokens: ["\(tokens[0])", "\(tokens[1])"], ingress_hmac: { secret_env: HOOK_SECRET } }
        rules: [{ name: r, when: { topic: t }, sync: ["3c0a5a8e-1d3b-4c5e-9a51-0d2f3b1e6f70"] }]
        """
    let environment = ["HOOK_SECRET": secret, "K": "key"]
    do {
        let settings = try ConfigLoader.load(text: config, file: "ingress.yaml", environment: environment).http
        return try IngressAuth(settings: settings, environment: environment)
    } catch {
        fatalError("the fuzz target's own config does not load: \(error)")
    }
}()
