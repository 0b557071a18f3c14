import CShim
import Glibc
import Protocol

/// Endpoint ⇄ sockaddr_in / sockaddr_in6, written straight into a datagram descriptor.
extension Endpoint {
    /// Reads a sockaddr the kernel filled in (recvmmsg's source address; getaddrinfo's answer).
    package init?(sockaddr bytes: UnsafeRawPointer, length: Int) {
        let family = bytes.load(as: sa_family_t.self)
        switch Int32(family) {
        case AF_INET where length >= MemoryLayout<sockaddr_in>.size:
            let sin = bytes.loadUnaligned(as: sockaddr_in.self)
            self.init(address: .v4(IPv4Address(value: UInt32(bigEndian: sin.sin_addr.s_addr))), port: UInt16(bigEndian: sin.sin_port))
        case AF_INET6 where length >= MemoryLayout<sockaddr_in6>.size:
            let sin6 = bytes.loadUnaligned(as: sockaddr_in6.self)
            var address = sin6.sin6_addr
            let v6 = withUnsafeBytes(of: &address) { IPv6Address(networkOrder: $0.baseAddress!) }
            // A v4-mapped source on the v6 socket is an IPv4 peer.
            if v6.high == 0, v6.low >> 32 == 0xFFFF {
                self.init(address: .v4(IPv4Address(value: UInt32(truncatingIfNeeded: v6.low))), port: UInt16(bigEndian: sin6.sin6_port))
            } else {
                self.init(address: .v6(v6), port: UInt16(bigEndian: sin6.sin6_port))
            }
        default:
            return nil
        }
    }

    /// The address to send to: an IPv4-mapped IPv6 address ([::ffff:a.b.c.d], which wg passes
    /// through as written) is an IPv4 peer, reached over the IPv4 socket (ours for IPv6 is v6-only).
    var sendingAddress: IPAddress {
        if case .v6(let v6) = address, v6.high == 0, v6.low >> 32 == 0xFFFF {
            return .v4(IPv4Address(value: UInt32(truncatingIfNeeded: v6.low)))
        }
        return address
    }

    /// Writes the sockaddr for this endpoint into `out` (at least 28 bytes); returns its length.
    func writeSockaddr(into out: UnsafeMutableRawPointer) -> UInt32 {
        switch sendingAddress {
        case .v4(let v4):
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            sin.sin_addr.s_addr = v4.value.bigEndian
            out.storeBytes(of: sin, as: sockaddr_in.self)
            return UInt32(MemoryLayout<sockaddr_in>.size)
        case .v6(let v6):
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port.bigEndian
            v6.withUnsafeBytes { bytes in withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.copyMemory(from: bytes) } }
            out.storeBytes(of: sin6, as: sockaddr_in6.self)
            return UInt32(MemoryLayout<sockaddr_in6>.size)
        }
    }
}
