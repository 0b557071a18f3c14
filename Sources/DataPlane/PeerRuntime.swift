import Protocol
import Synchronization

/// A peer of an interface: the protocol's state with the data plane's beside it, typed.
typealias Peer = Protocol.Peer<PeerRuntime>

/// What the data plane keeps per peer, beside the protocol state: the ordered queues in both
/// directions, packets staged while there is no session, and the sticky source address.
final class PeerRuntime: @unchecked Sendable {
    // The staged ring is guarded by `staged`'s lock; the queues guard themselves.
    let transmit = OrderedQueue()
    let receive = OrderedQueue()
    private let stagedPackets: UnsafeMutablePointer<PacketBuffer?>
    private let staged = Mutex((head: 0, count: 0))
    private let source = Mutex(LocalAddress.none)
    /// An initiation is queued for a worker: further requests add nothing until it is made.
    private let initiationQueued = Atomic<Bool>(false)
    static let stagedCapacity = WireGuard.maxStagedPackets

    init() {
        stagedPackets = .allocate(capacity: Self.stagedCapacity)
        for i in 0..<Self.stagedCapacity { (stagedPackets + i).initialize(to: nil) }
    }

    deinit {
        stagedPackets.deinitialize(count: Self.stagedCapacity)
        stagedPackets.deallocate()
    }

    /// Keeps a packet until a session exists; the oldest goes when 128 are waiting.
    func stage(_ buffer: consuming PacketBuffer) {
        var slot: PacketBuffer? = consume buffer
        staged.withLock { s in
            if s.count == Self.stagedCapacity {
                stagedPackets[s.head] = nil
                s.head = (s.head + 1) % Self.stagedCapacity
                s.count -= 1
            }
            stagedPackets[(s.head + s.count) % Self.stagedCapacity] = slot.take()
            s.count += 1
        }
    }

    /// The oldest staged packet, if any.
    func unstage() -> PacketBuffer? {
        staged.withLock { s -> PacketBuffer? in
            guard s.count > 0 else { return nil }
            let buffer = stagedPackets[s.head].take()
            s.head = (s.head + 1) % Self.stagedCapacity
            s.count -= 1
            return buffer
        }
    }

    var stagedCount: Int { staged.withLock { $0.count } }

    func purgeStaged() { while unstage() != nil {} }

    func claimInitiation() -> Bool {
        !initiationQueued.exchange(true, ordering: .acquiringAndReleasing)
    }

    func releaseInitiation() { initiationQueued.store(false, ordering: .releasing) }

    var stickySource: LocalAddress {
        get { source.withLock { $0 } }
        set { source.withLock { $0 = newValue } }
    }
}
