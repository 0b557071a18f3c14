/// Just enough of the IPv4 and IPv6 headers for a tunnel: which family, the packet's real length
/// (to strip WireGuard's padding) and the addresses that allowed-IPs routing looks at.
public enum IPPacket {
    public enum Family: Sendable { case v4, v6 }

    public static let ipv4HeaderLength = 20
    public static let ipv6HeaderLength = 40

    /// Family and total length from the header, or nil if `packet` is not a plausible IP packet
    /// (no IP version, shorter than its header, or claiming more bytes than it has).
    public static func parse(_ packet: UnsafeRawBufferPointer) -> (family: Family, length: Int)? {
        guard let first = packet.first else { return nil }
        switch first >> 4 {
        case 4:
            guard packet.count >= ipv4HeaderLength else { return nil }
            let length = Int(UInt16(bigEndian: packet.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
            guard length >= ipv4HeaderLength, length <= packet.count else { return nil }
            return (.v4, length)
        case 6:
            guard packet.count >= ipv6HeaderLength else { return nil }
            let length = Int(UInt16(bigEndian: packet.loadUnaligned(fromByteOffset: 4, as: UInt16.self))) + ipv6HeaderLength
            guard length <= packet.count else { return nil }
            return (.v6, length)
        default:
            return nil
        }
    }

    public static func source(_ packet: UnsafeRawBufferPointer, _ family: Family) -> IPAddress {
        address(packet, family, v4Offset: 12, v6Offset: 8)
    }

    public static func destination(_ packet: UnsafeRawBufferPointer, _ family: Family) -> IPAddress {
        address(packet, family, v4Offset: 16, v6Offset: 24)
    }

    private static func address(_ packet: UnsafeRawBufferPointer, _ family: Family, v4Offset: Int, v6Offset: Int) -> IPAddress {
        switch family {
        case .v4: .v4(IPv4Address(value: UInt32(bigEndian: packet.loadUnaligned(fromByteOffset: v4Offset, as: UInt32.self))))
        case .v6: .v6(IPv6Address(high: UInt64(bigEndian: packet.loadUnaligned(fromByteOffset: v6Offset, as: UInt64.self)),
                                  low: UInt64(bigEndian: packet.loadUnaligned(fromByteOffset: v6Offset + 8, as: UInt64.self))))
        }
    }
}
