import CShim
import Glibc
import Protocol
import Synchronization

/// All packet memory, reserved once at start: one slab cut into fixed-size buffers.
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

    /// `mtu` sizes each buffer (headroom, packet, padding and tag); `count` buffers in all.
    /// The slab is reserved at start and a page costs memory only once a packet first uses it;
    /// the free list is a stack, lowest index on top, so what is resident is the most packets
    /// ever in flight at once, not the bound (an idle router pays nothing for a deep pool).
    /// A `locked` slab (the everyday buffers: they hold plaintext) has its pages locked as they
    /// arrive (MLOCK_ONFAULT; best effort, fine to fail unprivileged), so none is ever swapped.
    public init(mtu: Int, count: Int, locked: Bool = true) {
        let needed = Self.headroom + mtu + WireGuard.paddingMultiple + DataLayout.tagLength
        bufferSize = (needed + 63) & ~63
        self.count = count
        let bytes = bufferSize * count
        let memory = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let memory, memory != MAP_FAILED else { fatalError("wgd: cannot reserve \(bytes) bytes of packet buffers") }
        // A huge page would make one packet's first use cost 2 MiB.
        _ = madvise(memory, bytes, MADV_NOHUGEPAGE)
        if locked { _ = wgd_mlock_on_fault(memory, bytes) }
        slab = memory
        free = Mutex(IndexStack(holdingAllBelow: count))
    }

    deinit { munmap(slab, bufferSize * count) }

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

    /// Bytes of the slab in memory now (mincore): what the pool costs, as opposed to its bound.
    /// For diagnostics and tests, never the packet path.
    public var residentBytes: Int {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let pages = (bufferSize * count + page - 1) / page
        var map = [UInt8](repeating: 0, count: pages)
        guard mincore(slab, bufferSize * count, &map) == 0 else { return bufferSize * count }
        return map.reduce(0) { $0 + Int($1 & 1) } * page
    }

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
