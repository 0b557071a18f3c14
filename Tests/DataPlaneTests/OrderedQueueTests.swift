import Glibc
import System
import Synchronization
import Testing
@testable import DataPlane

/// Per-peer order with parallel processing: whatever order workers finish in, packets are
/// delivered in the order their slots were reserved, by one drainer at a time.
@Suite struct OrderedQueueTests {
    @Test func deliversInReservationOrderAcrossThreads() throws {
        let queue = OrderedQueue()
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
    }

    @Test func fullQueueRefusesReservations() {
        let queue = OrderedQueue()
        for _ in 0..<OrderedQueue.capacity { #expect(queue.reserve() != nil) }
        #expect(queue.reserve() == nil)
        // Finishing the head frees exactly the slots delivered.
        var delivered = 0
        queue.finish(0) { _, count in delivered += count }
        #expect(delivered == 1)
        #expect(queue.reserve() != nil)
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
