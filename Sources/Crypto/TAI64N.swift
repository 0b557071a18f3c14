/// TAI64N timestamps (12 bytes, big endian: seconds label, then nanoseconds), which a responder
/// uses to refuse replayed initiations: a new initiation must carry a greater timestamp.
public struct TAI64N: Comparable, Hashable, Sendable {
    /// TAI64 labels start at 2^62; +10 is the TAI−UTC offset of 1970 that the protocol fixes.
    public static let unixEpochLabel: UInt64 = 0x4000_0000_0000_000A
    /// Nanoseconds are rounded down to a multiple of this (2^24 ns ≈ 16.8 ms, under the 20 ms
    /// between two initiations a responder accepts), so a timestamp does not reveal precise
    /// timing to an observer of the peer's clock (the kernel and wireguard-go round the same way).
    public static let precisionMask: UInt32 = ~((1 << 24) - 1)
    public static let byteCount = 12

    public let seconds: UInt64
    public let nanoseconds: UInt32

    public init(seconds: UInt64, nanoseconds: UInt32) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    /// From the wall clock (Unix time), rounded as the protocol wants.
    public init(unixSeconds: UInt64, nanoseconds: UInt32) {
        self.init(seconds: TAI64N.unixEpochLabel &+ unixSeconds, nanoseconds: nanoseconds & TAI64N.precisionMask)
    }

    public init(bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count >= 12)
        seconds = UInt64(bigEndian: bytes.loadUnaligned(as: UInt64.self))
        nanoseconds = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
    }

    public func write(to bytes: UnsafeMutableRawBufferPointer) {
        precondition(bytes.count >= 12)
        bytes.storeBytes(of: seconds.bigEndian, as: UInt64.self)
        bytes.storeBytes(of: nanoseconds.bigEndian, toByteOffset: 8, as: UInt32.self)
    }

    public static let zero = TAI64N(seconds: 0, nanoseconds: 0)

    public static func < (a: TAI64N, b: TAI64N) -> Bool {
        (a.seconds, a.nanoseconds) < (b.seconds, b.nanoseconds)
    }
}
