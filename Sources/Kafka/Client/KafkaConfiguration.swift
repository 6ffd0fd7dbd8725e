/// How to reach the brokers, plus any librdkafka property passed through unchanged.
///
/// Properties resolve in this order, later ones winning: the wrapper's low-latency defaults for the
/// role, the profile's settings, the properties the calling component sets, and finally
/// ``properties`` from the user. A few properties the wrapper depends on for correctness (manual
/// offset commits, for example) cannot be overridden; setting one is an error.
public struct KafkaConfiguration: Sendable, Hashable {
    /// Tuning for the kind of broker on the other end.
    public enum Profile: String, Sendable, Hashable, CaseIterable {
        /// Apache Kafka and compatible brokers that answer a fetch as soon as data arrives: the
        /// wrapper's defaults, with the idempotent producer on. The default.
        case standard
        /// The local development broker (Tansu 0.6), and nothing else:
        /// - it holds every fetch for `fetch.wait.max.ms` and every group join for about half of
        ///   `session.timeout.ms`: both are set small;
        /// - its cost per fetch grows with the number of batches a partition holds, so fewer,
        ///   larger batches keep it fast: one produce request in flight per connection
        ///   (`max.in.flight.requests.per.connection=1`) makes the records that arrive while a
        ///   request is in flight share the next one, without the fixed wait of a linger (which,
        ///   measured, doubles the latency at one connection and keeps the slowdown); a producer
        ///   whose caller knows when more records are coming can add a lingering client
        ///   (``lingeringClient``) for those;
        /// - it keeps nothing across a restart, producer ids included, so the idempotent producer
        ///   (which would keep retrying under an id the restarted broker never issued) is off;
        /// - a live reader can skip a record a fresh reader sees, so consumers re-read offset
        ///   gaps (see `ConsumerCore`).
        /// Its high watermark undercounts multi-record batches; nothing here relies on it.
        case local
    }

    /// `bootstrap.servers`, for example `127.0.0.1:9092`.
    public var bootstrapServers: String
    /// `client.id`, shown in broker logs and metrics.
    public var clientID: String
    public var profile: Profile
    /// librdkafka properties passed through as given (TLS, SASL, tuning).
    public var properties: [String: String]

    public init(
        bootstrapServers: String, clientID: String = "demosync", profile: Profile = .standard,
        properties: [String: String] = [:]
    ) {
        self.bootstrapServers = bootstrapServers
        self.clientID = clientID
        self.profile = profile
        self.properties = properties
    }

    /// The role a client plays, which decides its defaults.
    enum Role {
        case producer
        case consumer
    }

    /// Defaults chosen for request-reply latency (see librdkafka's CONFIGURATION.md).
    static func lowLatencyDefaults(for role: Role) -> [String: String] {
        // Nagle plus delayed ACKs can add ~40 ms per hop; librdkafka disables Nagle only from 2.10.
        // Reconnection backs off to at most 1 s (librdkafka's default grows to 10 s): a broker that
        // comes back is used again within a second, not up to ten.
        var defaults = ["socket.nagle.disable": "true", "reconnect.backoff.max.ms": "1000"]
        switch role {
        case .producer:
            defaults["linger.ms"] = "0"  // one capture is one record: do not wait to batch
            defaults["acks"] = "all"
            defaults["enable.idempotence"] = "true"  // retries never duplicate a record
            defaults["message.timeout.ms"] = "30000"
            // Topics are created explicitly, with the layout asked for; a typo in a topic name
            // fails the send instead of creating a stray topic with the broker's defaults.
            defaults["allow.auto.create.topics"] = "false"
        case .consumer:
            defaults["enable.partition.eof"] = "false"
        }
        return defaults
    }

    /// The profile's ``LingeringClient`` for a producer whose caller can tell when more records
    /// are coming: on `local`, a 2 ms linger, so that records arriving together share one
    /// produce request instead of two or more (the local broker's cost grows with the batches a
    /// partition holds: against 1 ms, the fourth of four back-to-back runs kept 0.52–0.69 of the
    /// first's captures/s instead of 0.30–0.47, the first as fast). `nil` on `standard`, and
    /// whenever `linger.ms` is set explicitly (the user's choice stands).
    public var lingeringClient: LingeringClient? {
        guard profile == .local, properties["linger.ms"] == nil else { return nil }
        return LingeringClient(linger: .milliseconds(2))
    }

    func profileSettings(for role: Role) -> [String: String] {
        switch (profile, role) {
        case (.standard, _):
            return [:]
        case (.local, .producer):
            return ["enable.idempotence": "false", "max.in.flight.requests.per.connection": "1"]
        case (.local, .consumer):
            return [
                "fetch.wait.max.ms": "5",
                "session.timeout.ms": "6000",
                "heartbeat.interval.ms": "1000",
                "max.poll.interval.ms": "6000",
            ]
        }
    }

    /// Resolves the full property set for a client.
    ///
    /// - Parameters:
    ///   - role: producer or consumer defaults.
    ///   - componentSettings: what the calling component needs (for example `message.timeout.ms`
    ///     matched to its own timeout); the user's ``properties`` still win over these.
    ///   - enforced: what the wrapper itself relies on; the user may not override these.
    func resolvedProperties(
        for role: Role, componentSettings: [String: String] = [:], enforced: [String: String] = [:]
    ) throws -> [String: String] {
        for (key, value) in enforced where properties[key].map({ $0 != value }) ?? false {
            throw KafkaError.client("the librdkafka property \(key) is managed by DemoSync and cannot be overridden")
        }
        var resolved = Self.lowLatencyDefaults(for: role)
        resolved.merge(profileSettings(for: role)) { $1 }
        resolved.merge(componentSettings) { $1 }
        resolved["bootstrap.servers"] = bootstrapServers
        resolved["client.id"] = clientID
        resolved.merge(properties) { $1 }
        resolved.merge(enforced) { $1 }
        return resolved
    }
}

extension Dictionary where Key == String, Value == String {
    /// Turns librdkafka's statistics on (every 5 s) when a handler wants them, unless the
    /// caller chose an interval.
    func withStatistics(_ wanted: Bool) -> [String: String] {
        guard wanted, self["statistics.interval.ms"] == nil else { return self }
        var settings = self
        settings["statistics.interval.ms"] = "5000"
        return settings
    }
}
