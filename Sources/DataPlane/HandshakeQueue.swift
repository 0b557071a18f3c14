import Protocol
import Synchronization

/// Handshake messages waiting for a worker (the kernel's handshake queue, 4096 deep at most).
/// Its depth decides "under load": at 1/8 full the device starts asking for cookies, and stays so
/// for a second after it was last that full. Each entry holds a packet buffer, so the interface
/// sizes it to a quarter of its pool: a flood of handshakes must not starve the data packets.
final class HandshakeQueue: @unchecked Sendable {
    struct Entry: ~Copyable {
        var buffer: PacketBuffer?
        var source: Endpoint?
        var local = LocalAddress.none
        /// Set when popped: whether the device was under load then.
        var underLoad = false
        /// The message in `buffer` (valid while the entry owns it).
        private(set) var packet: UnsafeMutableRawBufferPointer?

        init() {}

        init(buffer: consuming PacketBuffer, source: Endpoint, local: LocalAddress) {
            packet = buffer.packet
            self.buffer = consume buffer
            self.source = source
            self.local = local
        }
    }

    let capacity: Int
    private let entries: UnsafeMutablePointer<Entry>
    private let state = Mutex((head: 0, count: 0, lastUnderLoad: Instant?.none))

    init(capacity: Int = WireGuard.maxQueuedHandshakes) {
        self.capacity = max(8, min(capacity, WireGuard.maxQueuedHandshakes))
        entries = .allocate(capacity: self.capacity)
        for i in 0..<self.capacity { (entries + i).initialize(to: Entry()) }
    }

    deinit {
        entries.deinitialize(count: capacity)
        entries.deallocate()
    }

    /// Queues a message; false (and the buffer is dropped) when full.
    func push(_ buffer: consuming PacketBuffer, source: Endpoint, local: LocalAddress) -> Bool {
        // Moved in under the lock: a worker must never see the slot counted before it is filled.
        var entry: Entry? = Entry(buffer: buffer, source: source, local: local)
        return state.withLock { s -> Bool in
            guard s.count < capacity else { return false }
            entries[(s.head + s.count) % capacity] = entry.take()!
            s.count += 1
            return true
        }
    }

    /// Drops the most recently queued message (its buffer returns to the pool).
    func dropNewest() {
        state.withLock { s in
            guard s.count > 0 else { return }
            s.count -= 1
            entries[(s.head + s.count) % capacity] = Entry()
        }
    }

    /// The oldest message, with whether the device is under load right now.
    func pop(now: Instant) -> Entry? {
        var entry: Entry?
        state.withLock { s in
            guard s.count > 0 else { return }
            if s.count >= capacity / 8 { s.lastUnderLoad = now }
            var taken = Entry()
            swap(&taken, &entries[s.head])
            taken.underLoad = s.lastUnderLoad.map { !$0.hasExpired(WireGuard.underLoadAfterTime, now: now) } ?? false
            entry = consume taken
            s.head = (s.head + 1) % capacity
            s.count -= 1
        }
        return entry
    }
}
