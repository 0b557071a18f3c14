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
        // The heap is the whole process's, and other suites run beside this one: the least of a
        // few tries is this interface's own cost.
        var least = Int.max
        for _ in 0..<3 where least >= Self.bound { least = min(least, try heapPerPeer()) }
        print("2,048 idle peers: \(least) B of heap each (peer, runtime, queues, device tables, configuration)")
        #expect(least < Self.bound)
    }

    static let bound = 4096
    static let peers = 2048

    private func heapPerPeer() throws -> Int {
        let host = try TestHost(MemoryNetwork(), outer: "198.51.100.1", inner: "192.0.2.1", port: 51820)
        var config = host.config
        for i in 0..<Self.peers {
            let key = PrivateKey.generate().publicKey
            config.addPeer(key)
            config.addAllowedIP(IPPrefix("fd00::\(String(i + 1, radix: 16))/128")!, to: key)
        }
        let before = wgd_heap_in_use()
        try host.interface.apply(config)
        let after = wgd_heap_in_use()
        #expect(host.interface.device.orderedPeers.count == Self.peers)
        #expect(host.interface.jobs.initialized == 0, "an idle peer takes no job chunk")
        return (Int(after) - Int(before)) / Self.peers
    }
}
