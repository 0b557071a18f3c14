import Crypto

/// SplitMix64, seeded once from the kernel's CSPRNG: for values that must be unpredictable to
/// an outsider only loosely (timer jitter) and are drawn on the packet path, where a getrandom(2)
/// per packet would cost a system call. Keys and indices still come from the CSPRNG.
public struct FastRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init() { state = SystemRandom.uint64() }

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
