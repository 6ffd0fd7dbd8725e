import DequeModule

/// A bounded memory of recently seen keys: the oldest is forgotten when a new one does not fit.
struct RecentKeys<Key: Hashable & Sendable>: Sendable {
    private var order: Deque<Key> = []
    private var members: Set<Key> = []
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    mutating func insert(_ key: Key) {
        guard capacity > 0, members.insert(key).inserted else { return }
        order.append(key)
        if order.count > capacity, let oldest = order.popFirst() {
            members.remove(oldest)
        }
    }

    func contains(_ key: Key) -> Bool { members.contains(key) }
}
