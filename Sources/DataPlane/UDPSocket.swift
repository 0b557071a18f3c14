import CShim
import Glibc
import Protocol

/// The interface's UDP sockets: one IPv4 and one IPv6 (v6-only) on the same port, each asking
/// the kernel which local address a datagram arrived on, so that replies leave from it.
public final class UDPSockets: Sendable {
    public let v4: FileDescriptor
    private let v6Owner: FileDescriptor?
    /// The IPv6 socket's number, -1 without IPv6 (the owner above closes it).
    public let v6: Int32
    public let port: UInt16

    /// Binds `port` (0: the kernel picks one, then IPv6 takes the same). EADDRINUSE when taken.
    public init(port: UInt16, fwmark: UInt32) throws(Errno) {
        let v4 = try Self.open(family: AF_INET, port: port, fwmark: fwmark)
        let bound = try Self.boundPort(v4)
        // IPv6 may be absent (a kernel without it, or disabled): run IPv4 only then.
        var v6: FileDescriptor?
        do {
            v6 = try Self.open(family: AF_INET6, port: bound, fwmark: fwmark)
        } catch where error.code == EAFNOSUPPORT || error.code == EADDRNOTAVAIL {
            v6 = nil
        }
        self.v6 = v6?.rawValue ?? -1
        self.v4 = v4
        self.v6Owner = v6.take()
        self.port = bound
    }

    /// No sockets: what an interface holds once it released its port (`Interface.releaseSockets`).
    /// Port 0, descriptors -1: poll(2) skips them, and a send fails (EBADF) and is counted.
    public static func none() -> UDPSockets { UDPSockets(closed: ()) }

    private init(closed: Void) {
        v4 = FileDescriptor(taking: -1)  // closing -1 at deinit is a harmless EBADF
        v6Owner = nil
        v6 = -1
        port = 0
    }

    private static func open(family: Int32, port: UInt16, fwmark: UInt32) throws(Errno) -> FileDescriptor {
        let fd = FileDescriptor(taking: try retrying { Glibc.socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) })
        if family == AF_INET6 { try fd.setSocketOption(Int32(IPPROTO_IPV6), IPV6_V6ONLY, Int32(1)) }
        if fwmark != 0 { try fd.setSocketOption(SOL_SOCKET, SO_MARK, fwmark) }
        _ = try retrying { wgd_udp_enable_pktinfo(fd.rawValue, family) }
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

    private static func boundPort(_ fd: borrowing FileDescriptor) throws(Errno) -> UInt16 {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = try retrying { withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd.rawValue, $0, &length) } } }
        return UInt16(bigEndian: address.sin_port)
    }

    /// The socket for sending to `endpoint`.
    func socket(for endpoint: Endpoint) -> Int32? {
        switch endpoint.sendingAddress {
        case .v4: v4.rawValue
        case .v6: v6 >= 0 ? v6 : nil
        }
    }

    public func setFirewallMark(_ mark: UInt32) throws(Errno) {
        try v4.setSocketOption(SOL_SOCKET, SO_MARK, mark)
        if v6 >= 0 {
            var mark = mark
            _ = try retrying { setsockopt(v6, SOL_SOCKET, SO_MARK, &mark, socklen_t(MemoryLayout<UInt32>.size)) }
        }
    }
}
