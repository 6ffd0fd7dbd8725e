import Crypto

extension CorrelationID {
    /// The correlation id of a capture attempt, the same on every replica that knows the same
    /// about the capture: a name-based (version 5, RFC 9562) UUID of the idempotency name, the
    /// request's fingerprint and the attempt before it (`nil` for the first).
    ///
    /// Two replicas that receive the same new capture at the same instant send it under one
    /// correlation id, so to any processor keyed on it (and to every replica waiting for its
    /// reply) the two records are one capture.
    public static func attempt(key: String, fingerprint: String, after previous: CorrelationID?) -> CorrelationID {
        // Length-prefixed, so that no choice of key and body makes two names the same.
        var name = "\(key.utf8.count):\(key)\(fingerprint.utf8.count):\(fingerprint)"
        if let previous { name += previous.rawValue }
        return derived(from: name)
    }

    /// A version 5 UUID of `name` in DemoSync's namespace, lower case.
    static func derived(from name: String) -> CorrelationID {
        var hash = Insecure.SHA1()
        hash.update(data: namespace)
        hash.update(data: Array(name.utf8))
        var bytes = Array(hash.finalize().prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x50  // version 5
        bytes[8] = (bytes[8] & 0x3F) | 0x80  // RFC 9562 variant
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(36)
        for (index, byte) in bytes.enumerated() {
            if index == 4 || index == 6 || index == 8 || index == 10 { text.append(UInt8(ascii: "-")) }
            text.append(hex[Int(byte >> 4)])
            text.append(hex[Int(byte & 0x0F)])
        }
        return CorrelationID(validating: String(decoding: text, as: UTF8.self))!
    }

    /// DemoSync's namespace UUID (itself a random one, fixed forever: changing it changes every
    /// derived id).
    private static let namespace: [UInt8] = [
        0x6f, 0x1d, 0x2c, 0x9e, 0x4b, 0x3a, 0x4e, 0x71, 0x9c, 0x52, 0x0d, 0xa8, 0x37, 0xe4, 0x5b, 0x10,
    ]
}
