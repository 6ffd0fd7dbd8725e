// swift-tools-version:6.1
import PackageDescription

// Layers, each depending only on the ones below it:
//   CRdKafka (C shim) → Kafka (our librdkafka wrapper, knows nothing of payments)
//   Payments (the domain: models, validation, captures and correlation; links no Kafka)
//   → PaymentsWire (the mapping between the domain and Kafka records: Payments + Kafka)
//   → Operations (health, metrics, logs, traces) → PaymentsAPI, ProcessorSimulator, PaymentsClient
//   → DemoSyncCLI (argument parsing and wiring) → demosync (executable)
//   JSONText is a leaf utility (hand-written JSON both ways, no dependencies).
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "demosync",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "demosync", targets: ["demosync"]),
        .executable(name: "demosync-bench", targets: ["demosync-bench"]),
        .library(name: "Kafka", targets: ["Kafka"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        // OTLP/HTTP only: the gRPC exporter (and grpc-swift) is not built.
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
        .package(url: "https://github.com/swift-otel/swift-w3c-trace-context.git", from: "1.0.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        .target(
            name: "JSONText",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Kafka",
            dependencies: [
                "CRdKafka",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Payments",
            dependencies: [
                "JSONText",
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PaymentsWire",
            dependencies: [
                "Payments",
                "Kafka",
                "JSONText",
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Operations",
            dependencies: [
                "Kafka",
                "JSONText",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PaymentsAPI",
            dependencies: [
                "Kafka",
                "Payments",
                "PaymentsWire",
                "Operations",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ProcessorSimulator",
            dependencies: [
                "Kafka",
                "Payments",
                "PaymentsWire",
                "JSONText",
                "Operations",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PaymentsClient",
            dependencies: [
                "Payments",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "DemoSyncCLI",
            dependencies: [
                "Kafka",
                "Payments",
                "PaymentsWire",
                "PaymentsAPI",
                "ProcessorSimulator",
                "PaymentsClient",
                "Operations",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "demosync",
            dependencies: [
                "DemoSyncCLI", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Benchmark baselines (not part of the product): the raw Kafka request-reply round trip
        // through our wrapper, and a Hummingbird JSON echo. See bench/README.md.
        .executableTarget(
            name: "demosync-bench",
            dependencies: [
                "Kafka",
                // Only for the topic layout `serve` and `simulate` create (PaymentTopics).
                "PaymentsWire",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "bench/demosync-bench",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TestSupport",
            dependencies: [
                "Kafka",
                "Payments",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KafkaTests",
            dependencies: ["Kafka", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PaymentsTests",
            dependencies: ["Payments", "PaymentsWire", "Kafka", "JSONText", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PaymentsAPITests",
            dependencies: [
                "PaymentsAPI", "Payments", "PaymentsWire", "Kafka", "Operations", "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ProcessorSimulatorTests",
            dependencies: ["ProcessorSimulator", "Payments", "PaymentsWire", "Kafka", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DemoSyncCLITests",
            dependencies: ["DemoSyncCLI", "PaymentsClient", "Payments", "PaymentsWire"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "Kafka", "Payments", "PaymentsWire", "PaymentsClient", "Operations", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
