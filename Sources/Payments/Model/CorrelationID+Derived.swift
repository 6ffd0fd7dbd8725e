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
        // The name, length-prefixed so that no choice of key and body makes two names the same:
        // "<key bytes>:<key><fingerprint bytes>:<fingerprint>[<previous>]". Hashed a part at a
        // time, which hashes the same bytes as the joined text without building it.
        var hash = NameHash()
        hash.add("\(key.utf8.count):")
        hash.add(key)
        hash.add("\(fingerprint.utf8.count):")
        hash.add(fingerprint)
        if let previous { hash.add(previous.rawValue) }
        return hash.uuid()
    }

    /// A version 5 UUID of `name` in DemoSync's namespace, lower case.
    static func derived(from name: String) -> CorrelationID {
        var hash = NameHash()
        hash.add(name)
        return hash.uuid()
    }

    /// SHA-1 of DemoSync's namespace followed by a name given in parts.
    private struct NameHash {
        private var sha1 = Insecure.SHA1()

        init() {
            sha1.update(data: namespace)
        }

        mutating func add(_ part: String) {
            var part = part
            part.withUTF8 { sha1.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        }

        /// The version 5 UUID text, written straight into the string's storage.
        func uuid() -> CorrelationID {
            let text = sha1.finalize().withUnsafeBytes { digest in
                String(unsafeUninitializedCapacity: 36) { text in
                    var index = 0
                    for position in 0..<16 {
                        var byte = digest[position]
                        if position == 6 { byte = (byte & 0x0F) | 0x50 }  // version 5
                        if position == 8 { byte = (byte & 0x3F) | 0x80 }  // RFC 9562 variant
                        if position == 4 || position == 6 || position == 8 || position == 10 {
                            text[index] = UInt8(ascii: "-")
                            index += 1
                        }
                        text[index] = hexDigit(byte >> 4)
                        text[index + 1] = hexDigit(byte & 0x0F)
                        index += 2
                    }
                    return index
                }
            }
            return CorrelationID(validating: text)!
        }

        private func hexDigit(_ value: UInt8) -> UInt8 {
            value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") - 10 + value
        }
    }

    /// DemoSync's namespace UUID (itself a random one, fixed forever: changing it changes every
    /// derived id).
    private static let namespace: [UInt8] = [
        0x6f, 0x1d, 0x2c, 0x9e, 0x4b, 0x3a, 0x4e, 0x71, 0x9c, 0x52, 0x0d, 0xa8, 0x37, 0xe4, 0x5b, 0x10,
    ]
}
