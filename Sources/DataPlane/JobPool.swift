import Glibc
import Synchronization

/// Every job slot of an interface, for all its peers: fixed chunks of `chunkSize` jobs that a
/// peer's queue links into a chain as it grows and hands back as it drains. A per-peer bound
/// (1,024 queued, 128 staged) is then a limit, not a preallocation: an idle peer holds no slot,
/// and memory stays flat in the number of peers.
///
/// A slot is named by its index in the pool (chunk × chunkSize + offset), so reaching its job
/// is one addition, with no lock. The chunks are reserved at start but a page costs memory only
/// once a chunk is first used; after that, taking and returning one allocates nothing.
final class JobPool: @unchecked Sendable {
    // A chunk's jobs belong to the chain that holds it; the lock guards only the free list and
    // the count of chunks initialized so far.
    static let chunkSize = 16
    let chunkCount: Int
    private let jobs: UnsafeMutablePointer<Job>
    private let finished: UnsafeMutablePointer<Bool>
    private let links: UnsafeMutablePointer<Int32>
    private let mapped: Int
    private let free: Mutex<ChunkStack>
    private let exhausted = Atomic<UInt64>(0)

    /// Enough chunks for `buffers` queued packets (every queued job holds a buffer) plus a
    /// partly filled chunk at each end of as many chains: the pool runs dry only after the
    /// buffers nearly have.
    static func chunks(forBuffers buffers: Int) -> Int {
        (buffers + chunkSize - 1) / chunkSize + buffers
    }

    init(chunks: Int) {
        precondition(chunks > 0 && chunks < Int(Int32.max) / Self.chunkSize)
        chunkCount = chunks
        let slots = chunks * Self.chunkSize
        let jobBytes = (slots * MemoryLayout<Job>.stride + 4095) & ~4095
        let flagBytes = (slots + 4095) & ~4095
        mapped = jobBytes + flagBytes + chunks * MemoryLayout<Int32>.stride
        // Reserved, not touched: anonymous pages read as zero (false flags) until first written.
        let memory = mmap(nil, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let memory, memory != MAP_FAILED else { fatalError("wgd: cannot reserve \(mapped) bytes of job slots") }
        jobs = memory.bindMemory(to: Job.self, capacity: slots)
        finished = (memory + jobBytes).bindMemory(to: Bool.self, capacity: slots)
        links = (memory + jobBytes + flagBytes).bindMemory(to: Int32.self, capacity: chunks)
        free = Mutex(ChunkStack(capacity: chunks))
    }

    deinit {
        let initialized = free.withLock { $0.initialized }
        jobs.deinitialize(count: Int(initialized) * Self.chunkSize)
        munmap(UnsafeMutableRawPointer(jobs), mapped)
    }

    /// The job in a slot the calling thread owns.
    func job(_ slot: Int) -> UnsafeMutablePointer<Job> { jobs + slot }

    /// A slot's "processed" flag; read and written under its chain's lock.
    func done(_ slot: Int) -> UnsafeMutablePointer<Bool> { finished + slot }

    /// A free chunk, or nil when every chunk is in a chain (the caller drops its packet).
    func takeChunk() -> Int32? {
        let chunk = free.withLock { stack -> Int32? in
            if let chunk = stack.pop() { return chunk }
            guard stack.initialized < chunkCount else { return nil }
            // First use: the jobs are made here, once; their pages become resident now.
            let chunk = stack.initialized
            let first = jobs + Int(chunk) * Self.chunkSize
            for i in 0..<Self.chunkSize { (first + i).initialize(to: Job()) }
            stack.initialized += 1
            return chunk
        }
        if chunk == nil { exhausted.wrappingAdd(1, ordering: .relaxed) }
        return chunk
    }

    /// Returns a chunk whose jobs hold nothing any more.
    func give(back chunk: Int32) { free.withLock { $0.push(chunk) } }

    func start(of chunk: Int32) -> Int { Int(chunk) * Self.chunkSize }
    func end(of chunk: Int32) -> Int { (Int(chunk) + 1) * Self.chunkSize }
    func next(after chunk: Int32) -> Int32 { links[Int(chunk)] }
    func link(_ chunk: Int32, to next: Int32) { links[Int(chunk)] = next }

    /// Chunks in no chain now.
    var available: Int { free.withLock { chunkCount - Int($0.initialized) + $0.depth } }

    /// Chunks ever touched: the pool's resident part.
    var initialized: Int { free.withLock { Int($0.initialized) } }

    /// Times a packet found no chunk.
    var exhaustions: UInt64 { exhausted.load(ordering: .relaxed) }
}

/// Free chunk indices, with all their room reserved at start; chunks never used are counted,
/// not listed, so that none is touched before it is needed.
private struct ChunkStack: ~Copyable {
    var free: IndexStack
    var initialized: Int32 = 0

    init(capacity: Int) { free = IndexStack(capacity: capacity) }

    mutating func pop() -> Int32? { free.pop() }
    mutating func push(_ chunk: Int32) { free.push(chunk) }
    var depth: Int { free.depth }
}

/// A FIFO of slots from a `JobPool`, linked chunk to chunk: it takes a chunk when its tail
/// needs room and hands each one back as its head leaves it, the last as soon as it is empty.
/// Not thread-safe: its owner guards it.
struct ChunkChain {
    /// The oldest slot (meaningful while `count > 0`) and how many slots are in use.
    private(set) var head = 0
    private(set) var count = 0
    private var tail = 0
    private var headChunk: Int32 = -1
    private var tailChunk: Int32 = -1

    /// A new slot at the tail, or nil when the pool has no chunk to give.
    mutating func append(_ pool: JobPool) -> Int? {
        if tailChunk < 0 || tail == pool.end(of: tailChunk) {
            guard let chunk = pool.takeChunk() else { return nil }
            if tailChunk < 0 {
                headChunk = chunk
                head = pool.start(of: chunk)
            } else {
                pool.link(tailChunk, to: chunk)
            }
            tailChunk = chunk
            tail = pool.start(of: chunk)
        }
        defer { tail += 1; count += 1 }
        return tail
    }

    /// How many slots from the head lie in the head's chunk: consecutive slot indices.
    func contiguous(_ pool: JobPool) -> Int {
        count == 0 ? 0 : min(count, pool.end(of: headChunk) - head)
    }

    /// Drops `n` slots, at most `contiguous`, from the head; a chunk left behind goes back.
    mutating func removeFirst(_ n: Int, _ pool: JobPool) {
        head += n
        count -= n
        if count == 0 {
            pool.give(back: headChunk)
            headChunk = -1
            tailChunk = -1
        } else if head == pool.end(of: headChunk) {
            let old = headChunk
            headChunk = pool.next(after: old)
            head = pool.start(of: headChunk)
            pool.give(back: old)
        }
    }
}
