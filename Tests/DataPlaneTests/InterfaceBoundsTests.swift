import Crypto
import Glibc
import Protocol
import System
import Testing
@testable import DataPlane

/// An interface's bounds hit through its own API: the N+1th is refused or dropped and counted,
/// and what came before it stays.
@Suite(.serialized) struct InterfaceBoundsTests {
    @Test func peersOverTheBoundAreRefusedWithENOSPCAndTheConfigurationStays() throws {
        let host = try TestHost(MemoryNetwork(), outer: "198.51.100.1", inner: "192.0.2.1", port: 51820)
        var config = host.config
        for _ in 0..<ConfigBounds.maxPeers { config.addPeer(PrivateKey.generate().publicKey) }
        try host.interface.apply(config)
        #expect(host.interface.device.orderedPeers.count == ConfigBounds.maxPeers)

        var over = config
        let extra = PrivateKey.generate().publicKey
        over.addPeer(extra)
        over.listenPort = 51999
        #expect(throws: Errno(ENOSPC)) { try host.interface.apply(over) }
        #expect(host.interface.configuration == config, "nothing of the refused change was applied")
        #expect(host.interface.device.peer(extra) == nil)
        #expect(host.interface.boundListenPort == 51820)
        #expect(host.interface.device.orderedPeers.count == ConfigBounds.maxPeers)
    }

    @Test func stagingPastItsBoundDropsTheOldestAndCountsEachDrop() throws {
        let network = MemoryNetwork()
        let a = try TestHost(network, outer: "198.51.100.1", inner: "192.0.2.1", port: 51820)
        let b = try TestHost(network, outer: "198.51.100.2", inner: "192.0.2.2", port: 51821)
        // No endpoint: no handshake can start, so every packet for b waits in its stage.
        try a.add(b, knowing: false)
        let extra = 5
        for tag in 0..<PeerRuntime.stagedCapacity + extra { a.send(to: b, tag: UInt8(truncatingIfNeeded: tag)) }
        let peer = try #require(a.peer(b))
        #expect(eventually { a.interface.counters[.queueFull] == UInt64(extra) })
        #expect(peer.runtime.stagedCount == PeerRuntime.stagedCapacity)
        // The newest are kept: the first staged now is the sixth sent.
        guard let oldest = peer.runtime.unstage() else { Issue.record("nothing staged"); return }
        #expect(oldest.packet[28] == UInt8(extra))
    }

    @Test func theReceiverHoldsABatchOf64AndAQuarterOfTheLargeClass() throws {
        for (large, expected) in [(512, 64), (256, 64), (16, 4), (3, 1), (1, 1)] {
            let host = try TestHost(MemoryNetwork(), outer: "198.51.100.1", inner: "192.0.2.1", port: 51820) { $0.largeBuffers = large }
            #expect(host.interface.receiveSlots(bufferSize: host.interface.pool.bufferSize) == 64)
            #expect(host.interface.receiveSlots(bufferSize: host.interface.largePool.bufferSize) == expected, "\(large) large buffers")
        }
    }

    @Test func aUsedUpLargeClassHandsOutEverydayBuffersAndCountsIt() throws {
        let host = try TestHost(MemoryNetwork(), outer: "198.51.100.1", inner: "192.0.2.1", port: 51820) { $0.largeBuffers = 4 }
        let interface = host.interface
        let held = UnsafeMutablePointer<PacketBuffer?>.allocate(capacity: 5)
        defer { held.deinitialize(count: 5); held.deallocate() }
        for i in 0..<5 { (held + i).initialize(to: interface.takeBuffer(size: interface.largePool.bufferSize)) }
        for i in 0..<4 { #expect(held[i]?.bytes.count == interface.largePool.bufferSize) }
        #expect(held[4]?.bytes.count == interface.pool.bufferSize, "the fifth is an everyday one")
        #expect(interface.largePool.available == 0 && interface.largePool.exhaustions == 1)
        for i in 0..<5 { held[i] = nil }
        #expect(interface.largePool.available == 4)
    }
}
