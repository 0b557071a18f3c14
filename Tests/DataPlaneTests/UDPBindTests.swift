import Glibc
import Protocol
import Synchronization
import System
import Testing
@testable import DataPlane

/// The real sockets' ownership: close wakes a receiver, waits for calls in progress, and frees
/// the port at once; a call after close touches no descriptor. (UDP on this host's wildcard
/// address, port chosen by the kernel; nothing is sent.)
@Suite struct UDPBindTests {
    @Test func closeWakesTheReceiverAndFreesThePortAtOnce() throws {
        let sockets = try UDPBind().open(port: 0, fwmark: 0)
        let port = sockets.port
        let returned = Atomic<Int>(-1)
        let done = ThreadGroup()
        _ = done.enter()
        try Threads.spawn(name: "test-receiver") {
            var slot = ReceivedDatagram()
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 16)
            slot.data = buffer.baseAddress
            slot.capacity = buffer.count
            let n = withUnsafeMutablePointer(to: &slot) { sockets.receive(UnsafeMutableBufferPointer(start: $0, count: 1), waitingAtMost: 5000) }
            returned.store(n, ordering: .releasing)
            buffer.deallocate()
            done.leave()
        }
        usleep(100_000)  // the receiver is in its wait
        var start = timespec(), end = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        sockets.close()
        clock_gettime(CLOCK_MONOTONIC, &end)
        let waited = Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
        done.wait()
        #expect(returned.load(ordering: .acquiring) == 0)
        #expect(waited < 1, "close waited \(waited) s for a receiver it should have woken")
        // The port is free the moment close returns, though the object lives on.
        let again = try UDPBind().open(port: port, fwmark: 0)
        #expect(again.port == port)
        again.close()
        // Calls after close do nothing with the closed descriptors.
        var iov = iovec()
        #expect(throws: Errno.badFileDescriptor) {
            _ = try withUnsafePointer(to: &iov) { pointer throws(Errno) in
                try sockets.send(UnsafeBufferPointer(start: pointer, count: 1), to: Endpoint("192.0.2.1:9")!, from: .none)
            }
        }
        _ = sockets
    }
}
