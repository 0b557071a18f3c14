import Protocol
import Testing
@testable import DataPlane

/// The handshake queue: bounded, FIFO, and "under load" from 1/8 full until a second after.
@Suite struct HandshakeQueueTests {
    let pool = BufferPool(mtu: 1420, count: 64)
    let source = Endpoint("192.0.2.1:51820")!

    func push(_ queue: HandshakeQueue, marker: UInt8) -> Bool {
        guard var buffer = pool.take() else { return false }
        buffer.length = 1
        buffer.bytes[0] = marker
        return queue.push(buffer, source: source, local: .none)
    }

    /// The first byte of the popped message and whether it was under load; nil when empty.
    func pop(_ queue: HandshakeQueue, now: Instant = .zero) -> (marker: UInt8, underLoad: Bool)? {
        guard let entry = queue.pop(now: now), let packet = entry.packet else { return nil }
        return (packet[0], entry.underLoad)
    }

    @Test func boundedAndFirstInFirstOut() {
        let queue = HandshakeQueue(capacity: 16)
        for i in 0..<16 { #expect(push(queue, marker: UInt8(i))) }
        #expect(!push(queue, marker: 99), "full")
        #expect(pool.available == 64 - 16, "the refused buffer went back")
        for i in 0..<16 {
            #expect(pop(queue)?.marker == UInt8(i))
        }
        #expect(pop(queue) == nil)
        #expect(pool.available == 64)
    }

    @Test func dropNewestTakesTheLastOne() {
        let queue = HandshakeQueue(capacity: 16)
        _ = push(queue, marker: 1)
        _ = push(queue, marker: 2)
        queue.dropNewest()
        #expect(pop(queue)?.marker == 1)
        #expect(pop(queue) == nil)
        #expect(pool.available == 64)
    }

    @Test func underLoadFromAnEighthFullForOneSecond() {
        let queue = HandshakeQueue(capacity: 64)
        for i in 0..<7 { _ = push(queue, marker: UInt8(i)) }
        #expect(pop(queue)?.underLoad == false, "7 of 64 queued: not under load")
        for i in 0..<2 { _ = push(queue, marker: UInt8(i)) }
        #expect(pop(queue, now: .seconds(10))?.underLoad == true, "8 of 64 queued: under load")
        // Back below 1/8, still under load for a second after it was last that full.
        #expect(pop(queue, now: .seconds(10.5))?.underLoad == true)
        #expect(pop(queue, now: .seconds(11.1))?.underLoad == false)
    }

    @Test func capacityIsClampedToTheKernelsMaximum() {
        #expect(HandshakeQueue(capacity: 1_000_000).capacity == WireGuard.maxQueuedHandshakes)
        #expect(HandshakeQueue(capacity: 1).capacity == 8)
    }
}

extension Instant {
    static func seconds(_ s: Double) -> Instant { Instant(nanoseconds: UInt64(s * 1e9)) }
}
