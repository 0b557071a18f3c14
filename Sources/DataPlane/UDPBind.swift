import CShim
public import Glibc
public import Protocol
public import System
import Synchronization

/// The kernel's UDP sockets: one IPv4 and one IPv6 (v6-only) socket on the same port, each
/// asking for the local address a datagram arrived on, so that replies leave from it.
public struct UDPBind: Bind {
    public init() {}

    public func open(port: UInt16, fwmark: UInt32) throws(Errno) -> any BoundSockets {
        try UDPSockets(port: port, fwmark: fwmark)
    }

    /// The sockets alone, for a process that binds them for another (the supervisor for its
    /// data plane).
    public static func openDescriptors(port: UInt16, fwmark: UInt32) throws(Errno) -> BoundDescriptors {
        let (v4, v6, bound) = try UDPSockets.openPairRetrying(port: port, fwmark: fwmark)
        return BoundDescriptors(v4: FileDescriptor(taking: v4), v6: FileDescriptor(taking: v6), port: bound)
    }
}

/// An IPv4 and an IPv6 socket bound to the same port; without IPv6, `v6` holds -1.
public struct BoundDescriptors: ~Copyable, Sendable {
    public let v4: FileDescriptor
    public let v6: FileDescriptor
    public let port: UInt16

    public var hasV6: Bool { v6.rawValue >= 0 }

    /// The numbers to pass on: IPv4's, then IPv6's if there is one.
    public var rawValues: [Int32] { hasV6 ? [v4.rawValue, v6.rawValue] : [v4.rawValue] }
}

/// Sockets handed over by the supervisor (router mode): `open` gives the last ones handed, on
/// descriptors of their own, so that the interface closes its copies as it always does. The
/// supervisor keeps the originals: the port stays bound across a restart of the data plane, and
/// it sets the firewall mark on them (this process may not).
public final class InheritedBind: Bind {
    private struct Handed {
        var v4: Int32
        var v6: Int32  // -1 without IPv6
        var port: UInt16
    }

    private let latest = Mutex<Handed?>(nil)

    public init() {}

    deinit { latest.withLock { Self.close($0) } }

    /// The sockets the next `open` gives; takes ownership.
    public func hand(v4: consuming FileDescriptor, v6: consuming FileDescriptor?, port: UInt16) {
        let v6Raw: Int32 = switch consume v6 {
        case .some(let fd): fd.release()
        case .none: -1
        }
        let fresh = Handed(v4: v4.release(), v6: v6Raw, port: port)
        let old = latest.withLock { current -> Handed? in
            defer { current = fresh }
            return current
        }
        Self.close(old)
    }

    public func open(port: UInt16, fwmark: UInt32) throws(Errno) -> any BoundSockets {
        guard let handed = latest.withLock({ $0 }) else { throw Errno(EADDRNOTAVAIL) }
        guard port == 0 || port == handed.port else { throw Errno(EADDRNOTAVAIL) }
        let v4 = try retrying { fcntl(handed.v4, F_DUPFD_CLOEXEC, 3) }
        var v6: Int32 = -1
        if handed.v6 >= 0 {
            do { v6 = try retrying { fcntl(handed.v6, F_DUPFD_CLOEXEC, 3) } } catch {
                _ = Glibc.close(v4)
                throw error
            }
        }
        return try UDPSockets(adopting: v4, v6: v6, port: handed.port)
    }

    private static func close(_ handed: Handed?) {
        guard let handed else { return }
        _ = Glibc.close(handed.v4)
        if handed.v6 >= 0 { _ = Glibc.close(handed.v6) }
    }
}

/// The sockets of one bind. Their descriptors never leave this object: every use happens inside
/// a method that holds a use count, and `close` closes them only once the count is zero, so a
/// port change can never close a descriptor another thread is about to use (or reuse its number).
/// Unchecked Sendable: the receive scratch is used by one thread at a time (checked), the rest
/// is immutable or atomic.
final class UDPSockets: BoundSockets, @unchecked Sendable {
    let port: UInt16
    private let v4: Int32
    private let v6: Int32  // -1 without IPv6
    private let wake: WakePipe
    /// Twice the number of calls in progress, plus 1 once closing started.
    private let uses = Atomic<Int>(0)
    private let descriptorsClosed = Atomic<Bool>(false)
    /// Which socket a receive tries first: alternated, so neither family starves the other.
    private let preferV6 = Atomic<Bool>(false)
    /// The kernel's view of a batch, made once: the interface receives on one thread, and a
    /// temporary allocation this size (over a kilobyte) would go to the heap on every batch.
    private let scratch = UnsafeMutablePointer<wgd_datagram>.allocate(capacity: UDPSockets.batchLimit)
    private let receiving = Atomic<Bool>(false)
    static let batchLimit = 64

    /// With UDP_GRO the kernel hands over a run of datagrams from one source as one buffer of up
    /// to 64 KiB, cut here into the caller's slots: one pass through the stack and one slot in
    /// recvmmsg per run rather than per datagram. The runs land in `coalesced` (reserved, each
    /// page resident once used); what did not fit the caller's batch waits in `pending` for the
    /// next call, which hands it out before it reads again. The receiving thread's alone.
    static let coalescedSlots = 8, coalescedRoom = 65_536
    private let coalesced: UnsafeMutableRawPointer
    private var pending = 0..<0
    private var pendingOffset = 0

    /// How often a random port is drawn again when IPv6 has the one IPv4 got.
    static let randomPortAttempts = 100

    /// Set when another process (the supervisor) owns the sockets' firewall mark: it sets the
    /// mark on its own descriptors of the same sockets, since this process may not.
    private let markedElsewhere: Bool

    init(port: UInt16, fwmark: UInt32) throws(Errno) {
        coalesced = Self.reserveCoalesced()
        wake = try WakePipe()
        (v4, v6, self.port) = try Self.openPairRetrying(port: port, fwmark: fwmark)
        markedElsewhere = false
    }

    /// Sockets another process bound and handed over (router mode's data plane). Takes
    /// ownership of the descriptors.
    init(adopting v4: Int32, v6: Int32, port: UInt16) throws(Errno) {
        coalesced = Self.reserveCoalesced()
        do {
            wake = try WakePipe()
        } catch {
            _ = Glibc.close(v4)
            if v6 >= 0 { _ = Glibc.close(v6) }
            throw error
        }
        (self.v4, self.v6, self.port) = (v4, v6, port)
        markedElsewhere = true
    }

    static func openPairRetrying(port: UInt16, fwmark: UInt32) throws(Errno) -> (Int32, Int32, UInt16) {
        var attempt = 1
        while true {
            do {
                return try openPair(port: port, fwmark: fwmark)
            } catch where port == 0 && error == .addressInUse && attempt < randomPortAttempts {
                // The kernel picked a port for IPv4 that something holds on IPv6: pick again
                // rather than fail a request that named no port (the kernel's set_port loops too).
                attempt += 1
            }
        }
    }

    /// An IPv4 socket on `port` and an IPv6 one on the port IPv4 got; IPv6 may be absent (a
    /// kernel without it, or disabled): then IPv4 only, and v6 is -1.
    private static func openPair(port: UInt16, fwmark: UInt32) throws(Errno) -> (Int32, Int32, UInt16) {
        let v4 = try open(family: AF_INET, port: port, fwmark: fwmark)
        let bound = try boundPort(v4.rawValue)
        var v6: Int32 = -1
        do {
            v6 = try open(family: AF_INET6, port: bound, fwmark: fwmark).release()
        } catch where error.code == EAFNOSUPPORT || error.code == EADDRNOTAVAIL {
            v6 = -1
        }
        return (v4.release(), v6, bound)
    }

    deinit {
        closeDescriptors()
        scratch.deallocate()
        munmap(coalesced, Self.coalescedSlots * Self.coalescedRoom)
    }

    private static func reserveCoalesced() -> UnsafeMutableRawPointer {
        let bytes = coalescedSlots * coalescedRoom
        let memory = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let memory, memory != MAP_FAILED else { fatalError("wgd: cannot reserve \(bytes) bytes for coalesced datagrams") }
        return memory
    }

    // MARK: BoundSockets

    func receive(_ batch: UnsafeMutableBufferPointer<ReceivedDatagram>, waitingAtMost milliseconds: Int32) -> Int {
        guard enter() else { return 0 }
        defer { leave() }
        precondition(!receiving.exchange(true, ordering: .acquiring), "UDPSockets: one receiving thread at a time")
        defer { receiving.store(false, ordering: .releasing) }
        var poll = PollSet()
        let first = preferV6.load(ordering: .relaxed) && v6 >= 0 ? v6 : v4
        let second = first == v4 ? v6 : v4
        poll.add(first)
        poll.add(second)
        poll.add(wake.pollable)
        if !pending.isEmpty { return handOut(into: batch) }
        guard (try? poll.wait(milliseconds: milliseconds)) ?? 0 > 0, !poll.isReady(2) else { return 0 }
        preferV6.store(first == v4, ordering: .relaxed)
        let fd = poll.isReady(0) ? first : second
        return receiveBatch(fd, batch)
    }

    func send(_ datagrams: UnsafeBufferPointer<iovec>, to endpoint: Endpoint, from source: LocalAddress) throws(Errno) -> Int {
        guard enter() else { throw Errno.badFileDescriptor }
        defer { leave() }
        let isV4 = endpoint.sendingAddress.isV4
        let fd = isV4 ? v4 : v6
        guard fd >= 0 else { throw Errno(EAFNOSUPPORT) }
        var remote = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        let remoteLength = withUnsafeMutableBytes(of: &remote) { endpoint.writeSockaddr(into: $0.baseAddress!) }
        // The sticky source only for the family it belongs to.
        let family = source.family == (isV4 ? AF_INET : AF_INET6) ? source.family : 0
        var local = source.bytes
        let sent = withUnsafeBytes(of: &remote) { r in
            withUnsafeBytes(of: &local) { l in
                wgd_udp_send_batch(fd, datagrams.baseAddress, UInt32(datagrams.count), r.baseAddress, remoteLength,
                                   family, l.baseAddress, source.interfaceIndex)
            }
        }
        if sent < 0 { throw Errno.current }
        return Int(sent)
    }

    func setFirewallMark(_ mark: UInt32) throws(Errno) {
        guard !markedElsewhere else { return }
        guard enter() else { throw Errno.badFileDescriptor }
        defer { leave() }
        var mark = mark
        for fd in [v4, v6] where fd >= 0 {
            _ = try retrying { setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, socklen_t(MemoryLayout<UInt32>.size)) }
        }
    }

    /// Wakes a receiver, waits (a second at most) for calls in progress to return, and closes the
    /// sockets, releasing the port. Should a call still be running then, the descriptors close
    /// when the last reference goes instead.
    func close() {
        guard uses.bitwiseOr(1, ordering: .acquiringAndReleasing).oldValue & 1 == 0 else { return }
        wake.signal()
        for _ in 0..<1000 where uses.load(ordering: .acquiring) != 1 { usleep(1000) }
        if uses.load(ordering: .acquiring) == 1 { closeDescriptors() }
    }

    private func enter() -> Bool {
        guard uses.wrappingAdd(2, ordering: .acquiring).oldValue & 1 == 0 else {
            leave()
            return false
        }
        return true
    }

    private func leave() { uses.wrappingSubtract(2, ordering: .releasing) }

    private func closeDescriptors() {
        guard !descriptorsClosed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        _ = Glibc.close(v4)
        if v6 >= 0 { _ = Glibc.close(v6) }
    }

    // MARK: setup

    private static func open(family: Int32, port: UInt16, fwmark: UInt32) throws(Errno) -> FileDescriptor {
        let fd = FileDescriptor(taking: try retrying { Glibc.socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) })
        if family == AF_INET6 { try fd.setSocketOption(Int32(IPPROTO_IPV6), IPV6_V6ONLY, Int32(1)) }
        if fwmark != 0 { try fd.setSocketOption(SOL_SOCKET, SO_MARK, fwmark) }
        _ = try retrying { wgd_udp_enable_pktinfo(fd.rawValue, family) }
        // Best effort: a kernel without UDP_GRO hands over one datagram at a time.
        _ = wgd_udp_enable_gro(fd.rawValue)
        // Room for bursts while the workers are busy.
        try? fd.setSocketOption(SOL_SOCKET, SO_RCVBUF, Int32(4 << 20))
        try? fd.setSocketOption(SOL_SOCKET, SO_SNDBUF, Int32(4 << 20))
        var storage = sockaddr_storage()
        let length: UInt32 = withUnsafeMutableBytes(of: &storage) { out in
            let any: Endpoint = family == AF_INET
                ? Endpoint(address: .v4(IPv4Address(value: 0)), port: port)
                : Endpoint(address: .v6(IPv6Address(high: 0, low: 0)), port: port)
            return any.writeSockaddr(into: out.baseAddress!)
        }
        _ = try retrying { withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd.rawValue, $0, length) } } }
        return fd
    }

    private static func boundPort(_ fd: Int32) throws(Errno) -> UInt16 {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = try retrying { withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } } }
        return UInt16(bigEndian: address.sin_port)
    }

    // MARK: receiving

    /// recvmmsg into the coalesced slots, then as many datagrams as the batch holds.
    private func receiveBatch(_ fd: Int32, _ batch: UnsafeMutableBufferPointer<ReceivedDatagram>) -> Int {
        for i in 0..<Self.coalescedSlots {
            scratch[i] = wgd_datagram()
            scratch[i].data = coalesced + i * Self.coalescedRoom
            scratch[i].capacity = UInt32(Self.coalescedRoom)
        }
        let received = Int(wgd_udp_receive(fd, scratch, UInt32(Self.coalescedSlots)))
        guard received > 0 else { return 0 }
        pending = 0..<received
        pendingOffset = 0
        return handOut(into: batch)
    }

    /// Copies the pending datagrams, a run's one segment at a time, into the batch's buffers;
    /// one too large for its slot is handed out truncated (length 0), as recvmmsg would have.
    private func handOut(into batch: UnsafeMutableBufferPointer<ReceivedDatagram>) -> Int {
        var n = 0
        while n < batch.count, let i = pending.first {
            var d = scratch[i]
            let total = d.truncated != 0 ? 0 : Int(d.length)
            let length = min(d.segment_size > 0 ? Int(d.segment_size) : total, total - pendingOffset)
            batch[n].truncated = d.truncated != 0 || length > batch[n].capacity
            batch[n].length = batch[n].truncated ? 0 : length
            if !batch[n].truncated, let data = batch[n].data, let run = d.data {
                data.copyMemory(from: run + pendingOffset, byteCount: length)
            }
            batch[n].source = withUnsafeBytes(of: &d.remote) { Endpoint(sockaddr: $0.baseAddress!, length: Int(d.remote_length)) }
            var local = LocalAddress(family: d.local_family, interfaceIndex: d.local_ifindex)
            withUnsafeBytes(of: &d.local) { src in withUnsafeMutableBytes(of: &local.bytes) { $0.copyMemory(from: src) } }
            batch[n].local = local
            n += 1
            pendingOffset += length
            if pendingOffset >= total {
                pending = pending.dropFirst()
                pendingOffset = 0
            }
        }
        return n
    }
}
