import Protocol
import Synchronization

/// Handshake messages waiting for a worker (the kernel's handshake queue, 4096 deep). Its depth
/// decides "under load": at 1/8 full the device starts asking for cookies, and stays so for a
/// second after it was last that full.
final class HandshakeQueue: @unchecked Sendable {
    struct Entry: ~Copyable {
        var buffer: PacketBuffer?
        var source: Endpoint?
        var local = LocalAddress.none
        /// Set when popped: whether the device was under load then.
        var underLoad = false
    }

    static let capacity = WireGuard.maxQueuedHandshakes
    private let entries: UnsafeMutablePointer<Entry>
    private let state = Mutex((head: 0, count: 0, lastUnderLoad: Instant?.none))

    init() {
        entries = .allocate(capacity: Self.capacity)
        for i in 0..<Self.capacity { (entries + i).initialize(to: Entry()) }
    }

    deinit {
        entries.deinitialize(count: Self.capacity)
        entries.deallocate()
    }

    /// Queues a message; false (and the buffer is dropped) when full.
    func push(_ buffer: consuming PacketBuffer, source: Endpoint, local: LocalAddress) -> Bool {
        guard let slot = state.withLock({ s -> Int? in
            guard s.count < Self.capacity else { return nil }
            defer { s.count += 1 }
            return (s.head + s.count) % Self.capacity
        }) else { return false }
        // The slot is ours until a worker pops it, which cannot happen before the work item exists.
        entries[slot] = Entry(buffer: buffer, source: source, local: local)
        return true
    }

    /// The oldest message, with whether the device is under load right now.
    func pop(now: Instant) -> Entry? {
        guard let (slot, underLoad) = state.withLock({ s -> (Int, Bool)? in
            guard s.count > 0 else { return nil }
            if s.count >= Self.capacity / 8 { s.lastUnderLoad = now }
            let underLoad = s.lastUnderLoad.map { !$0.hasExpired(WireGuard.underLoadAfterTime, now: now) } ?? false
            let slot = s.head
            s.head = (s.head + 1) % Self.capacity
            s.count -= 1
            return (slot, underLoad)
        }) else { return nil }
        var entry = Entry()
        swap(&entry, &entries[slot])
        entry.underLoad = underLoad
        return entry
    }
}
