import Crypto
import Foundation
import Hummingbird
import SyncBridgeCore

/// Who may post to the webhook ingress (SPEC §4).
///
/// A request may carry a bearer token from `http.ingress_tokens`, or a signature of its raw body
/// (`http.ingress_hmac`): the hex HMAC-SHA256 under the shared secret, in any letter case and with
/// an optional `sha256=` prefix, which covers GitHub-style hooks, Fivetran's
/// `X-Fivetran-Signature-256` and dbt Cloud's `Authorization` header. With neither configured
/// the ingress is open; with both, passing either is enough. Comparisons take constant time, and
/// the secret is read once at start-up and never printed (G10).
struct IngressAuth: Sendable, CustomStringConvertible {
    let tokens: BearerTokens
    /// The header is kept lower-cased, as HTTP field names compare.
    let signature: (key: SymmetricKey, header: String)?

    init(settings: HTTPSettings, environment: [String: String]) throws {
        tokens = BearerTokens(settings.ingressTokens)
        guard let hmac = settings.ingressHMAC else {
            signature = nil
            return
        }
        let secret = try SecretReader.load(
            hmac.secretSource, owner: "http.ingress_hmac", contents: "the webhook signing secret", environment: environment)
        signature = (SymmetricKey(data: Array(secret.utf8)), hmac.header.lowercased())
    }

    var isOpen: Bool { tokens.isEmpty && signature == nil }

    func acceptsToken(_ authorization: String?) -> Bool { tokens.accept(authorization) }

    /// The signature header's value in `headers`, when signatures are configured.
    func presentedSignature(in headers: HTTPFields) -> String? {
        guard let signature else { return nil }
        return headers.first { $0.name.canonicalName == signature.header }?.value
    }

    /// Whether `presented` is the body's HMAC; `isValidAuthenticationCode` compares in constant time.
    func acceptsSignature(_ presented: String?, body: [UInt8]) -> Bool {
        guard let signature, let presented, let digest = Self.decodeHex(presented) else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(digest, authenticating: body, using: signature.key)
    }

    /// Names what is configured, never the secrets (G10).
    var description: String {
        "IngressAuth(tokens: \(tokens.count), signature header: \(signature?.header ?? "none"))"
    }

    /// The 401 message: what to send, never what was expected.
    var howToAuthenticate: String {
        var ways: [String] = []
        if !tokens.isEmpty { ways.append("Authorization: Bearer <one of http.ingress_tokens>") }
        if let signature { ways.append("\(signature.header): <hex HMAC-SHA256 of the body>") }
        return "missing or invalid credentials; send " + ways.joined(separator: " or ")
    }

    /// `sha256=`-prefixed or bare hex, any case; nil when it is not hex.
    static func decodeHex(_ text: String) -> [UInt8]? {
        var digits = Substring(text.trimmingCharacters(in: .whitespaces))
        if digits.lowercased().hasPrefix("sha256=") { digits = digits.dropFirst(7) }
        let nibbles = digits.utf8.map { byte -> UInt8? in
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        guard !nibbles.isEmpty, nibbles.count % 2 == 0, !nibbles.contains(nil) else { return nil }
        let values = nibbles.map { $0! }
        return stride(from: 0, to: values.count, by: 2).map { values[$0] << 4 | values[$0 + 1] }
    }

}

/// Bearer tokens an `Authorization` header must carry one of (`http.ingress_tokens`,
/// `http.admin_tokens`), compared in constant time.
struct BearerTokens: Sendable {
    private let tokens: [[UInt8]]

    init(_ tokens: [String]) { self.tokens = tokens.map { Array($0.utf8) } }

    var isEmpty: Bool { tokens.isEmpty }
    var count: Int { tokens.count }

    /// Whether an `Authorization` header value carries one of the tokens.
    func accept(_ authorization: String?) -> Bool {
        guard let authorization, authorization.hasPrefix("Bearer ") else { return false }
        let presented = Array(authorization.utf8.dropFirst(7))
        // Every token is compared, so the time taken does not tell which one nearly matched.
        return tokens.map { Self.constantTimeEquals($0, presented) }.contains(true)
    }

    static func constantTimeEquals(_ x: [UInt8], _ y: [UInt8]) -> Bool {
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
