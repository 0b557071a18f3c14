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
    private let free: Mutex<IndexStack>
    private let exhausted = Atomic<UInt64>(0)

    /// Whether the slab was mapped lazily (see `init`), and so is unmapped rather than freed.
    private let lazy: Bool

    /// `mtu` sizes each buffer (headroom, packet, padding and tag); `count` buffers in all.
    /// A `resident` slab is touched and locked at start: the everyday buffers. Otherwise the slab
    /// is only reserved: a page costs memory once a packet first uses it, so a bounded class of
    /// large buffers that a 1420-MTU router never needs costs it nothing.
    public init(mtu: Int, count: Int, resident: Bool = true) {
        let needed = Self.headroom + mtu + WireGuard.paddingMultiple + DataLayout.tagLength
        bufferSize = (needed + 63) & ~63
        self.count = count
        lazy = !resident
        let bytes = bufferSize * count
        if resident {
            var memory: UnsafeMutableRawPointer?
            guard posix_memalign(&memory, 4096, bytes) == 0, let memory else {
                fatalError("wgd: cannot allocate \(bytes) bytes of packet buffers")
            }
            // Best effort: keep packet memory resident (it holds plaintext); fine to fail unprivileged.
            _ = mlock(memory, bytes)
            slab = memory
        } else {
            let memory = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
            guard let memory, memory != MAP_FAILED else { fatalError("wgd: cannot reserve \(bytes) bytes of packet buffers") }
            slab = memory
        }
        free = Mutex(IndexStack(holdingAllBelow: count))
    }

    deinit {
        if lazy { munmap(slab, bufferSize * count) } else { Glibc.free(slab) }
    }

    /// The largest packet (IP packet or datagram payload) a buffer holds with room to pad and seal it.
    public var packetRoom: Int { bufferSize - Self.headroom - WireGuard.paddingMultiple - DataLayout.tagLength }

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

    /// The largest IP packet this buffer takes after its headroom, with room to pad and seal it.
    public var packetRoom: Int { pool.packetRoom }

    /// The whole buffer.
    public var bytes: UnsafeMutableRawBufferPointer { pool.memory(index) }

    /// The packet: `length` bytes from `start`.
    public var packet: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: bytes[start..<start + length])
    }
}
