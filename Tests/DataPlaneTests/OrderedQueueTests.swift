import Glibc
import System
import Synchronization
import Testing
@testable import DataPlane

/// Per-peer order with parallel processing: whatever order workers finish in, packets are
/// delivered in the order their slots were reserved, by one drainer at a time.
@Suite struct OrderedQueueTests {
    @Test func deliversInReservationOrderAcrossThreads() throws {
        // A pool barely larger than one full queue: 20,000 packets cross chunk boundaries
        // (and reuse every chunk) over a thousand times.
        let pool = JobPool(chunks: OrderedQueue.capacity / JobPool.chunkSize + 2)
        let queue = OrderedQueue(pool: pool)
        let total = 20_000
        let delivered = Mutex<[Int]>([])
        let draining = Atomic<Int>(0)
        let overlaps = Atomic<Int>(0)
        let finished = Atomic<Int>(0)
        let early = Atomic<Int>(0)
        let work = WorkQueue<Int>(capacity: total)
        // Producer: reserve in order, tag each job with its sequence number, hand it to workers.
        let workers = 4
        for i in 0..<workers {
            try Threads.spawn(name: "test-worker-\(i)") {
                var random = SystemRandomNumberGenerator()
                while finished.load(ordering: .acquiring) < total {
                    guard let slot = work.pop() else { continue }
                    if Int.random(in: 0..<8, using: &random) == 0 { usleep(UInt32.random(in: 0..<50, using: &random)) }
                    queue.job(slot).pointee.authenticated = true   // "processed"
                    queue.finish(slot) { first, count in
                        if draining.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue > 1 { overlaps.wrappingAdd(1, ordering: .relaxed) }
                        delivered.withLock { list in
                            for s in first..<first + count {
                                if !queue.job(s).pointee.authenticated { early.wrappingAdd(1, ordering: .relaxed) }
                                list.append(queue.job(s).pointee.length)
                                queue.job(s).pointee.authenticated = false
                            }
                        }
                        draining.wrappingSubtract(1, ordering: .acquiringAndReleasing)
                    }
                    finished.wrappingAdd(1, ordering: .releasing)
                }
            }
        }
        var sequence = 0
        let deadline = Date.now(plus: 30)
        while sequence < total && Date.before(deadline) {
            guard let slot = queue.reserve() else { usleep(100); continue }
            queue.job(slot).pointee.length = sequence
            #expect(work.push(slot))
            sequence += 1
        }
        while finished.load(ordering: .acquiring) < total && Date.before(deadline) { usleep(1_000) }
        work.wake(workers)
        let order = delivered.withLock { $0 }
        #expect(order.count == total)
        #expect(order == Array(0..<total), "first misordering at \(zip(order, 0...).first { $0 != $1 }.map { "\($0)" } ?? "none")")
        #expect(overlaps.load(ordering: .relaxed) == 0, "two drainers at once")
        #expect(early.load(ordering: .relaxed) == 0, "delivered before a worker finished it")
        #expect(queue.depth == 0)
        #expect(pool.available == pool.chunkCount, "a drained queue holds no chunk")
    }

    @Test func growsChunkByChunkUpToItsBoundThenRefuses() {
        let pool = JobPool(chunks: 4 * OrderedQueue.capacity / JobPool.chunkSize)
        let queue = OrderedQueue(pool: pool)
        #expect(pool.initialized == 0, "an idle queue takes nothing")
        var slots: [Int] = []
        for i in 0..<OrderedQueue.capacity {
            guard let slot = queue.reserve() else { Issue.record("refused at \(i)"); return }
            slots.append(slot)
            #expect(pool.chunkCount - pool.available == i / JobPool.chunkSize + 1)
        }
        #expect(queue.reserve() == nil)
        #expect(pool.exhaustions == 0, "refused by its bound, not by the pool")
        // Finishing the head frees exactly the slots delivered.
        var delivered = 0
        queue.finish(slots[0]) { _, count in delivered += count }
        #expect(delivered == 1)
        #expect(queue.reserve() != nil)
    }

    /// A drainer that gathers (takes the slots' packets and sends them after its runs) stays
    /// the drainer until it has sent them: a slot finished meanwhile by another thread is left
    /// to it, and goes after what it gathered.
    @Test func whatADrainerGatheredLeavesBeforeLaterSlots() throws {
        let pool = JobPool(chunks: 4)
        let queue = OrderedQueue(pool: pool)
        let first = try #require(queue.reserve()), second = try #require(queue.reserve())
        let sent = Mutex<[String]>([])
        let sending = Atomic<Bool>(false), done = Atomic<Bool>(false)
        try Threads.spawn(name: "test-drainer") {
            var gathered: [Int] = []
            queue.finish(first, deliver: { start, count in gathered += start..<start + count },
                         delivered: {
                             sending.store(true, ordering: .releasing)
                             usleep(100_000)   // the send takes a while
                             sent.withLock { $0.append("drainer \(gathered)") }
                             gathered = []
                         })
            done.store(true, ordering: .releasing)
        }
        for _ in 0..<500 where !sending.load(ordering: .acquiring) { usleep(1000) }
        let started = sending.load(ordering: .acquiring)
        #expect(started)
        queue.finish(second, deliver: { start, count in sent.withLock { $0.append("other \(Array(start..<start + count))") } })
        for _ in 0..<5000 where !done.load(ordering: .acquiring) { usleep(1000) }
        #expect(sent.withLock { $0 } == ["drainer \([first])", "drainer \([second])"])
        #expect(queue.depth == 0 && pool.available == 4)
    }

    @Test func drainedQueueHandsItsChunksBack() {
        let pool = JobPool(chunks: 64)
        let queue = OrderedQueue(pool: pool)
        let slots = (0..<3 * JobPool.chunkSize + 5).compactMap { _ in queue.reserve() }
        #expect(pool.available == 64 - 4)
        var delivered: [Int] = []
        // Finished out of order: nothing moves until the head is done, then runs in order.
        for slot in slots.dropFirst() { queue.finish(slot) { first, n in delivered += first..<first + n } }
        #expect(delivered.isEmpty)
        #expect(pool.available == 64 - 4)
        queue.finish(slots[0]) { first, n in delivered += first..<first + n }
        #expect(delivered == slots)
        #expect(queue.depth == 0)
        #expect(pool.available == 64)
        // Chunks are reused, not made anew.
        #expect(pool.initialized == 4)
        for _ in 0..<10 * JobPool.chunkSize {
            guard let slot = queue.reserve() else { Issue.record("refused"); return }
            queue.finish(slot) { _, _ in }
        }
        #expect(pool.initialized == 4)
        #expect(pool.available == 64)
    }

    @Test func exhaustedPoolRefusesAndCounts() {
        let pool = JobPool(chunks: 3)
        let a = OrderedQueue(pool: pool), b = OrderedQueue(pool: pool)
        let first = (0..<2 * JobPool.chunkSize).compactMap { _ in a.reserve() }
        #expect(first.count == 2 * JobPool.chunkSize)
        let second = (0..<JobPool.chunkSize).compactMap { _ in b.reserve() }
        #expect(second.count == JobPool.chunkSize)
        // Both queues are far below their bound, but the pool is dry.
        #expect(a.reserve() == nil)
        #expect(b.reserve() == nil)
        #expect(pool.exhaustions == 2)
        for slot in first { a.finish(slot) { _, _ in } }
        #expect(pool.available == 2)
        #expect(b.reserve() != nil, "another peer gets what one handed back")
    }

    @Test func queueDroppedWithPacketsReturnsBuffersAndChunks() throws {
        let buffers = BufferPool(mtu: 1420, count: 8)
        let pool = JobPool(chunks: 4)
        do {
            let queue = OrderedQueue(pool: pool)
            for _ in 0..<5 {
                let slot = try #require(queue.reserve())
                queue.job(slot).pointee.buffer = buffers.take()
            }
            #expect(buffers.available == 3)
        }
        #expect(buffers.available == 8)
        #expect(pool.available == 4)
    }

    @Test func workQueueIsBounded() {
        let work = WorkQueue<Int>(capacity: 2)
        #expect(work.push(1))
        #expect(work.push(2))
        #expect(!work.push(3))
        #expect(work.pop() == 1)
        #expect(work.pop() == 2)
    }
}

/// A monotonic deadline without Foundation.
private enum Date {
    static func now(plus seconds: Int) -> timespec {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        t.tv_sec += seconds
        return t
    }

    static func before(_ deadline: timespec) -> Bool {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return (t.tv_sec, t.tv_nsec) < (deadline.tv_sec, deadline.tv_nsec)
    }
}

/// Staging: packets wait in chunks of the shared pool, 128 at most, the oldest going first.
@Suite struct StagedTests {
    @Test func stagesUpToItsBoundDroppingTheOldest() {
        let buffers = BufferPool(mtu: 1420, count: 256)
        let pool = JobPool(chunks: 64)
        let runtime = PeerRuntime(pool: pool)
        #expect(pool.initialized == 0)
        for i in 0..<PeerRuntime.stagedCapacity + 10 {
            guard var buffer = buffers.take() else { Issue.record("no buffer"); return }
            buffer.length = i
            // Past the bound each new packet displaces the oldest, and says so (Send counts it).
            let staged = runtime.stage(buffer)
            #expect(staged == (i < PeerRuntime.stagedCapacity ? .kept : .keptDroppingOldest))
        }
        #expect(runtime.stagedCount == PeerRuntime.stagedCapacity)
        #expect(buffers.available == 256 - PeerRuntime.stagedCapacity, "the dropped ones came back")
        var expected = 10
        while let buffer = runtime.unstage() {
            #expect(buffer.length == expected)
            expected += 1
        }
        #expect(expected == PeerRuntime.stagedCapacity + 10)
        #expect(pool.available == 64, "an empty stage holds no chunk")
        #expect(buffers.available == 256)
    }

    @Test func stagingWithADryPoolDropsTheNewPacket() {
        let buffers = BufferPool(mtu: 1420, count: 64)
        let pool = JobPool(chunks: 1)
        let runtime = PeerRuntime(pool: pool)
        for _ in 0..<JobPool.chunkSize {
            guard let buffer = buffers.take() else { Issue.record("no buffer"); return }
            #expect(runtime.stage(buffer) == .kept)
        }
        guard let extra = buffers.take() else { Issue.record("no buffer"); return }
        #expect(runtime.stage(extra) == .dropped)
        #expect(runtime.stagedCount == JobPool.chunkSize)
        #expect(buffers.available == 64 - JobPool.chunkSize)
        runtime.purgeStaged()
        #expect(buffers.available == 64)
        #expect(pool.available == 1)
    }

    @Test func aJobFitsTwoCacheLines() {
        // The pool's reserve is chunks × 16 × this (documented in ARCHITECTURE): keep it there.
        #expect(MemoryLayout<Job>.stride <= 128)
    }
}
