import CShim
import Crypto
import Glibc
import Protocol
import Testing
@testable import DataPlane

/// Memory flat in the number of peers: an idle peer holds no job slot, and its heap cost is a
/// few KiB whatever the queue bounds (it was ~250 KiB when each peer preallocated them).
@Suite(.serialized) struct PeerMemoryTests {
    @Test func idlePeersTakeNoJobSlotsAndLittleHeap() throws {
        let host = try TestHost(MemoryNetwork(), outer: "198.51.100.1", inner: "192.0.2.1", port: 51820)
        let peers = 2048
        var config = host.config
        for i in 0..<peers {
            let key = PrivateKey.generate().publicKey
            config.addPeer(key)
            config.addAllowedIP(IPPrefix("fd00::\(String(i + 1, radix: 16))/128")!, to: key)
        }
        let before = wgd_heap_in_use()
        try host.interface.apply(config)
        let after = wgd_heap_in_use()
        let perPeer = (Int(after) - Int(before)) / peers
        print("2,048 idle peers: \(perPeer) B of heap each (peer, runtime, queues, device tables, configuration)")
        #expect(host.interface.device.orderedPeers.count == peers)
        #expect(host.interface.jobs.initialized == 0, "an idle peer takes no job chunk")
        #expect(perPeer < 4096)
    }
}
