public import Crypto
public import Protocol
public import System
import Glibc
import Synchronization

/// How an interface runs: which CPUs get a worker, how many packet buffers, the MTU.
public struct InterfaceOptions: Sendable {
    public var cpus: [Int32] = Threads.allowedCPUs()
    /// Everyday buffers, with room for MTU 1500: reserved at start, locked as they are first used.
    public var buffers = 4096
    /// Buffers for packets up to 64 KiB (MTUs above 1500), reserved at start but resident only
    /// once used.
    public var largeBuffers = 256
    public var mtu = WireGuard.defaultMTU
    /// Data packets are encrypted and decrypted by the thread that read them (the tunnel's reader,
    /// the UDP receiver), not handed to the workers. A hand-off costs a wake-up of another thread,
    /// often on the other CPU, and that costs more than the AEAD of a packet: handed off, each
    /// stage tends to run as soon as one packet is there (under autogroup scheduling, a daemon
    /// in a session of its own, always), and CPU per byte triples. The workers still do every
    /// handshake, and the packets that other threads send (keepalives, staged packets).
    /// False hands every data packet to the workers (the kernel's model), for CPUs whose AEAD
    /// is slow next to a system call.
    public var inlineCrypto = true
    /// The device-wide work queue's bound (the kernel's crypt queues hold 1,024 each); small
    /// values let tests overflow it.
    var workQueueCapacity = 2 * WireGuard.maxQueuedPackets + WireGuard.maxQueuedHandshakes
    /// Chunks of job slots shared by all peers' queues; nil sizes them from the buffers. Small
    /// values let tests run the pool dry.
    var jobChunks: Int?
    public var log: @Sendable (String) -> Void = { _ in }

    /// Everyday buffers take an MTU this large (Ethernet's), whatever the tunnel's MTU.
    public static let largestCommonMTU = 1500
    /// A large buffer holds any UDP datagram, and any packet a TUN device can carry.
    public static let largestMTU = 65535

    public init() {}
}

/// A running WireGuard interface (the kernel's device.c): the protocol Device, its tunnel, its
/// UDP sockets, the buffer pools, one pinned worker per CPU, and one timer thread for every
/// peer's timers. The tunnel and the sockets come through `Tunnel` and `Bind`, so that tests
/// run whole interfaces in-process.
///
/// Packets flow: tunnel → route → the peer's transmit queue → the reader (or a worker) encrypts →
/// the drainer sends them in order (Send.swift); UDP → receive queue (data), decrypted by the
/// receiver (or a worker), or handshake queue → workers → tunnel in order (Receive.swift).
public final class Interface: ControlTarget, @unchecked Sendable {
    public let name: String
    let device: Device<PeerRuntime>
    let pool: BufferPool
    /// The bounded second class, for packets the everyday buffers cannot hold.
    let largePool: BufferPool
    let tun: any Tunnel
    let bind: any Bind
    let work: WorkQueue<Work>
    /// Every peer's queue slots, shared: per-peer bounds are limits on it, not allocations.
    let jobs: JobPool
    let handshakes: HandshakeQueue
    private let sockets: Mutex<(any BoundSockets)?>
    private let applying = Mutex(())
    private let running = Atomic<Bool>(true)
    /// Set by `releaseSockets`: the interface is going away and takes no configuration.
    private let released = Atomic<Bool>(false)
    private let threads = ThreadGroup()
    let options: InterfaceOptions
    /// The tunnel's MTU as last read (the timer thread re-reads it every second): padding and
    /// the choice of buffer follow the device's MTU, as the kernel's do.
    let mtu: Atomic<Int>
    /// Whether the last read of the MTU worked: it fails once the interface was moved to another
    /// network namespace (wireguard-go's netns.sh does so), and then only large buffers are safe.
    let mtuKnown = Atomic<Bool>(true)
    /// When a datagram last came in too large for an everyday buffer (ns of `Clock.now`; 0: never).
    let lastTruncation = Atomic<UInt64>(0)
    /// When the tunnel last handed us a packet larger than the buffer it was read into.
    let lastTunnelTruncation = Atomic<UInt64>(0)
    public let counters = Counters()
    /// Called once if the tunnel goes away (`ip link del`): the daemon shuts down.
    private let onGone = Mutex<(@Sendable () -> Void)?>(nil)

    public func onInterfaceGone(_ handler: @escaping @Sendable () -> Void) { onGone.withLock { $0 = handler } }

    /// The sockets in use now (nil once released); holding the reference keeps them open across
    /// a concurrent rebind.
    func currentSockets() -> (any BoundSockets)? { sockets.withLock { $0 } }

    /// A real interface: creates (or attaches to) the TUN device `name` and binds a random port.
    public convenience init(name: String, options: InterfaceOptions = InterfaceOptions()) throws(Errno) {
        try self.init(tunnel: TunDevice(name: name, mtu: options.mtu), bind: UDPBind(), options: options)
    }

    public init(tunnel: any Tunnel, bind: any Bind, options: InterfaceOptions = InterfaceOptions()) throws(Errno) {
        name = tunnel.name
        self.options = options
        tun = tunnel
        self.bind = bind
        // Room for the largest packet either side commonly uses: our MTU can be raised later with
        // `ip link set mtu` (wg-quick does), and a peer's datagrams follow its MTU, not ours.
        pool = BufferPool(mtu: max(options.mtu, InterfaceOptions.largestCommonMTU), count: options.buffers)
        largePool = BufferPool(mtu: InterfaceOptions.largestMTU, count: options.largeBuffers, locked: false)
        handshakes = HandshakeQueue(capacity: options.buffers / 4)
        work = WorkQueue(capacity: options.workQueueCapacity)
        mtu = Atomic((try? tunnel.currentMTU()) ?? options.mtu)
        sockets = Mutex(try bind.open(port: 0, fwmark: 0))
        let jobs = JobPool(chunks: options.jobChunks ?? JobPool.chunks(forBuffers: options.buffers + options.largeBuffers))
        self.jobs = jobs
        device = Device { _ in PeerRuntime(pool: jobs) }
    }

    public func start() throws(Errno) {
        for (i, cpu) in options.cpus.enumerated() {
            try spawn("wgd-crypt-\(i)", cpu: cpu) { [self] in workerLoop() }
        }
        try spawn("wgd-tun") { [self] in tunLoop() }
        try spawn("wgd-udp") { [self] in udpLoop() }
        try spawn("wgd-timers") { [self] in timerLoop() }
    }

    private func spawn(_ name: String, cpu: Int32? = nil, _ body: @escaping @Sendable () -> Void) throws(Errno) {
        _ = threads.enter()
        do {
            try Threads.spawn(name: name, cpu: cpu) { [self] in
                body()
                threads.leave()
            }
        } catch {
            threads.leave()
            throw error
        }
    }

    /// Releases the UDP port first (the kernel does it synchronously when the interface goes),
    /// then stops every thread and returns when they are gone (within about a quarter second).
    public func stop() {
        releaseSockets()
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        work.wake(options.cpus.count)
        threads.wait()
    }

    /// Closes the UDP sockets at once, so that the port is free for another daemon before this
    /// one has finished shutting down. Nothing is sent or received after this.
    /// An apply in progress finishes first; a later one changes nothing (ENODEV), so a port
    /// change cannot bind again behind a teardown.
    public func releaseSockets() {
        let old = applying.withLock { _ in
            released.store(true, ordering: .releasing)
            return sockets.withLock { current -> (any BoundSockets)? in
                defer { current = nil }
                return current
            }
        }
        old?.close()
    }

    var isRunning: Bool { running.load(ordering: .relaxed) }

    func interfaceGone() {
        let callback = onGone.withLock { handler -> (@Sendable () -> Void)? in
            defer { handler = nil }
            return handler
        }
        callback?()
    }

    /// A buffer for what the tunnel hands us next: an everyday one unless the MTU needs more, is
    /// unknown, or a packet lately came larger than it said.
    func takeTunnelBuffer() -> PacketBuffer? {
        let large = mtu.load(ordering: .relaxed) > pool.packetRoom || !mtuKnown.load(ordering: .relaxed)
            || Self.isRecent(lastTunnelTruncation)
        return large ? largePool.take() : pool.take()
    }

    /// Whether `event` happened within the hold time. The clock is read only when it happened at
    /// all, so the everyday path (no truncation ever) costs one atomic load per packet.
    private static func isRecent(_ event: borrowing Atomic<UInt64>, now: Instant? = nil) -> Bool {
        let at = event.load(ordering: .relaxed)
        return at != 0 && (now ?? Clock.now()).nanoseconds &- at < largeDatagramHold
    }

    /// The buffer size for the next datagrams: large while the MTU is large or a datagram lately
    /// came in too large (a peer's MTU may exceed ours), else everyday.
    func datagramBufferSize(now: Instant) -> Int {
        let large = Self.isRecent(lastTruncation, now: now) || mtu.load(ordering: .relaxed) > pool.packetRoom
        return large ? largePool.bufferSize : pool.bufferSize
    }

    /// A buffer of that size; an everyday one when the large class is used up.
    func takeBuffer(size: Int) -> PacketBuffer? {
        size == largePool.bufferSize ? largePool.take() ?? pool.take() : pool.take()
    }

    /// How long one oversized packet keeps its path on large buffers: 10 s.
    static let largeDatagramHold: UInt64 = 10_000_000_000

    // MARK: ControlTarget

    public var configuration: DeviceConfig { device.config }

    public var boundListenPort: UInt16 { currentSockets()?.port ?? 0 }

    public func status(of peer: PublicKey) -> PeerStatus? { device.peer(peer)?.status }

    public func withStatus<Result>(_ body: (_ status: (PublicKey) -> PeerStatus?) -> Result) -> Result {
        body { device.peer($0)?.status }
    }

    public func apply(_ config: DeviceConfig, change: ConfigChange) throws(Errno) -> Commitment {
        try apply(config)
        return .immediate
    }

    public func apply(_ config: DeviceConfig) throws(Errno) {
        try applying.withLock { (_: inout Void) throws(Errno) in
            guard !released.load(ordering: .acquiring) else { throw Errno(ENODEV) }
            // The supervisor refuses such a change before it comes here; this guards the data
            // plane's own memory whoever sends it.
            if let violation = ConfigBounds.violation(of: config) {
                options.log("configuration refused: \(violation)")
                throw Errno(ENOSPC)
            }
            let old = configuration
            let bound = boundListenPort
            // Rebind only for a real change: `wg setconf` echoes back the port we hold.
            if config.listenPort != old.listenPort && config.listenPort != bound {
                try rebind(port: config.listenPort, fwmark: config.fwmark)
            } else if config.fwmark != old.fwmark {
                try currentSockets()?.setFirewallMark(config.fwmark)
                // Marked packets may take other routes: cached sources are stale (the kernel's
                // set_fwmark clears them all too).
                for peer in device.orderedPeers { peer.runtime.stickySource = .none }
            }
            follow(device.apply(config, now: Clock.now()))
        }
    }

    /// A handshake with every peer that has an endpoint (a keepalive, staged until a session
    /// exists): a data plane restarted after a crash lost the sessions its peers still hold, and
    /// they would send into them until their own timers gave up (15 s and more).
    public func greetPeers() {
        for peer in device.orderedPeers where peer.sendingEndpoint != nil { sendKeepalive(to: peer) }
    }

    /// What a configuration change asks of the data plane, as the kernel's set_peer does it.
    private func follow(_ changes: Device<PeerRuntime>.AppliedChanges) {
        for peer in changes.removed { peer.runtime.purgeStaged() }
        let now = Clock.now()
        for peer in changes.endpointSet {
            // The source belonged to the path the peer had roamed to; and what waits for the
            // peer gets a try at the new endpoint (starting a handshake if need be).
            peer.runtime.stickySource = .none
            if peer.runtime.stagedCount > 0 { sendStaged(peer, now: now) }
        }
        for peer in changes.keepaliveNow { sendKeepalive(to: peer) }
    }

    /// New sockets on `port`, then the old ones closed. Cached sources belong to the old
    /// sockets: every peer forgets its own (the kernel's set_port does the same).
    private func rebind(port: UInt16, fwmark: UInt32) throws(Errno) {
        let fresh = try bind.open(port: port, fwmark: fwmark)
        let old = sockets.withLock { current -> (any BoundSockets)? in
            defer { current = fresh }
            return current
        }
        old?.close()
        for peer in device.orderedPeers { peer.runtime.stickySource = .none }
    }
}
