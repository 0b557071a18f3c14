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
final class OrderedQueue: @unchecked Sendable {
    // Slots are touched by one thread at a time: the producer until it publishes, a worker until
    // it marks the slot done, the drainer until it hands the slot back. The lock guards the indices.
    static let capacity = WireGuard.maxQueuedPackets
    private let jobs: UnsafeMutablePointer<Job>
    private let done: UnsafeMutablePointer<Bool>
    private let state = Mutex(Indices())

    private struct Indices {
        var head = 0
        var count = 0
        var draining = false
    }

    init() {
        jobs = .allocate(capacity: Self.capacity)
        for i in 0..<Self.capacity { (jobs + i).initialize(to: Job()) }
        done = .allocate(capacity: Self.capacity)
        done.initialize(repeating: false, count: Self.capacity)
    }

    deinit {
        jobs.deinitialize(count: Self.capacity)
        jobs.deallocate()
        done.deallocate()
    }

    /// Reserves the next slot in order, or nil when the queue is full (the packet is dropped).
    func reserve() -> Int? {
        state.withLock { s -> Int? in
            guard s.count < Self.capacity else { return nil }
            let slot = (s.head + s.count) % Self.capacity
            s.count += 1
            done[slot] = false
            return slot
        }
    }

    /// The job in a slot this thread currently owns.
    func job(_ slot: Int) -> UnsafeMutablePointer<Job> { jobs + slot }

    /// Marks `slot` processed. If this thread becomes the drainer, `deliver` is called with runs
    /// of consecutive finished slots (first slot, count) in order, until none is left.
    func finish(_ slot: Int, deliver: (Int, Int) -> Void) {
        let drains = state.withLock { s -> Bool in
            done[slot] = true
            guard !s.draining else { return false }
            s.draining = true
            return true
        }
        guard drains else { return }
        while true {
            // A run stops at the ring's end so that the slots are contiguous in memory.
            let run = state.withLock { s -> (Int, Int) in
                var n = 0
                while n < s.count, s.head + n < Self.capacity, done[s.head + n] { n += 1 }
                if n == 0 { s.draining = false }
                return (s.head, n)
            }
            guard run.1 > 0 else { return }
            deliver(run.0, run.1)
            state.withLock { s in
                s.head = (s.head + run.1) % Self.capacity
                s.count -= run.1
            }
        }
    }

    var depth: Int { state.withLock { $0.count } }
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
