import Crypto
import Glibc
import Protocol
import Synchronization

/// One packet's journey through the crypto workers.
struct Job: ~Copyable {
    var buffer: PacketBuffer?
    var keypair: Keypair?
    var counter: UInt64 = 0
    /// Transmit: the padded plaintext length. Receive: the decrypted length.
    var length = 0
    var isKeepalive = false
    var authenticated = false
    var source: Endpoint?
    var local = LocalAddress.none
}

/// A peer's packets in one direction, in the order they arrived, while workers encrypt or
/// decrypt them in parallel (the kernel's per-peer queue over a device-wide crypt queue).
///
/// A slot is reserved in arrival order; any worker may process it; the worker that finds the
/// head finished delivers every consecutive finished slot, one drainer at a time. Slots are handed
/// back only after delivery, so a producer can never reuse one that is still being sent.
///
/// The slots come from the interface's `JobPool` a chunk at a time, so the bound of 1,024 is a
/// limit: an idle queue holds nothing.
final class OrderedQueue: @unchecked Sendable {
    // Slots are touched by one thread at a time: the producer until it publishes, a worker until
    // it marks the slot done, the drainer until it hands the slot back. The lock guards the chain
    // and the done flags.
    static let capacity = WireGuard.maxQueuedPackets
    let pool: JobPool
    private let limit: Int
    private let state = Mutex(Indices())

    private struct Indices {
        var chain = ChunkChain()
        var draining = false
    }

    init(pool: JobPool, limit: Int = OrderedQueue.capacity) {
        self.pool = pool
        self.limit = limit
    }

    deinit {
        // A removed peer's queue may still hold packets nobody will deliver: free them.
        state.withLock { s in
            while s.chain.count > 0 {
                let n = s.chain.contiguous(pool)
                for slot in s.chain.head..<s.chain.head + n { Self.clear(pool.job(slot)) }
                s.chain.removeFirst(n, pool)
            }
        }
    }

    private static func clear(_ job: UnsafeMutablePointer<Job>) {
        job.pointee.buffer = nil
        job.pointee.keypair = nil
        job.pointee.source = nil
    }

    /// Reserves the next slot in order, or nil when the queue is at its bound or the pool has
    /// no chunk to grow it by (the packet is dropped).
    func reserve() -> Int? {
        state.withLock { s -> Int? in
            guard s.chain.count < limit, let slot = s.chain.append(pool) else { return nil }
            pool.done(slot).pointee = false
            return slot
        }
    }

    /// The job in a slot this thread currently owns.
    func job(_ slot: Int) -> UnsafeMutablePointer<Job> { pool.job(slot) }

    /// Marks `slot` processed. If this thread becomes the drainer, `deliver` is called with runs
    /// of consecutive finished slots (first slot, count) in order, until none is left; then
    /// `delivered`, while this thread is still the drainer, so that what `deliver` gathered
    /// (and the slots gave up) leaves before any later slot another drainer would deliver.
    func finish(_ slot: Int, deliver: (Int, Int) -> Void, delivered: () -> Void = {}) {
        let drains = state.withLock { s -> Bool in
            pool.done(slot).pointee = true
            guard !s.draining else { return false }
            s.draining = true
            return true
        }
        guard drains else { return }
        deliverFinished(deliver, delivered)
    }

    /// The drainer's loop: runs of consecutive finished slots, and `delivered` after them, until
    /// none is left.
    private func deliverFinished(_ deliver: (Int, Int) -> Void, _ delivered: () -> Void) {
        var gathered = false
        while true {
            // A run stops at its chunk's end so that its slot indices are consecutive.
            let run = state.withLock { s -> (Int, Int) in
                let head = s.chain.head, room = s.chain.contiguous(pool)
                var n = 0
                while n < room, pool.done(head + n).pointee { n += 1 }
                if n == 0 && !gathered { s.draining = false }
                return (head, n)
            }
            if run.1 == 0 {
                // Slots finished meanwhile found us draining: look again after `delivered`.
                guard gathered else { return }
                gathered = false
                delivered()
                continue
            }
            deliver(run.0, run.1)
            gathered = true
            state.withLock { s in s.chain.removeFirst(run.1, pool) }
        }
    }

    /// Marks `slot` processed without delivering it: a reader that seals several packets marks
    /// each, then drains once, so that they leave in one sendmmsg.
    func markDone(_ slot: Int) {
        state.withLock { _ in pool.done(slot).pointee = true }
    }

    /// Delivers the finished slots at the head, as `finish` does, unless another thread is the
    /// drainer (which then delivers them: it looks again before it stops).
    func drain(deliver: (Int, Int) -> Void, delivered: () -> Void = {}) {
        let drains = state.withLock { s -> Bool in
            guard !s.draining else { return false }
            s.draining = true
            return true
        }
        guard drains else { return }
        deliverFinished(deliver, delivered)
    }

    var depth: Int { state.withLock { $0.chain.count } }

    /// Whether a thread is delivering the head now (it goes on while finished slots follow).
    var isDraining: Bool { state.withLock { $0.draining } }
}

/// The device-wide work the workers take: crypto for a peer's slot, the oldest message in the
/// handshake queue, or an initiation to create.
enum Work: Sendable {
    case encrypt(Peer, slot: Int)
    case decrypt(Peer, slot: Int)
    case handshake
    case initiate(Peer, isRetry: Bool)
}

/// A bounded FIFO that workers sleep on. A full queue refuses (the caller drops), as the
/// kernel's does.
final class WorkQueue<Item: Sendable>: @unchecked Sendable {
    private let items: UnsafeMutablePointer<Item?>
    private let capacity: Int
    private let indices = Mutex((head: 0, count: 0))
    // Counts queued items; workers sleep on it (a futex: no system call while work is queued).
    private let available: UnsafeMutablePointer<sem_t>

    init(capacity: Int) {
        self.capacity = capacity
        items = .allocate(capacity: capacity)
        items.initialize(repeating: nil, count: capacity)
        available = .allocate(capacity: 1)
        sem_init(available, 0, 0)
    }

    deinit {
        items.deinitialize(count: capacity)
        items.deallocate()
        sem_destroy(available)
        available.deallocate()
    }

    /// False when full (the caller drops and counts).
    func push(_ work: Item) -> Bool {
        let pushed = indices.withLock { i -> Bool in
            guard i.count < capacity else { return false }
            items[(i.head + i.count) % capacity] = work
            i.count += 1
            return true
        }
        if pushed { sem_post(available) }
        return pushed
    }

    /// The next item, waiting for one; nil when woken by `wake` with nothing queued.
    func pop() -> Item? {
        while sem_wait(available) != 0 {}
        return indices.withLock { i -> Item? in
            guard i.count > 0 else { return nil }
            let work = items[i.head].take()
            i.head = (i.head + 1) % capacity
            i.count -= 1
            return work
        }
    }

    /// Wakes `count` waiting workers with no work (to let them see a stop).
    func wake(_ count: Int) { for _ in 0..<count { sem_post(available) } }
}
