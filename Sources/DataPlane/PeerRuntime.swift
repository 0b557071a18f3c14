import Protocol
import Synchronization

/// A peer of an interface: the protocol's state with the data plane's beside it, typed.
typealias Peer = Protocol.Peer<PeerRuntime>

/// What the data plane keeps per peer, beside the protocol state: the ordered queues in both
/// directions, packets staged while there is no session, and the sticky source address.
/// All three queues take their slots from the interface's `JobPool`: an idle peer costs a few
/// hundred bytes, whatever the bounds.
final class PeerRuntime: @unchecked Sendable {
    // The staged chain is guarded by `staged`'s lock; the queues guard themselves.
    let transmit: OrderedQueue
    let receive: OrderedQueue
    private let pool: JobPool
    private let staged = Mutex(ChunkChain())
    private let source = Mutex(LocalAddress.none)
    /// An initiation is queued for a worker: further requests add nothing until it is made.
    private let initiationQueued = Atomic<Bool>(false)
    static let stagedCapacity = WireGuard.maxStagedPackets

    init(pool: JobPool) {
        self.pool = pool
        transmit = OrderedQueue(pool: pool)
        receive = OrderedQueue(pool: pool)
    }

    deinit { purgeStaged() }

    /// What staging a packet did: one packet is dropped (and the caller counts it) when 128 were
    /// waiting (the oldest, as the kernel does) or when the pool had no slot (the new one).
    enum Staged: Equatable {
        case kept
        case keptDroppingOldest
        case dropped

        var droppedOne: Bool { self != .kept }
    }

    /// Keeps a packet until a session exists.
    @discardableResult
    func stage(_ buffer: consuming PacketBuffer) -> Staged {
        var held: PacketBuffer? = consume buffer
        return staged.withLock { chain -> Staged in
            let full = chain.count == Self.stagedCapacity
            if full { _ = Self.removeOldest(&chain, pool) }
            guard let slot = chain.append(pool) else { return .dropped }
            pool.job(slot).pointee.buffer = held.take()
            return full ? .keptDroppingOldest : .kept
        }
    }

    /// The oldest staged packet, if any.
    func unstage() -> PacketBuffer? {
        staged.withLock { chain in Self.removeOldest(&chain, pool) }
    }

    private static func removeOldest(_ chain: inout ChunkChain, _ pool: JobPool) -> PacketBuffer? {
        guard chain.count > 0 else { return nil }
        let buffer = pool.job(chain.head).pointee.buffer.take()
        chain.removeFirst(1, pool)
        return buffer
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
