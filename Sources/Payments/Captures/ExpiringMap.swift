import DequeModule

/// A map that forgets: at most `capacity` entries, none older than `maximumAge`, the oldest going
/// first. A plain value: its owner serialises access (the correlation registry's actor, the
/// simulator's lock).
///
/// Time is passed in (monotonic, see ``DeadlineClock``), so tests control it. Entries leave
/// either through ``removeValue(forKey:)`` or through eviction, which returns the evicted
/// entries so that the owner can forget what refers to them.
///
/// Inlinable, so that the modules using it get code specialised for their key and value types:
/// unspecialised, every insert resolved tuple and dictionary metadata at run time (5% of the
/// simulator's CPU in a profile).
public struct ExpiringMap<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    @usableFromInline var values: [Key: (value: Value, storedAt: Duration)] = [:]
    /// Insertion order. A key stored again appears twice; the stale record is skipped.
    @usableFromInline var order: Deque<(key: Key, storedAt: Duration)> = []
    public let capacity: Int
    public let maximumAge: Duration

    @inlinable
    public init(capacity: Int, maximumAge: Duration) {
        self.capacity = max(1, capacity)
        self.maximumAge = maximumAge
    }

    @inlinable public var count: Int { values.count }

    @inlinable public subscript(key: Key) -> Value? { values[key]?.value }

    /// Stores `value` under `key` (replacing any earlier value and restarting its age), then
    /// evicts what no longer fits.
    @inlinable @discardableResult
    public mutating func insert(_ value: Value, for key: Key, now: Duration) -> [(key: Key, value: Value)] {
        values[key] = (value, now)
        order.append((key, now))
        defer { compactIfMostlyStale() }
        return evict(now: now)
    }

    /// Replaces the value under `key` without changing its age; does nothing when absent.
    @inlinable
    public mutating func update(_ key: Key, _ change: (inout Value) -> Void) {
        guard var entry = values[key] else { return }
        change(&entry.value)
        values[key] = entry
    }

    @inlinable @discardableResult
    public mutating func removeValue(forKey key: Key) -> Value? {
        defer { compactIfMostlyStale() }
        return values.removeValue(forKey: key)?.value
    }

    /// Drops entries older than the maximum age, and the oldest while over capacity.
    @inlinable @discardableResult
    public mutating func evict(now: Duration) -> [(key: Key, value: Value)] {
        var evicted: [(key: Key, value: Value)] = []
        while let oldest = order.first {
            guard let entry = values[oldest.key], entry.storedAt == oldest.storedAt else {
                order.removeFirst()  // removed, or stored again since
                continue
            }
            guard values.count > capacity || now - oldest.storedAt > maximumAge else { break }
            order.removeFirst()
            values[oldest.key] = nil
            evicted.append((oldest.key, entry.value))
        }
        return evicted
    }

    /// Rebuilds the order without its stale records once they outnumber the live ones, so that
    /// keys removed or stored again cost no memory for long.
    @usableFromInline
    mutating func compactIfMostlyStale() {
        guard order.count > 2 * values.count + 1_024 else { return }
        order = Deque(values.map { (key: $0.key, storedAt: $0.value.storedAt) }.sorted { $0.storedAt < $1.storedAt })
    }
}
