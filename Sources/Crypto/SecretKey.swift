/// A 32-byte secret (session key, chaining key, ephemeral private key, DH result) that exists once.
///
/// Move-only, so it is never duplicated by accident; its bytes sit in locked memory and are zeroed
/// when it is released. It has no description: it cannot be printed or logged at all.
public struct SecretKey: ~Copyable, @unchecked Sendable {
    // Unique ownership (~Copyable) makes the raw pointer safe to send.
    @usableFromInline let storage: UnsafeMutableRawPointer

    public static let count = 32

    /// All zeros.
    public init() { storage = SecretArena.allocate() }

    /// Copies exactly 32 bytes; the caller clears its own copy.
    public init(copying bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count == SecretKey.count, "a key has 32 bytes")
        storage = SecretArena.allocate()
        storage.copyMemory(from: bytes.baseAddress!, byteCount: SecretKey.count)
    }

    /// 32 bytes from the system CSPRNG.
    public static func random() -> SecretKey {
        var key = SecretKey()
        key.withUnsafeMutableBytes { SystemRandom.fill($0) }
        return key
    }

    deinit { SecretArena.release(storage) }

    /// An explicit duplicate, for the rare place that must keep two owners (say why there).
    public func duplicate() -> SecretKey {
        SecretKey(copying: UnsafeRawBufferPointer(start: storage, count: SecretKey.count))
    }

    @inlinable
    public func withUnsafeBytes<R: ~Copyable, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: storage, count: SecretKey.count))
    }

    @inlinable
    public mutating func withUnsafeMutableBytes<R: ~Copyable, E: Error>(_ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeMutableRawBufferPointer(start: storage, count: SecretKey.count))
    }

    /// Overwrites the key with zeros, keeping the slot.
    public mutating func clear() { Zeroize.clear(UnsafeMutableRawBufferPointer(start: storage, count: SecretKey.count)) }

    /// Constant time.
    public var isZero: Bool {
        withUnsafeBytes { ConstantTime.isZero($0) }
    }

    /// Constant time.
    public func equals(_ other: borrowing SecretKey) -> Bool {
        withUnsafeBytes { a in other.withUnsafeBytes { b in ConstantTime.equals(a, b) } }
    }
}
