import DataPlane
import Glibc
import Protocol
import Synchronization
import System

/// A semaphore with a bounded wait, for the in-memory devices' blocking reads.
final class Signal: @unchecked Sendable {
    private let semaphore = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    init() { sem_init(semaphore, 0, 0) }
    deinit { sem_destroy(semaphore); semaphore.deallocate() }
    func post() { sem_post(semaphore) }

    /// True if posted within `milliseconds`.
    func wait(milliseconds: Int32) -> Bool {
        var deadline = timespec()
        clock_gettime(CLOCK_REALTIME, &deadline)
        let total = Int(deadline.tv_nsec) + Int(milliseconds) * 1_000_000
        deadline.tv_sec += total / 1_000_000_000
        deadline.tv_nsec = total % 1_000_000_000
        while sem_timedwait(semaphore, &deadline) != 0 {
            if errno != EINTR { return false }
        }
        return true
    }
}

/// A tunnel device in memory: the test injects what the system would route into the tunnel,
/// and collects what the interface delivers out of it.
final class MemoryTunnel: Tunnel, @unchecked Sendable {
    let name: String
    private let inbound = Mutex<[[UInt8]]>([])
    private let inboundSignal = Signal()
    private let outbound = Mutex<[[UInt8]]>([])
    private let outboundSignal = Signal()
    let mtu: Atomic<Int>
    let gone = Atomic<Bool>(false)
    /// The MTU cannot be read (the interface moved to another namespace).
    let mtuUnreadable = Atomic<Bool>(false)
    /// Packets carry virtio headers, as a real TunDevice's do.
    let offloads: Bool
    /// It takes UDP super-packets too (a kernel with USO).
    let udpOffload: Bool
    /// The virtio headers of what was delivered (offloads only).
    let deliveredHeaders = Mutex<[[UInt8]]>([])

    init(name: String, mtu: Int = 1420, offloads: Bool = false, udpOffload: Bool = false) {
        self.name = name
        self.mtu = Atomic(mtu)
        self.offloads = offloads
        self.udpOffload = udpOffload
    }

    /// A packet "from the system", to be sent through the tunnel (behind a zero virtio header
    /// when offloading: a plain packet, checksums complete).
    func inject(_ packet: [UInt8]) {
        inbound.withLock { $0.append(offloads ? [UInt8](repeating: 0, count: VirtioHeader.length) + packet : packet) }
        inboundSignal.post()
    }

    /// Packets that are all waiting before the reader sees the first (a busy tunnel's queue).
    func inject(all packets: [[UInt8]]) {
        let prefix = offloads ? [UInt8](repeating: 0, count: VirtioHeader.length) : []
        // Posted under the lock: a reader woken by the first post waits here for the rest.
        inbound.withLock { queue in
            for packet in packets { queue.append(prefix + packet) }
            for _ in packets { inboundSignal.post() }
        }
    }

    /// A packet behind the virtio header given (offloads only): a super-packet, a partial checksum.
    func inject(_ packet: [UInt8], header: VirtioHeader) {
        var bytes = [UInt8](repeating: 0, count: VirtioHeader.length)
        bytes.withUnsafeMutableBytes { header.write(to: $0) }
        inbound.withLock { $0.append(bytes + packet) }
        inboundSignal.post()
    }

    /// The next packet the interface delivered, waiting at most `milliseconds`.
    func delivered(waitingAtMost milliseconds: Int32 = 3000) -> [UInt8]? {
        guard outboundSignal.wait(milliseconds: milliseconds) else { return nil }
        return outbound.withLock { $0.removeFirst() }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, waitingAtMost milliseconds: Int32) throws(Errno) -> Int? {
        if gone.load(ordering: .relaxed) { throw Errno(ENODEV) }
        guard inboundSignal.wait(milliseconds: min(milliseconds, 50)) else { return nil }
        let packet = inbound.withLock { $0.removeFirst() }
        // As the kernel's TUN does: what fits is copied, the whole length is returned.
        buffer.copyBytes(from: packet[0..<min(packet.count, buffer.count)])
        return packet.count
    }

    func write(_ packet: UnsafeRawBufferPointer) throws(Errno) {
        if offloads {
            deliveredHeaders.withLock { $0.append(Array(packet[0..<VirtioHeader.length])) }
            outbound.withLock { $0.append(Array(packet[VirtioHeader.length...])) }
        } else {
            outbound.withLock { $0.append(Array(packet)) }
        }
        outboundSignal.post()
    }

    func write(vectors: UnsafeBufferPointer<iovec>) throws(Errno) {
        var packet: [UInt8] = []
        for v in vectors { packet += UnsafeRawBufferPointer(start: v.iov_base, count: v.iov_len) }
        packet.withUnsafeBytes { try? write($0) }  // (the in-memory write cannot fail)
    }

    func currentMTU() throws(Errno) -> Int {
        if mtuUnreadable.load(ordering: .relaxed) { throw Errno(ENODEV) }
        return mtu.load(ordering: .relaxed)
    }
}

/// Hosts joined by one in-memory network: a datagram sent to an address and port reaches the
/// sockets bound there, with the sender's address as its source.
final class MemoryNetwork: @unchecked Sendable {
    private let bound = Mutex<[Endpoint: MemorySockets]>([:])
    private let claimed = Mutex<Set<Endpoint>>([])
    private let nextPort = Atomic<UInt16>(40000)

    /// Takes `port` (0: a free one) at `address`; EADDRINUSE when someone holds it.
    fileprivate func claim(_ address: IPAddress, port: UInt16) throws(Errno) -> UInt16 {
        let chosen = port == 0 ? nextPort.wrappingAdd(1, ordering: .relaxed).newValue : port
        let endpoint = Endpoint(address: address, port: chosen)
        try claimed.withLock { (taken: inout Set<Endpoint>) throws(Errno) in
            guard taken.insert(endpoint).inserted else { throw Errno.addressInUse }
        }
        return chosen
    }

    fileprivate func attach(_ sockets: MemorySockets, at endpoint: Endpoint) { bound.withLock { $0[endpoint] = sockets } }

    fileprivate func release(_ endpoint: Endpoint) {
        bound.withLock { _ = $0.removeValue(forKey: endpoint) }
        claimed.withLock { _ = $0.remove(endpoint) }
    }

    func isBound(_ endpoint: Endpoint) -> Bool { claimed.withLock { $0.contains(endpoint) } }

    fileprivate func deliver(_ bytes: [UInt8], to endpoint: Endpoint, from source: Endpoint) -> Bool {
        // A host takes datagrams for any of its addresses on the port it bound.
        let target = bound.withLock { table in
            table.first { $0.key.port == endpoint.port && $0.value.host.owns(endpoint.address) }?.value
        }
        guard let target else { return false }
        target.arrive(bytes, from: source)
        return true
    }

    func sockets(at endpoint: Endpoint) -> MemorySockets? { bound.withLock { $0[endpoint] } }
}

/// A host's way onto the network: its address, and sockets it binds there.
struct MemoryBind: Bind {
    let network: MemoryNetwork
    let host: MemoryHost

    func open(port: UInt16, fwmark: UInt32) throws(Errno) -> any BoundSockets {
        try MemorySockets(network: network, host: host, port: port)
    }
}

/// A host's addresses; one can be taken away (an address that vanished under a sticky source).
final class MemoryHost: @unchecked Sendable {
    let addresses: Mutex<[IPAddress]>
    /// The local address datagrams are reported to arrive on (IP_PKTINFO); the primary if nil.
    let arrivesOn = Mutex<IPAddress?>(nil)
    init(_ addresses: IPAddress...) { self.addresses = Mutex(addresses) }
    var primary: IPAddress { addresses.withLock { $0[0] } }
    func owns(_ address: IPAddress) -> Bool { addresses.withLock { $0.contains(address) } }
}

extension LocalAddress {
    /// The sticky source for an IPv4 address, as IP_PKTINFO reports it.
    init(_ address: IPAddress) {
        self.init()
        guard case .v4(let v4) = address else { return }
        family = AF_INET
        var value = v4.value.bigEndian
        withUnsafeBytes(of: &value) { src in withUnsafeMutableBytes(of: &bytes) { $0.copyMemory(from: src) } }
    }

    var ipv4: IPAddress? {
        guard family == AF_INET else { return nil }
        var b = bytes
        return withUnsafeBytes(of: &b) { IPAddress.v4(IPv4Address(value: UInt32(bigEndian: $0.loadUnaligned(as: UInt32.self)))) }
    }
}

final class MemorySockets: BoundSockets, @unchecked Sendable {
    let port: UInt16
    private let network: MemoryNetwork
    fileprivate let host: MemoryHost
    private let inbox = Mutex<[(bytes: [UInt8], source: Endpoint)]>([])
    private let arrived = Signal()
    let closed = Atomic<Bool>(false)
    /// Every send: where it went and which source it asked for.
    let sends = Mutex<[(to: Endpoint, from: LocalAddress, count: Int)]>([])
    /// Datagrams are dropped on the floor while set (a lossy link).
    let dropping = Atomic<Bool>(false)

    init(network: MemoryNetwork, host: MemoryHost, port: UInt16) throws(Errno) {
        self.network = network
        self.host = host
        self.port = try network.claim(host.primary, port: port)
        network.attach(self, at: Endpoint(address: host.primary, port: self.port))
    }

    fileprivate func arrive(_ bytes: [UInt8], from source: Endpoint) {
        guard !closed.load(ordering: .relaxed), !dropping.load(ordering: .relaxed) else { return }
        inbox.withLock { $0.append((bytes, source)) }
        arrived.post()
    }

    /// Waits for a datagram, then takes what has arrived, up to the batch (as recvmmsg does).
    func receive(_ batch: UnsafeMutableBufferPointer<ReceivedDatagram>, waitingAtMost milliseconds: Int32) -> Int {
        guard !closed.load(ordering: .relaxed), arrived.wait(milliseconds: min(milliseconds, 50)) else { return 0 }
        var n = 0
        while n < batch.count, let datagram = inbox.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) {
            batch[n].truncated = datagram.bytes.count > batch[n].capacity
            batch[n].length = batch[n].truncated ? 0 : datagram.bytes.count
            if !batch[n].truncated {
                UnsafeMutableRawBufferPointer(start: batch[n].data, count: batch[n].capacity).copyBytes(from: datagram.bytes)
            }
            batch[n].source = datagram.source
            batch[n].local = LocalAddress(host.arrivesOn.withLock { $0 } ?? host.primary)
            n += 1
        }
        return n
    }

    func send(_ datagrams: UnsafeBufferPointer<iovec>, to endpoint: Endpoint, from source: LocalAddress) throws(Errno) -> Int {
        guard !closed.load(ordering: .relaxed) else { throw Errno.badFileDescriptor }
        // The kernel refuses a source address the host no longer has.
        if let asked = source.ipv4, !host.owns(asked) { throw Errno(EADDRNOTAVAIL) }
        sends.withLock { $0.append((endpoint, source, datagrams.count)) }
        let from = Endpoint(address: source.ipv4 ?? host.primary, port: port)
        for d in datagrams {
            let bytes = Array(UnsafeRawBufferPointer(start: d.iov_base, count: d.iov_len))
            _ = network.deliver(bytes, to: endpoint, from: from)
        }
        return datagrams.count
    }

    func setFirewallMark(_ mark: UInt32) throws(Errno) {}

    func close() {
        guard !closed.exchange(true, ordering: .relaxed) else { return }
        network.release(Endpoint(address: host.primary, port: port))
        arrived.post()
    }
}
