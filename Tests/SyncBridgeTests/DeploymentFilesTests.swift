import Foundation
import SyncBridgeCore
import Testing
import Yams

/// The deployment files in `docker/` and `deploy/kubernetes/` are checked without Docker or a
/// cluster: each parses, what one file names in another exists, the config they ship loads, and
/// the dashboard queries only metrics the service exports.
@Suite struct DeploymentFilesTests {
    static let root = ReadmeTests.repositoryRoot

    static func yaml(_ path: String) throws -> [String: Any] {
        let text = try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
        return try #require(try Yams.load(yaml: text) as? [String: Any], "\(path) is a YAML mapping")
    }

    static func documents(_ path: String) throws -> [[String: Any]] {
        let text = try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
        return try Yams.load_all(yaml: text).compactMap { $0 as? [String: Any] }
    }

    @Test func composeServicesAreBuiltOrPulledAndMountOnlyFilesThatExist() throws {
        let compose = try Self.yaml("docker/compose.yaml")
        let services = try #require(compose["services"] as? [String: [String: Any]])
        #expect(Set(services.keys).isSuperset(of: ["kafka", "braze-sim", "syncbridge-1", "syncbridge-2", "prometheus", "grafana"]))
        for (name, service) in services {
            #expect(service["image"] is String || service["build"] is [String: Any], "\(name) has an image or a build")
            for dependency in service["depends_on"] as? [String] ?? [] {
                #expect(services[dependency] != nil, "\(name) depends on \(dependency), which is not a service")
            }
            for volume in service["volumes"] as? [String] ?? [] {
                let source = String(volume.split(separator: ":")[0])
                let path = Self.root.appendingPathComponent("docker").appendingPathComponent(source).path
                #expect(FileManager.default.fileExists(atPath: path), "\(name) mounts \(source), which is not in docker/")
            }
        }
        // The two replicas share one config in partitioned mode, each with its own instance ID.
        let environments = ["syncbridge-1", "syncbridge-2"].compactMap { services[$0]?["environment"] as? [String: Any] }
        #expect(environments.count == 2 && environments.allSatisfy { $0["KAFKA_MODE"] as? String == "partitioned" })
        #expect(Set(environments.compactMap { $0["POD_NAME"] as? String }).count == 2)

        let prometheus = try Self.yaml("docker/prometheus.yml")
        let scrape = try #require((prometheus["scrape_configs"] as? [[String: Any]])?.first)
        let targets = ((scrape["static_configs"] as? [[String: Any]])?.first?["targets"] as? [String]) ?? []
        #expect(targets.sorted() == ["syncbridge-1:8080", "syncbridge-2:8080"])
    }

    @Test func theDashboardQueriesOnlyExportedMetrics() throws {
        let data = try Data(contentsOf: Self.root.appendingPathComponent("docker/grafana/dashboards/syncbridge.json"))
        let dashboard = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let panels = try #require(dashboard["panels"] as? [[String: Any]])
        let expressions = panels.flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
        let exported = try String(contentsOf: Self.root.appendingPathComponent("Sources/SyncBridge/ServiceMetrics.swift"), encoding: .utf8)
            .matches(of: /"(syncbridge_[a-z_]+)"/).map { String($0.output.1) }
        #expect(exported.count >= 10)
        let queried = Set(expressions.flatMap { $0.matches(of: /syncbridge_[a-z_]+/).map { String($0.output) } })
        for metric in ["syncbridge_triggers_total", "syncbridge_status_requests_total", "syncbridge_uncommitted_events", "syncbridge_consumer_lag"] {
            #expect(queried.contains(metric), "the dashboard shows \(metric)")
        }
        #expect(queried.contains { $0.hasPrefix("syncbridge_event_to_trigger_seconds") }, "the dashboard shows latency")
        for metric in queried {
            let base = metric.replacing(/_(bucket|sum|count)$/, with: "")
            #expect(exported.contains(base), "\(metric) is not a metric the service exports")
        }
    }

    @Test func kubernetesManifestsProbeTheHealthEndpointsAndShipAConfigThatLoads() throws {
        let manifests = try ["configmap", "secret", "deployment", "service", "pdb"].flatMap { try Self.documents("deploy/kubernetes/\($0).yaml") }
        let kinds = Set(manifests.compactMap { $0["kind"] as? String })
        #expect(kinds == ["ConfigMap", "Secret", "Deployment", "Service", "PodDisruptionBudget"])
        let deployment = try #require(manifests.first { $0["kind"] as? String == "Deployment" })
        let pod = try #require(((deployment["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any])
        let container = try #require((pod["containers"] as? [[String: Any]])?.first)
        func probePath(_ name: String) -> String? { ((container[name] as? [String: Any])?["httpGet"] as? [String: Any])?["path"] as? String }
        #expect(probePath("livenessProbe") == "/healthz")
        #expect(probePath("readinessProbe") == "/readyz")

        // The API key comes from the Secret's key that the Secret defines.
        let secret = try #require(manifests.first { $0["kind"] as? String == "Secret" })
        let secretKeys = Set((secret["stringData"] as? [String: Any] ?? [:]).keys)
        let references = (container["env"] as? [[String: Any]] ?? []).compactMap {
            (($0["valueFrom"] as? [String: Any])?["secretKeyRef"] as? [String: Any])?["key"] as? String
        }
        #expect(!references.isEmpty && references.allSatisfy(secretKeys.contains))

        // The ConfigMap's config and rules load as the service would load them.
        let configMap = try #require(manifests.first { $0["kind"] as? String == "ConfigMap" })
        let files = try #require(configMap["data"] as? [String: String])
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("syncbridge-k8s-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for (name, text) in files { try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        let config = try ConfigLoader.load(path: directory.appendingPathComponent("syncbridge.yaml").path, environment: ["POD_NAME": "syncbridge-0"])
        #expect(config.kafka.mode == .partitioned)
        #expect(config.kafka.instanceID == "syncbridge-0")
        #expect(!config.rules.rules.isEmpty)
        // Kubernetes must wait longer than the graceful shutdown before it kills the pod.
        let grace = try #require(pod["terminationGracePeriodSeconds"] as? Int)
        #expect(Duration.seconds(grace) > config.shutdownTimeout)
    }
}
