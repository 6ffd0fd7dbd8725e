import Instrumentation
import Kafka

/// Writes trace context (and any other instrument's keys) into Kafka record headers.
public struct KafkaHeadersInjector: Injector {
    public init() {}

    public func inject(_ value: String, forKey key: String, into carrier: inout [KafkaHeader]) {
        carrier.removeAll { $0.name == key }
        carrier.append(KafkaHeader(name: key, value: value))
    }
}

/// Reads trace context from Kafka record headers.
public struct KafkaHeadersExtractor: Extractor {
    public init() {}

    public func extract(key: String, from carrier: [KafkaHeader]) -> String? {
        carrier.lastValue(named: key)
    }
}
