import Glibc
import Protocol
import Synchronization

/// All packet memory, allocated once at start: one slab cut into fixed-size buffers.
///
/// Nothing on the packet path allocates: a packet takes a buffer from here or is dropped (and
/// counted) when there is none. A buffer is held through a move-only `PacketBuffer`, so it is
/// returned exactly once and cannot be touched after it was.
public final class BufferPool: @unchecked Sendable {
    /// Headroom before the payload: a data message's 16-byte header is written in front of the
    /// IP packet read from the TUN, so encryption happens in place.
    public static let headroom = DataLayout.headerLength
    public let bufferSize: Int
    public let count: Int
    private let slab: UnsafeMutableRawPointer
    // The free list is a stack of indices; a plain lock is cheap next to a packet's crypto.
    private let free: Mutex<FreeStack>
    private let exhausted = Atomic<UInt64>(0)

    /// `mtu` sizes each buffer (headroom, packet, padding and tag); `count` buffers in all.
    public init(mtu: Int, count: Int) {
        let needed = Self.headroom + mtu + WireGuard.paddingMultiple + DataLayout.tagLength
        bufferSize = (needed + 63) & ~63
        self.count = count
        var memory: UnsafeMutableRawPointer?
        guard posix_memalign(&memory, 4096, bufferSize * count) == 0, let memory else {
            fatalError("wgd: cannot allocate \(bufferSize * count) bytes of packet buffers")
        }
        // Best effort: keep packet memory resident (it holds plaintext); fine to fail unprivileged.
        _ = mlock(memory, bufferSize * count)
        slab = memory
        free = Mutex(FreeStack(count: count))
    }

    deinit { Glibc.free(slab) }

    /// A buffer, or nil when all are in use (the caller drops its packet).
    public func take() -> PacketBuffer? {
        guard let index = free.withLock({ $0.pop() }) else {
            exhausted.wrappingAdd(1, ordering: .relaxed)
            return nil
        }
        return PacketBuffer(pool: self, index: index)
    }

    fileprivate func give(back index: Int32) { free.withLock { $0.push(index) } }

    fileprivate func memory(_ index: Int32) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: slab + Int(index) * bufferSize, count: bufferSize)
    }

    /// Buffers on the free list now.
    public var available: Int { free.withLock { $0.depth } }

    /// Times a packet found no buffer.
    public var exhaustions: UInt64 { exhausted.load(ordering: .relaxed) }
}

/// A stack of free buffer indices with all its room reserved at start.
private struct FreeStack: ~Copyable {
    private let slots: UnsafeMutablePointer<Int32>
    private(set) var depth: Int

    init(count: Int) {
        slots = .allocate(capacity: count)
        for i in 0..<count { slots[i] = Int32(count - 1 - i) }
        depth = count
    }

    deinit { slots.deallocate() }

    mutating func pop() -> Int32? {
        guard depth > 0 else { return nil }
        depth -= 1
        return slots[depth]
    }

    mutating func push(_ index: Int32) {
        slots[depth] = index
        depth += 1
    }
}

/// One packet buffer, owned. `bytes` is the whole buffer; `start` and `length` say where the
/// packet in it is. Dropping the value returns the buffer to its pool.
public struct PacketBuffer: ~Copyable, @unchecked Sendable {
    // A buffer belongs to one owner at a time (move-only), so handing it between threads is safe.
    private let pool: BufferPool
    public let index: Int32
    public var start = 0
    public var length = 0

    fileprivate init(pool: BufferPool, index: Int32) {
        self.pool = pool
        self.index = index
    }

    deinit { pool.give(back: index) }

    /// The whole buffer.
    public var bytes: UnsafeMutableRawBufferPointer { pool.memory(index) }

    /// The packet: `length` bytes from `start`.
    public var packet: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: bytes[start..<start + length])
    }
}
