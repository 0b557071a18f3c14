import Testing
@testable import DataPlane

/// The packet memory reserved at start: fixed count, no growth, exhaustion counted, handles return
/// themselves exactly once.
@Suite struct BufferPoolTests {
    @Test func sizedFromTheMTU() {
        let pool = BufferPool(mtu: 1420, count: 8)
        #expect(pool.bufferSize >= BufferPool.headroom + 1420 + 16 + 16)
        #expect(pool.bufferSize % 64 == 0)
        #expect(pool.available == 8)
    }

    @Test func exhaustionReturnsNilAndIsCountedAndNothingGrows() {
        let pool = BufferPool(mtu: 1420, count: 4)
        var held: [Int32] = []
        for _ in 0..<4 {
            guard let buffer = pool.take() else { Issue.record("pool ran dry early"); return }
            held.append(buffer.index)
            _ = consume buffer   // returns at once
        }
        #expect(pool.available == 4)
        // Hold all four (in a nested scope) and ask for a fifth.
        func holdAll(_ depth: Int) {
            if depth == 4 {
                let fifth = pool.take() == nil, sixth = pool.take() == nil
                #expect(fifth && sixth)
                #expect(pool.available == 0)
                return
            }
            guard let buffer = pool.take() else { Issue.record("missing buffer"); return }
            holdAll(depth + 1)
            _ = buffer.index
        }
        holdAll(0)
        #expect(pool.exhaustions == 2)
        #expect(pool.available == 4, "every handle came back")
    }

    /// The bound is a limit: a deep pool costs nothing until packets use it, and then only the
    /// pages of the buffers that were in use at once (the free list is a stack, so the same
    /// buffers come back), however many packets pass.
    @Test(arguments: [true, false]) func onlyBuffersInUseAtOnceBecomeResident(locked: Bool) {
        let pool = BufferPool(mtu: 1420, count: 4096, locked: locked)
        let bound = pool.bufferSize * pool.count
        #expect(pool.residentBytes == 0)
        for round in 0..<1000 {
            guard let a = pool.take(), let b = pool.take() else { Issue.record("pool ran dry"); return }
            a.bytes.storeBytes(of: UInt64(round), toByteOffset: 0, as: UInt64.self)
            b.bytes.storeBytes(of: UInt64(round), toByteOffset: pool.bufferSize - 8, as: UInt64.self)
            _ = consume a
            _ = consume b
        }
        let resident = pool.residentBytes
        #expect(resident > 0 && resident <= 2 * pool.bufferSize + 2 * 4096, "\(resident) of \(bound) bytes resident")
    }

    @Test func buffersDoNotOverlap() {
        let pool = BufferPool(mtu: 1420, count: 3)
        guard let a = pool.take(), let b = pool.take(), let c = pool.take() else { Issue.record("take failed"); return }
        let spans = [a.bytes, b.bytes, c.bytes].map { UInt(bitPattern: $0.baseAddress!)..<UInt(bitPattern: $0.baseAddress!) + UInt($0.count) }
        #expect(!spans[0].overlaps(spans[1]) && !spans[1].overlaps(spans[2]) && !spans[0].overlaps(spans[2]))
        a.bytes.initializeMemory(as: UInt8.self, repeating: 0xAA)
        c.bytes.initializeMemory(as: UInt8.self, repeating: 0xCC)
        b.bytes.initializeMemory(as: UInt8.self, repeating: 0xBB)
        // Writing b left its neighbours intact.
        #expect(a.bytes.allSatisfy { $0 == 0xAA } && c.bytes.allSatisfy { $0 == 0xCC })
    }

    @Test func packetWindow() {
        let pool = BufferPool(mtu: 1420, count: 1)
        guard var buffer = pool.take() else { Issue.record("take failed"); return }
        buffer.start = BufferPool.headroom
        buffer.length = 100
        #expect(buffer.packet.count == 100)
        #expect(buffer.packet.baseAddress == buffer.bytes.baseAddress! + BufferPool.headroom)
    }
}
