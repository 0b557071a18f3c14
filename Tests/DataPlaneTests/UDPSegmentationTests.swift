import CShim
import Glibc
import Protocol
import Synchronization
import System
import Testing
@testable import DataPlane

/// UDP GSO on the real sockets: a batch of equal-sized datagrams leaves as one segmented send,
/// and what arrives is the same datagrams, boundaries and bytes, in order. Over loopback in a
/// network namespace of the test's own (a thread that unshares it), so it needs root.
@Suite struct UDPSegmentationTests {
    static let canUnshare = getuid() == 0

    /// Datagram i is `lengths[i]` bytes of the value i.
    static let lengths = [1000, 1000, 1000, 300, 700, 700, 1200]

    @Test(.enabled(if: canUnshare, "needs root: a network namespace of its own"))
    func datagramsArriveWhole() throws {
        let received = try Self.inOwnNamespace { try Self.sendAndReceive(gro: false) }
        #expect(received.map(\.count) == Self.lengths)
        for (i, datagram) in received.enumerated() { #expect(datagram.allSatisfy { $0 == UInt8(i) }) }
        #expect(wgd_udp_gso_enabled() == 1, "loopback takes segmented sends")
    }

    /// A receiver with UDP_GRO gets a segmented send as it left: the three 1000-byte datagrams
    /// and the shorter one behind them in one read, which only a segmented send produces.
    @Test(.enabled(if: canUnshare, "needs root: a network namespace of its own"))
    func equalSizedRunsLeaveAsOneSend() throws {
        let received = try Self.inOwnNamespace { try Self.sendAndReceive(gro: true) }
        #expect(received.map(\.count) == [3300, 1400, 1200])
    }

    /// UDPSockets to UDPSockets: the receiver's UDP_GRO takes each run as one, and its batches
    /// cut them back into the datagrams that were sent, across calls when a batch is smaller
    /// than a run, each from the sender's address.
    @Test(.enabled(if: canUnshare, "needs root: a network namespace of its own"))
    func coalescedRunsAreCutBackIntoTheirDatagrams() throws {
        let received = try Self.inOwnNamespace { try Self.sendAndReceiveThroughSockets(slots: 2, room: 2048) }
        #expect(received.map(\.count) == Self.lengths)
        for (i, datagram) in received.enumerated() { #expect(datagram.allSatisfy { $0 == UInt8(i) }) }
    }

    /// A datagram larger than its slot is handed out truncated (length 0), the others intact.
    @Test(.enabled(if: canUnshare, "needs root: a network namespace of its own"))
    func aDatagramLargerThanItsSlotIsTruncated() throws {
        let received = try Self.inOwnNamespace { try Self.sendAndReceiveThroughSockets(slots: 8, room: 900) }
        #expect(received.map(\.count) == Self.lengths.map { $0 > 900 ? 0 : $0 })
    }

    static func sendAndReceiveThroughSockets(slots: Int, room: Int) throws -> [[UInt8]] {
        let receiver = try UDPBind().open(port: 0, fwmark: 0)
        defer { receiver.close() }
        try send(to: receiver.port)
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: slots * room, alignment: 16)
        defer { memory.deallocate() }
        var batch = [ReceivedDatagram](repeating: ReceivedDatagram(), count: slots)
        var received: [[UInt8]] = []
        for _ in 0..<lengths.count {
            for i in 0..<slots {
                batch[i] = ReceivedDatagram()
                batch[i].data = memory.baseAddress! + i * room
                batch[i].capacity = room
            }
            let n = batch.withUnsafeMutableBufferPointer { receiver.receive($0, waitingAtMost: 1000) }
            guard n > 0 else { break }
            for slot in batch[0..<n] {
                guard slot.source == Endpoint("127.0.0.1:\(senderPort.load(ordering: .relaxed))") else { throw Errno(EPROTO) }
                received.append(Array(UnsafeRawBufferPointer(start: slot.data, count: slot.length)))
            }
            if received.count >= lengths.count { break }
        }
        return received
    }

    static let senderPort = Atomic<UInt16>(0)

    /// `lengths` in one batch from UDPSockets of their own to 127.0.0.1:`port`.
    static func send(to port: UInt16) throws {
        let sockets = try UDPBind().open(port: 0, fwmark: 0)
        defer { sockets.close() }
        senderPort.store(sockets.port, ordering: .relaxed)
        let payloads = lengths.enumerated().map { [UInt8](repeating: UInt8($0.offset), count: $0.element) }
        var datagrams = payloads.map { iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.withUnsafeBytes { $0.baseAddress! }), iov_len: $0.count) }
        let sent = try payloads.withUnsafeBufferPointer { _ in
            try datagrams.withUnsafeMutableBufferPointer { d throws(Errno) in
                try sockets.send(UnsafeBufferPointer(d), to: Endpoint("127.0.0.1:\(port)")!, from: .none)
            }
        }
        guard sent == lengths.count else { throw Errno(EIO) }
    }

    /// Runs `body` on a thread of its own in a fresh network namespace with loopback up.
    static func inOwnNamespace(_ body: @escaping @Sendable () throws -> [[UInt8]]) throws -> [[UInt8]] {
        let result = Mutex<Result<[[UInt8]], any Error>?>(nil)
        let done = ThreadGroup()
        _ = done.enter()
        try Threads.spawn(name: "test-netns") {
            defer { done.leave() }
            guard wgd_unshare_network() == 0 else {
                result.withLock { $0 = .failure(Errno.current) }
                return
            }
            result.withLock { $0 = Result { try loopbackUp(); return try body() } }
        }
        done.wait()
        return try result.withLock { $0 }!.get()
    }

    static func loopbackUp() throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var request = ifreq()
        withUnsafeMutableBytes(of: &request.ifr_ifrn.ifrn_name) { $0[0] = UInt8(ascii: "l"); $0[1] = UInt8(ascii: "o") }
        guard wgd_ioctl_ptr(fd, UInt(SIOCGIFFLAGS), &request) == 0 else { throw Errno.current }
        request.ifr_ifru.ifru_flags |= Int16(IFF_UP)
        guard wgd_ioctl_ptr(fd, UInt(SIOCSIFFLAGS), &request) == 0 else { throw Errno.current }
    }

    /// Sends `lengths` in one batch through UDPSockets to a plain socket on 127.0.0.1 and reads
    /// what arrives (one read per datagram, or per coalesced run with `gro`).
    static func sendAndReceive(gro: Bool) throws -> [[UInt8]] {
        let receiver = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(receiver) }
        var on: Int32 = 1
        if gro { guard setsockopt(receiver, Int32(IPPROTO_UDP), 104 /* UDP_GRO */, &on, 4) == 0 else { throw Errno.current } }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(receiver, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0 else { throw Errno.current }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(receiver, $0, &length) } }
        let port = UInt16(bigEndian: address.sin_port)

        try send(to: port)
        var received: [[UInt8]] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        for _ in 0..<lengths.count {
            let n = buffer.withUnsafeMutableBytes { recv(receiver, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n < 0 { break }
            received.append(Array(buffer[0..<n]))
        }
        return received
    }
}
