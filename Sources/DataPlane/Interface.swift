public import Crypto
import CShim
import Glibc
public import Protocol
import Synchronization

/// How an interface runs: which CPUs get a worker, how many packet buffers, the MTU.
public struct InterfaceOptions: Sendable {
    public var cpus: [Int32] = Threads.allowedCPUs()
    public var buffers = 4096
    public var mtu = WireGuard.defaultMTU
    public var log: @Sendable (String) -> Void = { _ in }

    /// Packet buffers always take an MTU this large (Ethernet's), whatever the tunnel's MTU.
    public static let largestCommonMTU = 1500

    public init() {}
}

/// A running WireGuard interface: the protocol Device, its TUN, its UDP sockets, the buffer pool,
/// one pinned worker per CPU, and one timer thread for every peer's timers.
///
/// Packets flow: TUN → route → the peer's transmit queue → any worker encrypts → the drainer
/// sends them in order; UDP → receive queue (data) or handshake queue → workers → TUN in order.
public final class Interface: ControlTarget, @unchecked Sendable {
    public let name: String
    let device: Device
    let pool: BufferPool
    let tun: TunDevice
    let work = WorkQueue<Work>(capacity: 2 * WireGuard.maxQueuedPackets + WireGuard.maxQueuedHandshakes)
    let handshakes: HandshakeQueue
    private let sockets: Mutex<UDPSockets>
    private let applying = Mutex(())
    private let running = Atomic<Bool>(true)
    private let threadsAlive = Atomic<Int>(0)
    /// A pipe that wakes the UDP reader to re-read its sockets (rebind) or to stop.
    private let wakeReader: Int32
    private let wakeWriter: Int32
    let options: InterfaceOptions
    /// The TUN's MTU as last read (the timer thread re-reads it every second): padding follows
    /// the device's MTU, as the kernel's does.
    let mtu: Atomic<Int>
    public let counters = Counters()
    /// Called once if the TUN goes away (`ip link del`): the daemon shuts down.
    private let onGone = Mutex<(@Sendable () -> Void)?>(nil)

    public func onInterfaceGone(_ handler: @escaping @Sendable () -> Void) { onGone.withLock { $0 = handler } }

    /// The sockets in use now; holding the reference keeps them open across a concurrent rebind.
    func currentSockets() -> UDPSockets { sockets.withLock { $0 } }

    public init(name: String, options: InterfaceOptions = InterfaceOptions()) throws(Errno) {
        self.name = name
        self.options = options
        tun = try TunDevice(name: name, mtu: options.mtu)
        // Room for the largest packet either side may use: our MTU can be raised later with
        // `ip link set mtu` (wg-quick does), and a peer's datagrams follow its MTU, not ours;
        // 1500 covers the common ones. A larger datagram is dropped and counted, never cut.
        pool = BufferPool(mtu: max(options.mtu, InterfaceOptions.largestCommonMTU), count: options.buffers)
        handshakes = HandshakeQueue(capacity: options.buffers / 4)
        mtu = Atomic(options.mtu)
        sockets = Mutex(try UDPSockets(port: 0, fwmark: 0))
        device = Device { _ in PeerRuntime() }
        var ends: (Int32, Int32) = (-1, -1)
        _ = try retrying { withUnsafeMutableBytes(of: &ends) { pipe($0.baseAddress!.assumingMemoryBound(to: Int32.self)) } }
        (wakeReader, wakeWriter) = ends
        for fd in [ends.0, ends.1] {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
    }

    deinit {
        close(wakeReader)
        close(wakeWriter)
    }

    private func wakeUDPReader() {
        var byte: UInt8 = 1
        _ = Glibc.write(wakeWriter, &byte, 1)
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
        threadsAlive.wrappingAdd(1, ordering: .relaxed)
        try Threads.spawn(name: name, cpu: cpu) { [self] in
            body()
            threadsAlive.wrappingSubtract(1, ordering: .releasing)
        }
    }

    /// Stops every thread (within about a quarter of a second) and returns when they are gone.
    public func stop() {
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        work.wake(options.cpus.count)
        wakeUDPReader()
        for _ in 0..<200 where threadsAlive.load(ordering: .acquiring) > 0 { usleep(5_000) }
    }

    var isRunning: Bool { running.load(ordering: .relaxed) }

    // MARK: ControlTarget

    public var configuration: DeviceConfig { device.config }

    public var boundListenPort: UInt16 { sockets.withLock { $0.port } }

    public func status(of peer: PublicKey) -> Peer.Status? { device.peer(peer)?.status }

    public func apply(_ config: DeviceConfig) throws(Errno) {
        try applying.withLock { (_: inout Void) throws(Errno) in
            let old = configuration
            let bound = boundListenPort
            // Rebind only for a real change: `wg setconf` echoes back the port we hold.
            if config.listenPort != old.listenPort && config.listenPort != bound {
                let fresh = try UDPSockets(port: config.listenPort, fwmark: config.fwmark)
                sockets.withLock { $0 = fresh }
                wakeUDPReader()
            } else if config.fwmark != old.fwmark {
                try sockets.withLock { (s: inout UDPSockets) throws(Errno) in try s.setFirewallMark(config.fwmark) }
            }
            for peer in device.apply(config, now: Clock.now()) { sendKeepalive(to: peer) }
        }
    }

    // MARK: transmit

    private func tunLoop() {
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: pool.bufferSize, alignment: 64)
        defer { scratch.deallocate() }
        while isRunning {
            guard var buffer = pool.take() else {
                // No buffer: read the packet anyway, to drop it, rather than stall the TUN.
                if (try? tun.read(into: scratch, waitingAtMost: 100)) != nil { counters.count(.noBuffer) }
                continue
            }
            let room = UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[BufferPool.headroom..<pool.bufferSize - 32])
            let length: Int
            do throws(Errno) {
                guard let n = try tun.read(into: room, waitingAtMost: 100) else { continue }
                length = n
            } catch {
                if error.code == EINTR || error.code == EAGAIN { continue }
                options.log("tun \(name): \(error); the interface is gone")
                interfaceGone()
                return
            }
            buffer.start = BufferPool.headroom
            buffer.length = length
            guard let peer = device.route(UnsafeRawBufferPointer(buffer.packet)) else {
                counters.count(.noRoute)
                continue
            }
            transmit(buffer, to: peer, now: Clock.now())
        }
    }

    private func interfaceGone() {
        let callback = onGone.withLock { handler -> (@Sendable () -> Void)? in
            defer { handler = nil }
            return handler
        }
        callback?()
    }

    /// Sends an IP packet (or, with length 0, a keepalive) to `peer`: encrypted if a session
    /// exists, else staged while a handshake is requested.
    func transmit(_ buffer: consuming PacketBuffer, to peer: Peer, now: Instant) {
        let runtime = peer.runtime
        // Packets already waiting go first, so that order holds.
        if runtime.stagedCount > 0 {
            runtime.stage(buffer)
            sendStaged(peer, now: now)
            return
        }
        guard let (keypair, counter) = peer.reserveNonce(now: now) else {
            runtime.stage(buffer)
            requestHandshake(peer, isRetry: false)
            return
        }
        enqueueTransmit(buffer, peer: peer, keypair: keypair, counter: counter)
    }

    /// Moves staged packets into the transmit queue while a session lasts.
    func sendStaged(_ peer: Peer, now: Instant) {
        let runtime = peer.runtime
        while runtime.stagedCount > 0 {
            guard let (keypair, counter) = peer.reserveNonce(now: now) else {
                requestHandshake(peer, isRetry: false)
                return
            }
            guard let buffer = runtime.unstage() else { return }
            enqueueTransmit(buffer, peer: peer, keypair: keypair, counter: counter)
        }
    }

    private func enqueueTransmit(_ buffer: consuming PacketBuffer, peer: Peer, keypair: Keypair, counter: UInt64) {
        let queue = peer.runtime.transmit
        guard let slot = queue.reserve() else {
            counters.count(.queueFull)
            return
        }
        let padded = Padding.paddedLength(buffer.length, mtu: mtu.load(ordering: .relaxed))
        let bytes = buffer.bytes
        let end = BufferPool.headroom + buffer.length
        if padded > buffer.length { UnsafeMutableRawBufferPointer(rebasing: bytes[end..<BufferPool.headroom + padded]).initializeMemory(as: UInt8.self, repeating: 0) }
        let job = queue.job(slot)
        job.pointee.isKeepalive = buffer.length == 0
        job.pointee.length = padded
        job.pointee.buffer = consume buffer
        job.pointee.keypair = keypair
        job.pointee.counter = counter
        job.pointee.authenticated = false
        submit(.encrypt(peer, slot: slot), slot: slot, of: queue)
    }

    /// Hands a filled slot to the workers. With the work queue full the packet is dropped, and
    /// its slot finished empty; if that makes this thread the drainer, the finished packets
    /// around it are delivered properly (one datagram at a time: this thread has no batch).
    private func submit(_ item: Work, slot: Int, of queue: OrderedQueue) {
        guard !work.push(item) else { return }
        counters.count(.queueFull)
        queue.job(slot).pointee.buffer = nil
        queue.job(slot).pointee.keypair = nil
        switch item {
        case .encrypt(let peer, _):
            withUnsafeTemporaryAllocation(of: wgd_datagram.self, capacity: 1) { scratch in
                queue.finish(slot) { first, count in deliverTransmit(peer, first, count, scratch.baseAddress!, 1) }
            }
        case .decrypt(let peer, _):
            queue.finish(slot) { first, count in deliverReceive(peer, first, count) }
        case .handshake, .initiate:
            break
        }
    }

    func sendKeepalive(to peer: Peer) {
        guard var buffer = pool.take() else { counters.count(.noBuffer); return }
        buffer.start = BufferPool.headroom
        buffer.length = 0
        transmit(buffer, to: peer, now: Clock.now())
    }

    /// Asks a worker for an initiation to `peer`, unless one is already asked for.
    func requestHandshake(_ peer: Peer, isRetry: Bool) {
        guard peer.runtime.claimInitiation() else { return }
        if !work.push(.initiate(peer, isRetry: isRetry)) { peer.runtime.releaseInitiation() }
    }

    // MARK: receive

    private func udpLoop() {
        let batch = 32
        let buffers = UnsafeMutablePointer<PacketBuffer?>.allocate(capacity: batch)
        for i in 0..<batch { (buffers + i).initialize(to: nil) }
        let datagrams = UnsafeMutablePointer<wgd_datagram>.allocate(capacity: batch)
        defer {
            buffers.deinitialize(count: batch); buffers.deallocate()
            datagrams.deallocate()
        }
        while isRunning {
            let current = sockets.withLock { $0 }
            var fds = (pollfd(fd: current.v4.rawValue, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: current.v6, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: wakeReader, events: Int16(POLLIN), revents: 0))
            let ready = withUnsafeMutableBytes(of: &fds) { poll($0.baseAddress!.assumingMemoryBound(to: pollfd.self), 3, 250) }
            guard ready > 0 else { continue }
            if fds.2.revents != 0 {
                var drain = (UInt64(0), UInt64(0))
                _ = withUnsafeMutableBytes(of: &drain) { Glibc.read(wakeReader, $0.baseAddress, $0.count) }
                continue
            }
            if fds.0.revents & Int16(POLLIN) != 0 { receiveBatch(fds.0.fd, buffers: buffers, datagrams: datagrams, count: batch) }
            if fds.1.revents & Int16(POLLIN) != 0 { receiveBatch(fds.1.fd, buffers: buffers, datagrams: datagrams, count: batch) }
        }
    }

    private func receiveBatch(_ fd: Int32, buffers: UnsafeMutablePointer<PacketBuffer?>, datagrams: UnsafeMutablePointer<wgd_datagram>, count: Int) {
        var filled = 0
        while filled < count {
            if buffers[filled] == nil, let fresh = pool.take() { buffers[filled] = consume fresh }
            guard let base = buffers[filled]?.bytes.baseAddress else { break }
            datagrams[filled] = wgd_datagram()
            datagrams[filled].data = base
            datagrams[filled].capacity = UInt32(pool.bufferSize)
            filled += 1
        }
        guard filled > 0 else {
            // Out of buffers: take one datagram into nowhere so that the socket does not spin.
            var sink = (UInt64(0), UInt64(0))
            _ = withUnsafeMutableBytes(of: &sink) { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            counters.count(.noBuffer)
            return
        }
        let received = wgd_udp_receive(fd, datagrams, UInt32(filled))
        guard received > 0 else { return }
        let now = Clock.now()
        for i in 0..<Int(received) {
            var d = datagrams[i]
            guard d.length > 0, var buffer = buffers[i].take() as PacketBuffer?,
                  let source = withUnsafeBytes(of: &d.remote, { Endpoint(sockaddr: $0.baseAddress!, length: Int(d.remote_length)) }) else {
                counters.count(.malformed)
                continue
            }
            buffer.start = 0
            buffer.length = Int(d.length)
            var local = LocalAddress(family: d.local_family, bytes: (0, 0), interfaceIndex: d.local_ifindex)
            withUnsafeBytes(of: &d.local) { src in withUnsafeMutableBytes(of: &local.bytes) { $0.copyMemory(from: src) } }
            dispatch(buffer, source: source, local: local, now: now)
        }
    }

    private func dispatch(_ buffer: consuming PacketBuffer, source: Endpoint, local: LocalAddress, now: Instant) {
        let packet = UnsafeRawBufferPointer(buffer.packet)
        switch Messages.classify(packet) {
        case .data?:
            guard let (keypair, peer) = device.keypair(for: packet, now: now) else { counters.count(.unknownSession); return }
            let queue = peer.runtime.receive
            guard let slot = queue.reserve() else { counters.count(.queueFull); return }
            let job = queue.job(slot)
            job.pointee.buffer = consume buffer
            job.pointee.keypair = keypair
            job.pointee.source = source
            job.pointee.local = local
            job.pointee.authenticated = false
            submit(.decrypt(peer, slot: slot), slot: slot, of: queue)
        case .initiation?, .response?, .cookieReply?:
            guard handshakes.push(buffer, source: source, local: local) else {
                counters.count(.queueFull)
                return
            }
            // An entry without a work item would hold its buffer until some later handshake came:
            // take one back out (a work item left without an entry is a no-op for its worker).
            if !work.push(.handshake) {
                handshakes.dropNewest()
                counters.count(.queueFull)
            }
        case nil:
            counters.count(.malformed)
        }
    }

    // MARK: workers

    private func workerLoop() {
        var context = WorkerContext()
        while isRunning {
            guard let item = work.pop() else { continue }
            switch item {
            case .encrypt(let peer, let slot): encrypt(peer, slot, &context)
            case .decrypt(let peer, let slot): decrypt(peer, slot, &context)
            case .handshake: handshake(&context)
            case .initiate(let peer, let isRetry): initiate(peer, isRetry: isRetry, &context)
            }
        }
    }

    /// Closes the UDP sockets now, as the kernel does while it deletes the link, so that another
    /// daemon can bind the port at once. Returns once they are closed: the UDP reader is woken to
    /// let go of them, and a worker holds them for one send at most (past 100 ms, the last thread
    /// to let go closes them). From here on, sends fail and are counted; an apply already running
    /// finishes first, and a later one that changes the port would bind again.
    public func releaseSockets() {
        var old = applying.withLock { _ in
            sockets.withLock { current in
                let old = current
                current = UDPSockets.none()
                return old
            }
        }
        wakeUDPReader()
        for _ in 0..<100 where !isKnownUniquelyReferenced(&old) { usleep(1_000) }
    }
}
