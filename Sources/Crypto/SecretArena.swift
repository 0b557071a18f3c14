import Glibc
import Synchronization

/// Memory for secrets: chunks of pages locked in RAM (never written to swap or flash), left out of
/// core dumps, handed out in 32-byte slots that are zeroed on release.
///
/// Secrets live here rather than inline so that moving a key value never leaves stray copies of its
/// bytes in stack slots the compiler abandoned. The arena grows by whole chunks and keeps them: a
/// router's peak (peers × 3 keypairs × 2 keys) is small and the memory is reused.
enum SecretArena {
    static let slotSize = 32
    static let chunkSize = 16 * 1024

    /// Head of the free list, threaded through the free slots themselves (as an address, so that
    /// the Mutex's contents are Sendable).
    private static let freeHead = Mutex<UInt>(0)

    static func allocate() -> UnsafeMutableRawPointer {
        let address = freeHead.withLock { head -> UInt in
            if head == 0 { head = addChunk() }
            let slot = UnsafeMutableRawPointer(bitPattern: head)!
            head = slot.load(as: UInt.self)
            return UInt(bitPattern: slot)
        }
        let slot = UnsafeMutableRawPointer(bitPattern: address)!
        slot.initializeMemory(as: UInt8.self, repeating: 0, count: slotSize)
        return slot
    }

    static func release(_ slot: UnsafeMutableRawPointer) {
        Zeroize.clear(UnsafeMutableRawBufferPointer(start: slot, count: slotSize))
        freeHead.withLock { head in
            slot.storeBytes(of: head, as: UInt.self)
            head = UInt(bitPattern: slot)
        }
    }

    /// Maps a new chunk and returns its slots as a free list; called with the lock held.
    private static func addChunk() -> UInt {
        guard let chunk = mmap(nil, chunkSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              chunk != MAP_FAILED else {
            fatalError("wgd: out of memory for keys")
        }
        // Best effort: without CAP_IPC_LOCK the RLIMIT_MEMLOCK allowance may be used up.
        _ = mlock(chunk, chunkSize)
        _ = madvise(chunk, chunkSize, MADV_DONTDUMP)
        var next: UInt = 0
        for offset in stride(from: chunkSize - slotSize, through: 0, by: -slotSize) {
            (chunk + offset).storeBytes(of: next, as: UInt.self)
            next = UInt(bitPattern: chunk + offset)
        }
        return next
    }
}
