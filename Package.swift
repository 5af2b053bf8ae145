// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "SyncBridge",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "syncbridge", targets: ["SyncBridgeCLI"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.1.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.5.0"),
        // Already in Hummingbird's graph; named because the ingress guards its connections with NIO handlers.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.20.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.0.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.0"),
        // Both majors have the same HMAC API; 4.x is what the server stack already resolves to.
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.0"..<"5.0.0"),
    ],
    targets: [
        // C libraries, reached only from Kafka and BrazeCDI.
        .systemLibrary(
            name: "CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .target(name: "Kafka", dependencies: ["CRdKafka", .product(name: "Logging", package: "swift-log")]),
        .target(name: "BrazeCDI", dependencies: ["CCurl"]),
        // RE2 (linear-time regexes) behind a small C interface, reached only from LinearRegex.
        .target(name: "CRE2", linkerSettings: [.linkedLibrary("re2")]),
        .target(name: "LinearRegex", dependencies: ["CRE2"]),
        .target(
            name: "SyncBridgeCore",
            dependencies: [
                "LinearRegex",
                .product(name: "Yams", package: "Yams"),
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),
        .target(
            name: "BrazeSimulator",
            dependencies: [
                "SyncBridgeCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "SyncBridge",
            dependencies: [
                "SyncBridgeCore", "Kafka", "BrazeCDI",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .executableTarget(
            name: "SyncBridgeCLI",
            dependencies: [
                "SyncBridge", "SyncBridgeCore", "Kafka", "BrazeCDI", "BrazeSimulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // jemalloc instead of glibc's malloc for the whole process: librdkafka's broker thread
            // allocates each record's op and the consumer thread frees it, and glibc made the
            // consumer wait on the broker thread's arena lock. Measured in the throughput benchmark
            // at 100 % matching: faster in 10 of 12 interleaved pairs, with less CPU per event.
            linkerSettings: [.linkedLibrary("jemalloc")]
        ),
        .target(
            name: "SchedulingLab",
            dependencies: ["SyncBridgeCore", .product(name: "DequeModule", package: "swift-collections")]
        ),
        .testTarget(name: "KafkaTests", dependencies: ["Kafka", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "BrazeCDITests", dependencies: ["BrazeCDI", "BrazeSimulator"]),
        .testTarget(
            name: "SyncBridgeCoreTests",
            dependencies: [
                "SyncBridgeCore", "SchedulingLab",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "SyncBridgeTests",
            dependencies: ["SyncBridge", "SyncBridgeCore", "Kafka", "BrazeCDI", "BrazeSimulator", .product(name: "Yams", package: "Yams")]
        ),
        // Runs the built `syncbridge` binary as child processes (kill -9, failover, broker faults).
        .testTarget(
            name: "FaultTests",
            dependencies: ["Kafka", "BrazeSimulator", "SyncBridgeCore"]
        ),
    ],
    // RE2's headers need C++17.
    cxxLanguageStandard: .cxx17
)

// Benchmarks (Benchmarks/), declared only when SYNCBRIDGE_BENCHMARKS is set, so a user's build and
// `make test` compile none of them; `make bench` sets it.
if Context.environment["SYNCBRIDGE_BENCHMARKS"] != nil {
    let benchmarks: [(name: String, dependencies: [Target.Dependency])] = [
        ("SchedulingBenchmark", ["SyncBridgeCore", "SchedulingLab"]),
        ("RulesBenchmark", ["SyncBridgeCore"]),
        ("ThroughputBenchmark", ["Kafka", "CRdKafka", "SyncBridgeCore"]),
        ("MemoryBenchmark", ["SyncBridgeCore"]),
        ("HotPathBenchmark", ["SyncBridgeCore"]),
    ]
    for benchmark in benchmarks {
        package.targets.append(.executableTarget(name: benchmark.name, dependencies: benchmark.dependencies, path: "Benchmarks/\(benchmark.name)"))
        package.products.append(.executable(name: benchmark.name, targets: [benchmark.name]))
    }
}

// Fuzz targets (Fuzz/), declared only when SYNCBRIDGE_FUZZ is set so that a plain `swift build`
// never compiles them: libFuzzer supplies `main`, and they link only with `--sanitize fuzzer`.
// `make fuzz` and `make fuzz-smoke` build and run them.
if Context.environment["SYNCBRIDGE_FUZZ"] != nil {
    let fuzzTargets: [(name: String, dependencies: [Target.Dependency])] = [
        ("FuzzJSON", ["SyncBridgeCore"]),
        ("FuzzConfig", ["SyncBridgeCore"]),
        ("FuzzRules", ["SyncBridgeCore"]),
        ("FuzzCDI", ["BrazeCDI", "SyncBridge", "SyncBridgeCore"]),
        ("FuzzIngress", ["SyncBridge", "SyncBridgeCore", .product(name: "Crypto", package: "swift-crypto")]),
        ("FuzzFleetRecords", ["SyncBridgeCore"]),
    ]
    package.targets.append(.target(name: "FuzzSupport", path: "Fuzz/Sources/FuzzSupport"))
    for fuzzer in fuzzTargets {
        package.targets.append(
            .executableTarget(
                name: fuzzer.name, dependencies: ["FuzzSupport"] + fuzzer.dependencies, path: "Fuzz/Sources/\(fuzzer.name)",
                swiftSettings: [.unsafeFlags(["-parse-as-library"])]
            ))
        package.products.append(.executable(name: fuzzer.name, targets: [fuzzer.name]))
    }
}
