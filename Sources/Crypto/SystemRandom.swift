internal import CShim
import Glibc

/// The kernel's CSPRNG through getrandom(2): no file descriptor to leak or exhaust, and it blocks
/// only until the pool is first initialised — on a router's first boot, key generation waits for
/// entropy rather than producing a weak key.
public enum SystemRandom {
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        var filled = 0
        while filled < buffer.count {
            let n = getrandom(buffer.baseAddress! + filled, buffer.count - filled, 0)
            if n > 0 { filled += n } else if n < 0 && errno != EINTR { fatalError("getrandom failed: errno \(errno)") }
        }
    }

    public static func uint32() -> UInt32 {
        var value: UInt32 = 0
        withUnsafeMutableBytes(of: &value) { fill($0) }
        return value
    }

    public static func uint64() -> UInt64 {
        var value: UInt64 = 0
        withUnsafeMutableBytes(of: &value) { fill($0) }
        return value
    }
}

/// `RandomNumberGenerator` over getrandom(2), for protocol code that takes a generator (jitter,
/// indices) so that tests can pass a seeded one instead.
public struct SystemRandomGenerator: RandomNumberGenerator, Sendable {
    public init() {}
    public mutating func next() -> UInt64 { SystemRandom.uint64() }
}
