import Glibc

/// A fixed-size heap buffer of bytes that is zeroed before its memory goes back to the allocator:
/// the control channel's frames, which may hold a private or preshared key on their way through.
///
/// Fixed size on purpose: a buffer that grew would leave the old copy behind in freed memory.
/// Move-only, so that the bytes exist once and the clearing happens exactly once.
public struct ZeroingBuffer: ~Copyable, @unchecked Sendable {
    // Unique ownership (~Copyable) makes the raw pointer safe to send.
    private let storage: UnsafeMutableRawBufferPointer

    /// `count` zero bytes.
    public init(count: Int) {
        precondition(count >= 0, "a buffer has a size")
        storage = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
    }

    /// A copy of `bytes` (for tests and small public payloads).
    public init(copying bytes: some Collection<UInt8>) {
        self.init(count: bytes.count)
        storage.copyBytes(from: bytes)
    }

    deinit {
        // explicit_bzero: a memset before free is a dead store the optimizer may remove.
        if let base = storage.baseAddress { explicit_bzero(base, storage.count) }
        storage.deallocate()
    }

    public var count: Int { storage.count }

    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(storage))
    }

    public mutating func withUnsafeMutableBytes<R, E: Error>(_ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(storage)
    }

    /// A copy of the bytes, for tests and diagnostics: never for a buffer that holds a secret.
    public var bytes: [UInt8] { Array(storage) }
}
