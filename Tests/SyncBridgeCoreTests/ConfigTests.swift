import Testing
@testable import SyncBridgeCore

let validConfig = """
    kafka:
      brokers: "${KAFKA_BROKERS:-localhost:9092}"
      group: syncbridge
      topics: ["^.+\\\\.data-updated$"]
      dead_letter_topic: syncbridge.dead-letter
    targets:
      - name: braze
        endpoint: "https://rest.iad-03.braze.com"
        api_key_env: BRAZE_API_KEY
        rate_limit: "20/1m"
    coalesce:
      quiet: 10s
      max_delay: 2m
    rules:
      - name: orders
        when:
          topic: "warehouse.*.data-updated"
          json:
            /table: ORDERS
            /rows: { gt: 0 }
        sync: ["3C0A5A8E-1D3B-4C5E-9A51-0D2F3B1E6F70"]
        coalesce: { quiet: 30s }
    """

func issues(_ text: String, environment: [String: String] = [:]) -> [String] {
    do {
        _ = try ConfigLoader.load(text: text, file: "sb.yaml", environment: environment)
        return []
    } catch {
        return error.issues.map(\.description)
    }
}

@Suite struct ConfigTests {
    @Test func validConfigLoadsWithDefaultsAndEnvironment() throws {
        let config = try ConfigLoader.load(text: validConfig, file: "sb.yaml", environment: ["KAFKA_BROKERS": "k1:9092"])
        #expect(config.kafka.brokers == "k1:9092")
        #expect(config.kafka.topics == ["^.+\\.data-updated$"])
        #expect(config.targets[0].rateLimit == RateLimit(count: 20, window: .seconds(60)))
        #expect(config.targets[0].statusRateLimit == RateLimit(count: 100, window: .seconds(60)))
        #expect(config.targets[0].apiKeySource == .environment("BRAZE_API_KEY"))
        #expect(config.shutdownTimeout == .seconds(30))
        let rule = config.rules.rules[0]
        #expect(rule.target == "braze")
        #expect(rule.coalesce == CoalescePolicy(quiet: .seconds(30), maxDelay: .seconds(120)))
        guard case .fixed(let ids) = rule.integrations else { Issue.record("expected fixed IDs"); return }
        #expect(ids == ["3c0a5a8e-1d3b-4c5e-9a51-0d2f3b1e6f70"])
    }

    @Test func defaultIsUsedWhenVariableIsUnset() throws {
        let config = try ConfigLoader.load(text: validConfig, file: "sb.yaml", environment: [:])
        #expect(config.kafka.brokers == "localhost:9092")
    }

    @Test func unsetVariableWithoutDefaultIsAnError() {
        let text = validConfig.replacingOccurrences(of: "${KAFKA_BROKERS:-localhost:9092}", with: "${KAFKA_BROKERS}")
        #expect(
            issues(text) == [
                "sb.yaml:2: kafka.brokers uses environment variable KAFKA_BROKERS, which is not set; export it or write ${KAFKA_BROKERS:-default}"
            ])
    }

    @Test func unknownKeyGetsDidYouMean() {
        let text = validConfig.replacingOccurrences(of: "  max_delay: 2m", with: "  max_dely: 2m")
        #expect(issues(text) == ["sb.yaml:13: unknown key 'max_dely' in coalesce; did you mean 'max_delay'?"])
    }

    @Test func badDurationNamesTheFormat() {
        let text = validConfig.replacingOccurrences(of: "quiet: 10s", with: "quiet: ten")
        #expect(issues(text) == ["sb.yaml:12: coalesce.quiet 'ten' is not a duration; write it like 250ms, 10s, 5m or 1h"])
    }

    @Test func badIntegrationIDIsRejectedWithItsLine() {
        let text = validConfig.replacingOccurrences(of: "3C0A5A8E-1D3B-4C5E-9A51-0D2F3B1E6F70", with: "not-a-uuid")
        #expect(issues(text).count == 1)
        #expect(issues(text).first?.hasPrefix("sb.yaml:21: rule 'orders': 'not-a-uuid' is not a Braze integration ID") == true)
    }

    @Test func G9_badRegexBadPointerUnknownTargetDuplicateAndEmptyWhenAreAllReported() {
        let text = """
            kafka: { brokers: embedded, group: g, topics: [t] }
            targets:
              - { name: braze, endpoint: "https://rest.iad-01.braze.com", api_key_env: K }
            rules:
              - name: a
                when: { topic: "^([a-z" }
                sync: ["3c0a5a8e-1d3b-4c5e-9a51-0d2f3b1e6f70"]
              - name: b
                when: { topic: t, json: { "table": x } }
                sync: ["3c0a5a8e-1d3b-4c5e-9a51-0d2f3b1e6f70"]
              - name: c
                when: { topic: t }
                target: braz
                sync: ["3c0a5a8e-1d3b-4c5e-9a51-0d2f3b1e6f70"]
              - name: d
                when: {}
                sync: ["3c0a5a8e-1d3b-4c5e-9a51-0d2f3b1e6f70"]
              - name: e
                when: { topic: t }
                sync: ["3c0a5a8e-1d3b-4c5e-9a51-0d2f3b1e6f70"]
              - name: e
                when: { topic: t }
                sync: ["3c0a5a8e-1d3b-4c5e-9a51-0d2f3b1e6f70"]
            """
        let found = issues(text)
        #expect(found.count == 5)
        #expect(found.contains { $0.hasPrefix("sb.yaml:6: when.topic '^([a-z' is not a valid regex") })
        #expect(found.contains("sb.yaml:9: rule 'b' when.json: JSON pointer 'table' must start with '/' (RFC 6901), for example '/table'"))
        #expect(found.contains("sb.yaml:13: rule 'c': unknown target 'braz'; did you mean 'braze'?"))
        #expect(found.contains("sb.yaml:16: rule 'd' has an empty when, which would match every event; add at least a topic"))
        #expect(found.contains("sb.yaml:21: duplicate rule name 'e'; rule names must be unique"))
    }

    @Test func syncFromRequiresAnAllowList() {
        let text = """
            kafka: { brokers: embedded, group: g, topics: [t] }
            targets: [{ name: braze, endpoint: "https://rest.iad-01.braze.com", api_key_env: K }]
            rules:
              - name: from-event
                when: { topic: t }
                sync_from: /integration_id
            """
        #expect(
            issues(text) == [
                "sb.yaml:6: rule 'from-event': sync_from needs allow: [IDs] or allow_any: true, so an event cannot trigger an integration you did not intend"
            ])
    }

    @Test func G9_invalidYAMLIsReportedWithALine() {
        let found = issues("kafka:\n  brokers: [unclosed\n")
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("sb.yaml:") == true)
        #expect(found.first?.contains("not valid YAML") == true)
    }

    @Test func durationsAndRatesParse() {
        #expect(Duration(configText: "250ms") == .milliseconds(250))
        #expect(Duration(configText: "5m") == .seconds(300))
        #expect(Duration(configText: "1h") == .seconds(3600))
        #expect(Duration(configText: "5 minutes") == nil)
        #expect(RateLimit(configText: "100/1m") == RateLimit(count: 100, window: .seconds(60)))
        #expect(RateLimit(configText: "20/m") == RateLimit(count: 20, window: .seconds(60)))
        #expect(RateLimit(configText: "0/1m") == nil)
    }

    @Test func ingressHMACAndTimeoutLoad() throws {
        let text =
            validConfig + """

                http:
                  ingress_tokens: [t0ken]
                  ingress_timeout: 3s
                  ingress_hmac: { secret_env: HOOK_SECRET, header: X-Fivetran-Signature-256 }
                """
        let http = try ConfigLoader.load(text: text, file: "sb.yaml").http
        #expect(http.ingressTokens == ["t0ken"])
        #expect(http.ingressTimeout == .seconds(3))
        #expect(http.ingressHMAC == IngressHMACSettings(secretSource: .environment("HOOK_SECRET"), header: "X-Fivetran-Signature-256"))

        let defaults = try ConfigLoader.load(text: validConfig + "\nhttp: { ingress_hmac: { secret_file: /run/secrets/hook } }", file: "sb.yaml").http
        #expect(defaults.ingressHMAC == IngressHMACSettings(secretSource: .file("/run/secrets/hook"), header: "X-Signature-256"))
        #expect(defaults.ingressTimeout == .seconds(10))
        #expect(defaults.maxBody == 1 << 20)
    }

    @Test func ingressHMACProblemsAreReportedWithTheirLines() {
        let text =
            validConfig + """

                http:
                  ingress_timeout: 0s
                  ingress_hmac:
                    secret_evn: HOOK_SECRET
                    header: "X Signature"
                """
        #expect(
            Set(issues(text)) == [
                "sb.yaml:24: http.ingress_timeout must be at least 1ms",
                "sb.yaml:26: unknown key 'secret_evn' in http.ingress_hmac; did you mean 'secret_env'?",
                "sb.yaml:26: http.ingress_hmac needs secret_env (an environment variable name) or secret_file; the secret itself never goes in the config",
            ])
        let both = validConfig + "\nhttp:\n  ingress_hmac: { secret_env: A, secret_file: /b, header: \"X Sig\" }"
        #expect(issues(both) == ["sb.yaml:24: http.ingress_hmac: give secret_env or secret_file, not both"])
        let badHeader = validConfig + "\nhttp:\n  ingress_hmac: { secret_env: A, header: \"X Sig\" }"
        #expect(issues(badHeader) == ["sb.yaml:24: http.ingress_hmac.header 'X Sig' is not an HTTP header name, like X-Signature-256"])
    }
}
