import Crypto
import Glibc
import Protocol
import Synchronization
import System
import Testing
@testable import DataPlane

/// One host of an in-process test: an Interface over an in-memory tunnel and network.
final class TestHost: @unchecked Sendable {
    let tunnel: MemoryTunnel
    let host: MemoryHost
    let interface: Interface
    let key = PrivateKey.generate()
    let inner: String
    var config = DeviceConfig()

    init(_ network: MemoryNetwork, outer: String, inner: String, port: UInt16, offloads: Bool = false,
         udpOffload: Bool = false, tune: (inout InterfaceOptions) -> Void = { _ in }) throws {
        tunnel = MemoryTunnel(name: "mem-\(inner)", offloads: offloads, udpOffload: udpOffload)
        host = MemoryHost(IPAddress(outer)!)
        self.inner = inner
        var options = InterfaceOptions()
        options.buffers = 512
        options.largeBuffers = 16
        tune(&options)
        interface = try Interface(tunnel: tunnel, bind: MemoryBind(network: network, host: host), options: options)
        try interface.start()
        config.setPrivateKey(key)
        config.listenPort = port
        try interface.apply(config)
    }

    deinit { interface.stop() }

    var publicKey: PublicKey { key.publicKey }
    var endpoint: Endpoint { Endpoint(address: host.primary, port: interface.boundListenPort) }
    var sockets: MemorySockets? { interface.currentSockets() as? MemorySockets }

    /// Makes `other` a peer owning its inner /32, with its endpoint if `knowing`.
    func add(_ other: TestHost, knowing: Bool = true, keepalive: UInt16 = 0) throws {
        config.addPeer(other.publicKey)
        config.updatePeer(other.publicKey) { peer in
            if knowing { peer.endpoint = other.endpoint }
            peer.persistentKeepaliveInterval = keepalive
        }
        config.addAllowedIP(IPPrefix("\(other.inner)/32")!, to: other.publicKey)
        try interface.apply(config)
    }

    func remove(_ other: TestHost) throws {
        config.removePeer(other.publicKey)
        try interface.apply(config)
    }

    func peer(_ other: TestHost) -> DataPlane.Peer? { interface.device.peer(other.publicKey) }

    /// An IP packet from us to `other` carrying `tag`, into our tunnel.
    func send(to other: TestHost, tag: UInt8, size: Int = 64) {
        tunnel.inject(udpPacket(from: inner, to: other.inner, tag: tag, size: size))
    }
}

/// A minimal IPv4/UDP packet whose first payload byte is `tag`.
func udpPacket(from source: String, to destination: String, tag: UInt8, size: Int = 64) -> [UInt8] {
    var packet = [UInt8](repeating: 0, count: max(size, 29))
    packet[0] = 0x45
    packet[2] = UInt8(packet.count >> 8); packet[3] = UInt8(packet.count & 0xff)
    packet[8] = 64; packet[9] = 17
    let s = IPv4Address(source)!.value, d = IPv4Address(destination)!.value
    for i in 0..<4 {
        packet[12 + i] = UInt8(truncatingIfNeeded: s >> (24 - 8 * UInt32(i)))
        packet[16 + i] = UInt8(truncatingIfNeeded: d >> (24 - 8 * UInt32(i)))
    }
    packet[28] = tag
    return packet
}

/// Two hosts that know each other: a (198.51.100.1, inner 192.0.2.1) and b.
func makePair(_ network: MemoryNetwork, offloads: Bool = false, udpOffload: Bool = false,
              tune: (inout InterfaceOptions) -> Void = { _ in }) throws -> (TestHost, TestHost) {
    let a = try TestHost(network, outer: "198.51.100.1", inner: "192.0.2.1", port: 51820, offloads: offloads, udpOffload: udpOffload, tune: tune)
    let b = try TestHost(network, outer: "198.51.100.2", inner: "192.0.2.2", port: 51821, offloads: offloads, udpOffload: udpOffload, tune: tune)
    try a.add(b)
    try b.add(a)
    return (a, b)
}

/// Waits (bounded) until `condition` holds.
func eventually(_ seconds: Double = 3, _ condition: () -> Bool) -> Bool {
    for _ in 0..<Int(seconds * 100) {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

/// Whole interfaces in-process: handshakes, data both ways, staging, rebinding, sticky sources
/// and peer removal, over an in-memory tunnel and network (no kernel, no root).
@Suite(.serialized) struct InterfaceTests {
    /// Each data path: crypto on the reading thread (inline) and on the workers.
    static let paths = [true, false]

    @Test(arguments: paths) func handshakeAndTrafficBothWays(inline: Bool) throws {
        let network = MemoryNetwork()
        let (a, b) = try makePair(network) { $0.inlineCrypto = inline }
        a.send(to: b, tag: 1)
        let there = try #require(b.tunnel.delivered())
        #expect(there == udpPacket(from: a.inner, to: b.inner, tag: 1))
        b.send(to: a, tag: 2)
        let back = try #require(a.tunnel.delivered())
        #expect(back[28] == 2)
        #expect(a.peer(b)?.status.lastHandshake != .zero)
        #expect(b.peer(a)?.status.lastHandshake != .zero)
        // b learned a's endpoint from the handshake.
        #expect(b.peer(a)?.endpoint == a.endpoint)
    }

    @Test(arguments: paths) func stagedPacketsLeaveInOrderOnceTheSessionExists(inline: Bool) throws {
        let network = MemoryNetwork()
        let (a, b) = try makePair(network) { $0.inlineCrypto = inline }
        for tag in 0..<40 { a.send(to: b, tag: UInt8(tag)) }
        var tags: [UInt8] = []
        while tags.count < 40, let packet = b.tunnel.delivered() { tags.append(packet[28]) }
        #expect(tags == (0..<40).map(UInt8.init))
    }

    @Test func fullSizeAndLargePackets() throws {
        let network = MemoryNetwork()
        let (a, b) = try makePair(network)
        for host in [a, b] { host.tunnel.mtu.store(9000, ordering: .relaxed) }
        usleep(1_200_000)  // the timer thread re-reads the MTU every second
        a.send(to: b, tag: 7, size: 1500)
        #expect(try #require(b.tunnel.delivered()).count == 1500)
        a.send(to: b, tag: 8, size: 9000)
        #expect(try #require(b.tunnel.delivered()).count == 9000)
        // b back at 1420 still takes a's large datagrams: a truncated one switches it to large
        // buffers (the first is lost, as on a real link the retransmission would carry it).
        b.tunnel.mtu.store(1420, ordering: .relaxed)
        usleep(1_200_000)
        a.send(to: b, tag: 9, size: 9000)
        _ = b.tunnel.delivered(waitingAtMost: 500)
        a.send(to: b, tag: 10, size: 9000)
        #expect(try #require(b.tunnel.delivered())[28] == 10)
        #expect(b.interface.counters[.tooLarge] <= 1)
    }

    @Test func listenPortChangeReleasesTheOldPortAndTrafficFollows() throws {
        let network = MemoryNetwork()
        let (a, b) = try makePair(network)
        a.send(to: b, tag: 1)
        _ = try #require(b.tunnel.delivered())
        let old = a.endpoint
        a.config.listenPort = 52000
        try a.interface.apply(a.config)
        #expect(!network.isBound(old))
        #expect(network.isBound(Endpoint(address: a.host.primary, port: 52000)))
        #expect(a.interface.boundListenPort == 52000)
        // The cached source belonged to the old sockets (the kernel's set_port clears it).
        #expect(try #require(a.peer(b)).runtime.stickySource == .none)
        // a's next packet comes from the new port; b roams to it and answers there.
        a.send(to: b, tag: 2)
        #expect(try #require(b.tunnel.delivered())[28] == 2)
        #expect(b.peer(a)?.endpoint == Endpoint(address: a.host.primary, port: 52000))
        b.send(to: a, tag: 3)
        #expect(try #require(a.tunnel.delivered())[28] == 3)
        // A port someone holds is refused, and the old port stays.
        let squatter = try MemoryBind(network: network, host: MemoryHost(a.host.primary)).open(port: 52100, fwmark: 0)
        a.config.listenPort = 52100
        #expect(throws: Errno.addressInUse) { try a.interface.apply(a.config) }
        #expect(a.interface.boundListenPort == 52000)
        squatter.close()
        a.config.listenPort = 52000
    }

    @Test func releasedSocketsFreeThePortAtOnce() throws {
        let network = MemoryNetwork()
        let (a, _) = try makePair(network)
        let endpoint = a.endpoint
        a.interface.releaseSockets()
        #expect(!network.isBound(endpoint))
        #expect(a.interface.boundListenPort == 0)
        // Another daemon can take the port right away.
        let next = try MemoryBind(network: network, host: MemoryHost(a.host.primary)).open(port: endpoint.port, fwmark: 0)
        #expect(next.port == endpoint.port)
        next.close()
    }

    @Test func aVanishedStickySourceIsForgottenAndTheSendRetried() throws {
        let network = MemoryNetwork()
        let (a, b) = try makePair(network)
        // b's datagrams arrive on a secondary address of b's host: b replies from it.
        let secondary = IPAddress("198.51.100.22")!
        b.host.addresses.withLock { $0.append(secondary) }
        b.host.arrivesOn.withLock { $0 = secondary }
        a.send(to: b, tag: 1)
        _ = try #require(b.tunnel.delivered())
        #expect(try #require(b.peer(a)).runtime.stickySource == LocalAddress(secondary))
        // The address goes away: b's next send from it is refused; it falls back and gets through.
        b.host.addresses.withLock { $0.removeAll { $0 == secondary } }
        b.send(to: a, tag: 2)
        #expect(try #require(a.tunnel.delivered())[28] == 2)
        #expect(try #require(b.peer(a)).runtime.stickySource == .none || b.host.arrivesOn.withLock { $0 } != nil)
        let lastSend = try #require(b.sockets?.sends.withLock { $0.last })
        #expect(lastSend.from == .none)
    }

    @Test(arguments: paths) func removingAPeerUnderTrafficLeavesNothingOfIt(inline: Bool) throws {
        let network = MemoryNetwork()
        let (a, b) = try makePair(network) { $0.inlineCrypto = inline }
        a.send(to: b, tag: 0)
        _ = try #require(b.tunnel.delivered())
        let removed = try #require(a.peer(b))
        // Traffic both ways while a drops b.
        let stop = Atomic<Bool>(false)
        let senders = ThreadGroup()
        for (from, to) in [(a, b), (b, a)] {
            _ = senders.enter()
            try Threads.spawn(name: "test-traffic") {
                var tag: UInt8 = 1
                while !stop.load(ordering: .relaxed) {
                    from.send(to: to, tag: tag)
                    tag &+= 1
                    usleep(200)
                }
                senders.leave()
            }
        }
        usleep(100_000)
        try a.remove(b)
        usleep(200_000)
        stop.store(true, ordering: .relaxed)
        senders.wait()
        #expect(a.peer(b) == nil)
        #expect(removed.keypairs.current == nil && removed.keypairs.previous == nil && removed.keypairs.next == nil)
        #expect(eventually { removed.runtime.stagedCount == 0 })
        // Nothing more reaches a's tunnel from b, and a's packets for b find no route.
        while a.tunnel.delivered(waitingAtMost: 300) != nil {}
        let noRoute = a.interface.counters[.noRoute]
        b.send(to: a, tag: 200)
        a.send(to: b, tag: 201)
        #expect(a.tunnel.delivered(waitingAtMost: 500) == nil)
        #expect(eventually { a.interface.counters[.noRoute] > noRoute })
    }

    /// With offloads (IFF_VNET_HDR), a TCP super-packet from the system leaves as whole segments
    /// and reaches the other side's tunnel as them, each with its checksums right.
    @Test(arguments: paths) func aSuperPacketArrivesAsWholeSegments(inline: Bool) throws {
        let network = MemoryNetwork()
        let (a, b) = try makePair(network, offloads: true) { $0.inlineCrypto = inline }
        a.send(to: b, tag: 1)
        #expect(try #require(b.tunnel.delivered()) == udpPacket(from: a.inner, to: b.inner, tag: 1))
        b.tunnel.deliveredHeaders.withLock { $0.removeAll() }
        let payload = (0..<20000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        var header = VirtioHeader()
        header.flags = VirtioHeader.needsChecksum
        header.gsoType = VirtioHeader.gsoTCPv4
        header.gsoSize = 1368
        a.tunnel.inject(tcpPacket(v6: false, flags: 0x18, payload: payload), header: header)
        // b may write consecutive segments back as super-packets (TunCoalesce; whether a run forms
        // depends on timing): cut them again as the kernel would, and every segment must be
        // whole, with its checksums, in order.
        var joined: [UInt8] = []
        var count = 0
        while joined.count < payload.count, let delivered = b.tunnel.delivered() {
            let header = try #require(b.tunnel.deliveredHeaders.withLock { $0.isEmpty ? nil : $0.removeFirst() })
            let virtio = header.withUnsafeBytes { VirtioHeader($0) }
            var pieces = [delivered]
            if virtio.gsoType != VirtioHeader.gsoNone {
                #expect(virtio.gsoType == VirtioHeader.gsoTCPv4 && virtio.gsoSize == 1368 && virtio.headerLength == 52)
                pieces = try delivered.withUnsafeBytes { p in
                    let (n, largest) = try TunOffload.segments(p, virtio)
                    return try (0..<n).map { i in
                        var room = [UInt8](repeating: 0, count: largest)
                        let length = try room.withUnsafeMutableBytes { try TunOffload.segment(p, virtio, index: i, into: $0) }
                        return Array(room[0..<length])
                    }
                }
            }
            for segment in pieces {
                let whole = segment.count <= 20 + 32 + 1368 && referenceSum(Array(segment[0..<20])) == 0xffff
                    && tcpChecksumHolds(segment, v6: false)
                #expect(whole, "segment \(count): \(segment.count) bytes of a write of \(delivered.count), gso \(virtio.gsoType)/\(virtio.gsoSize)")
                joined += segment[52...]
                count += 1
            }
        }
        #expect(count == 15)
        #expect(joined == payload)
        #expect(a.interface.counters[.malformed] == 0)
    }

    /// The reader sends what it sealed only when the tunnel has nothing more (or a batch is
    /// full): packets already waiting leave in one send, not one send per read.
    @Test(arguments: [false, true]) func packetsWaitingInTheTunnelLeaveInOneSend(offloads: Bool) throws {
        let network = MemoryNetwork()
        let (a, b) = try makePair(network, offloads: offloads) { $0.inlineCrypto = true }
        a.send(to: b, tag: 0)
        _ = try #require(b.tunnel.delivered())
        // The first packet waited for the handshake, and a worker sent it. A drainer goes on
        // while finished slots follow, and would send the reader's packets run by run: wait
        // until it is done.
        let queue = try #require(a.peer(b)).runtime.transmit
        #expect(eventually { !queue.isDraining })
        let sockets = try #require(a.sockets)
        sockets.sends.withLock { $0.removeAll() }
        a.tunnel.inject(all: (1...20).map { udpPacket(from: a.inner, to: b.inner, tag: UInt8($0)) })
        var tags: [UInt8] = []
        while tags.count < 20, let packet = b.tunnel.delivered() { tags.append(packet[28]) }
        #expect(tags == (1...20).map(UInt8.init))
        #expect(sockets.sends.withLock { $0.map(\.count) } == [20])
        // More than a batch leaves in batches, in order.
        sockets.sends.withLock { $0.removeAll() }
        a.tunnel.inject(all: (0..<150).map { udpPacket(from: a.inner, to: b.inner, tag: UInt8($0)) })
        tags = []
        while tags.count < 150, let packet = b.tunnel.delivered() { tags.append(packet[28]) }
        #expect(tags == (0..<150).map(UInt8.init))
        #expect(sockets.sends.withLock { $0.map(\.count) } == [64, 64, 22])
    }

    /// With USO on both TUNs, a UDP super-packet read at a is cut into datagrams, and b writes a
    /// run of them back as UDP super-packets (however the batches fell) that cut into exactly
    /// the datagrams sent, in order.
    @Test(arguments: paths) func aUDPFlowArrivesAsWholeDatagrams(inline: Bool) throws {
        let network = MemoryNetwork()
        let (a, b) = try makePair(network, offloads: true, udpOffload: true) { $0.inlineCrypto = inline }
        a.send(to: b, tag: 1)
        _ = try #require(b.tunnel.delivered())
        b.tunnel.deliveredHeaders.withLock { $0.removeAll() }
        var header = VirtioHeader()
        header.flags = VirtioHeader.needsChecksum
        header.gsoType = VirtioHeader.gsoUDP
        header.gsoSize = 1000
        let payload = (0..<40_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let whole = udpSuperPacket(v6: false, payload: payload)
        let sent = try TunCoalesceTests.cut(whole, header)
        #expect(sent.count == 40)
        a.tunnel.inject(whole, header: header)
        var received: [[UInt8]] = []
        while received.count < sent.count, let delivered = b.tunnel.delivered() {
            let virtio = try #require(b.tunnel.deliveredHeaders.withLock { $0.isEmpty ? nil : $0.removeFirst() }).withUnsafeBytes { VirtioHeader($0) }
            if virtio.gsoType == VirtioHeader.gsoNone {
                received.append(delivered)
            } else {
                #expect(virtio.gsoType == VirtioHeader.gsoUDP && virtio.gsoSize == 1000 && virtio.headerLength == 28)
                received += try TunCoalesceTests.cut(delivered, virtio)
            }
        }
        #expect(received == sent)
        #expect(a.interface.counters[.malformed] == 0)
    }

    @Test func turningOnPersistentKeepaliveSendsOneAtOnce() throws {
        let network = MemoryNetwork()
        let (a, b) = try makePair(network)
        a.send(to: b, tag: 1)
        _ = try #require(b.tunnel.delivered())
        let before = try #require(b.peer(a)).status.receivedBytes
        a.config.updatePeer(b.publicKey) { $0.persistentKeepaliveInterval = 25 }
        try a.interface.apply(a.config)
        // A keepalive is a 32-byte data message: b counts it, and delivers nothing.
        #expect(eventually { (b.peer(a)?.status.receivedBytes ?? 0) >= before + 32 })
        #expect(b.tunnel.delivered(waitingAtMost: 200) == nil)
    }

    @Test func aFullWorkQueueDropsButKeepsOrderAndBuffers() throws {
        let network = MemoryNetwork()
        // One worker and a two-deep work queue, every data packet handed to it: a burst must
        // overflow it.
        let (a, b) = try makePair(network) {
            $0.cpus = [Threads.allowedCPUs()[0]]; $0.workQueueCapacity = 2; $0.inlineCrypto = false
        }
        a.send(to: b, tag: 0)
        _ = try #require(b.tunnel.delivered())
        for tag in 1...250 { a.send(to: b, tag: UInt8(tag)) }
        var tags: [UInt8] = []
        while let packet = b.tunnel.delivered(waitingAtMost: 500) { tags.append(packet[28]) }
        #expect(a.interface.counters[.queueFull] + b.interface.counters[.queueFull] > 0)
        #expect(!tags.isEmpty)
        #expect(tags == tags.sorted(), "delivered out of order: \(tags)")
        // Every dropped packet gave its buffer back: only the receiver's batch and the tunnel
        // reader hold any once the burst is over.
        for host in [a, b] {
            #expect(eventually { host.interface.pool.available >= host.interface.pool.count - Interface.receiveBatch - 1 })
        }
    }

    @Test func aDryJobPoolDropsAndCountsButKeepsOrderBuffersAndChunks() throws {
        let network = MemoryNetwork()
        // Two chunks of job slots per interface (32 packets for all queues), far below the
        // per-peer bound: a burst handed to one worker runs the pool dry long before the queue
        // is full. (Inline, a reader holds one slot at a time: it cannot.)
        let (a, b) = try makePair(network) { $0.cpus = [Threads.allowedCPUs()[0]]; $0.jobChunks = 2; $0.inlineCrypto = false }
        a.send(to: b, tag: 0)
        _ = try #require(b.tunnel.delivered())
        for tag in 1...250 { a.send(to: b, tag: UInt8(tag)) }
        var tags: [UInt8] = []
        while let packet = b.tunnel.delivered(waitingAtMost: 500) { tags.append(packet[28]) }
        #expect(a.interface.jobs.exhaustions + b.interface.jobs.exhaustions > 0)
        #expect(a.interface.counters[.queueFull] + b.interface.counters[.queueFull] > 0)
        #expect(!tags.isEmpty)
        #expect(tags == tags.sorted(), "delivered out of order: \(tags)")
        // Once the burst is over every chunk is back, and every buffer but the receiver's batch
        // and the tunnel reader's.
        for host in [a, b] {
            #expect(eventually { host.interface.jobs.available == 2 })
            #expect(eventually { host.interface.pool.available >= host.interface.pool.count - Interface.receiveBatch - 1 })
        }
    }

    @Test func settingTheSameEndpointPullsBackARoamedPeerAndForgetsTheSource() throws {
        let network = MemoryNetwork()
        let (a, b) = try makePair(network)
        let configured = b.endpoint
        a.send(to: b, tag: 1)
        _ = try #require(b.tunnel.delivered())
        // b moves to another port; a follows it when b's next packet arrives from there.
        b.config.listenPort = 52001
        try b.interface.apply(b.config)
        b.send(to: a, tag: 2)
        _ = try #require(a.tunnel.delivered())
        let peer = try #require(a.peer(b))
        #expect(peer.endpoint == Endpoint(address: b.host.primary, port: 52001))
        #expect(peer.runtime.stickySource != .none)
        // The administrator sets the endpoint a's configuration already names: it applies.
        a.config.updatePeer(b.publicKey) { $0.endpoint = configured }
        try a.interface.apply(a.config)
        #expect(peer.endpoint == configured)
        #expect(peer.runtime.stickySource == .none)
    }

    @Test func aPacketLargerThanTheMTUWeKnowCostsOneDropThenLargeBuffersCarryIt() throws {
        let network = MemoryNetwork()
        let (a, b) = try makePair(network)
        b.tunnel.mtu.store(9000, ordering: .relaxed)
        usleep(1_200_000)  // b notices its MTU; a still believes 1420
        // The tunnel hands a an 8000-byte packet: it is dropped whole, not cut, and a reads
        // into large buffers from then on.
        a.send(to: b, tag: 2, size: 8000)
        #expect(eventually { a.interface.counters[.tooLarge] == 1 })
        a.send(to: b, tag: 3, size: 8000)
        let packet = try #require(b.tunnel.delivered())
        #expect(packet.count == 8000 && packet[28] == 3)
    }

    @Test func anMTUThatCannotBeReadMeansLargeBuffers() throws {
        let network = MemoryNetwork()
        let (a, b) = try makePair(network)
        // After a move to another namespace the MTU cannot be read any more (netns.sh does
        // that, then raises the MTU): every packet must still fit.
        a.tunnel.mtuUnreadable.store(true, ordering: .relaxed)
        b.tunnel.mtu.store(9000, ordering: .relaxed)
        usleep(1_200_000)
        a.send(to: b, tag: 4, size: 9000)
        #expect(try #require(b.tunnel.delivered()).count == 9000)
        #expect(a.interface.counters[.tooLarge] == 0)
    }
}
