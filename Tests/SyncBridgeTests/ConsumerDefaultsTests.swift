import Testing
@testable import SyncBridge
import SyncBridgeCore

/// Failover defaults (SPEC §8): a killed member's partitions move on within about 10 s, and
/// `kafka.instance_id` turns on static membership.
@Suite struct ConsumerDefaultsTests {
    func settings(_ yaml: String, environment: [String: String] = [:]) throws(ConfigErrors) -> KafkaSettings {
        try ConfigLoader.load(
            text: """
                kafka:
                  brokers: "localhost:9092"
                  group: g
                  topics: ["^warehouse\\\\..*"]
                \(yaml)
                targets: [ { name: braze, endpoint: "https://rest.iad-01.braze.com", api_key_env: K } ]
                rules: [ { name: r, when: { topic: t }, sync: ["3c0a5a8e-1d3b-4c5e-9a51-0d2f3b1e6f70"] } ]
                """, file: "sb.yaml", environment: environment
        ).kafka
    }

    @Test func defaultsSuitAControlPlaneConsumer() throws {
        let properties = SyncService.consumerProperties(try settings(""))
        #expect(properties["session.timeout.ms"] == "10000")
        #expect(properties["heartbeat.interval.ms"] == "1000")
        #expect(properties["topic.metadata.refresh.interval.ms"] == "10000")
        #expect(properties["client.id"] == "syncbridge")
        #expect(properties["group.instance.id"] == nil)
        #expect(properties["queued.min.messages"] == "1000000", "keeps a slower-than-fetch consumer fed (see the throughput benchmark)")
    }

    @Test func theUsersPropertiesWin() throws {
        let properties = SyncService.consumerProperties(
            try settings(
                """
                  properties: { session.timeout.ms: "30000", group.instance.id: from-properties }
                  instance_id: from-setting
                """))
        #expect(properties["session.timeout.ms"] == "30000")
        #expect(properties["group.instance.id"] == "from-properties")
    }

    @Test func instanceIDComesFromTheEnvironmentAndEmptyMeansDynamic() throws {
        let pod = try settings("  instance_id: \"${POD_NAME:-}\"", environment: ["POD_NAME": "syncbridge-0"])
        #expect(SyncService.consumerProperties(pod)["group.instance.id"] == "syncbridge-0")
        let laptop = try settings("  instance_id: \"${POD_NAME:-}\"")
        #expect(laptop.instanceID == nil)
        #expect(SyncService.consumerProperties(laptop)["group.instance.id"] == nil)
    }

    @Test func anIllegalInstanceIDIsRefusedAtItsLine() {
        do {
            _ = try settings("  instance_id: \"pod/0\"")
            Issue.record("an instance id with '/' was accepted")
        } catch {
            #expect(error.description.contains("sb.yaml:5: kafka.instance_id: instance id \"pod/0\" contains '/'"), "\(error.description)")
        }
    }
}
