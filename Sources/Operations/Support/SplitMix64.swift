/// SplitMix64 (Steele, Lea and Flood): a fast generator with good statistical quality, for ids
/// and dice, never for secrets. The system's generator costs a system call per number.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// The step between states: 2^64 divided by the golden ratio.
    public static let increment: UInt64 = 0x9E37_79B9_7F4A_7C15

    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= Self.increment
        return Self.mix(state)
    }

    /// The output function: a bijection, so distinct states give distinct numbers. Lock-free
    /// users mix `seed + n × increment` for an atomic counter `n` instead of keeping a state.
    @inlinable
    public static func mix(_ value: UInt64) -> UInt64 {
        var mixed = value
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
}
