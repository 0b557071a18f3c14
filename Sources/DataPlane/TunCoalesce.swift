import Glibc

/// Coalescing for TUN writes, the counterpart of cutting super-packets on read: consecutive TCP
/// segments (or UDP datagrams, where the kernel takes USO) of one flow, as a peer's run of
/// packets decrypts, are written as one super-packet behind a virtio header (GSO, checksum
/// partial), so the kernel takes one write and one pass through its stack for them and cuts them
/// again where it must. The rules are the kernel's GRO rules: the same flow and headers, equal
/// segments but a shorter last, nothing fragmented or with IP options; for TCP, contiguous
/// sequence numbers and ACK alone (PSH only on the last); for UDP over IPv4, consecutive IDs
/// (the kernel numbers the datagrams it cuts from the first one's).
/// Inner checksums are not verified: the AEAD already authenticated the packet (the kernel's
/// WireGuard marks decrypted packets CHECKSUM_UNNECESSARY for the same reason).
/// Pure functions over bytes.
public enum TunCoalesce {
    /// A TCP segment or UDP datagram that may start or join a super-packet.
    public struct Segment: Equatable {
        let v6: Bool, udp: Bool
        /// IP and TCP (UDP) headers; then `payload` bytes, from `sequence` on for TCP.
        let headers: Int, payload: Int, sequence: UInt32
        let pushes: Bool
        /// The IPv4 ID (UDP).
        let id: UInt16
        /// Options are never coalesced, so the IP header's length follows from the version.
        var ipHeader: Int { v6 ? 40 : 20 }
    }

    private static let ack: UInt8 = 0x10, push: UInt8 = 0x08

    /// The most datagrams one UDP super-packet carries (the kernel's UDP_MAX_SEGMENTS).
    static let udpSegments = 64

    /// `packet` as a segment, or nil when it is not one that coalesces; UDP only with `udp` (a
    /// kernel that takes UDP super-packets from a TUN).
    public static func segment(_ packet: UnsafeRawBufferPointer, udp: Bool = false) -> Segment? {
        let ip: Int, v6: Bool, proto: UInt8
        switch packet.count >= 28 ? packet[0] >> 4 : 0 {
        case 4:
            // No options, not a fragment, and its total length is what we hold.
            proto = packet[9]
            guard packet[0] == 0x45, be16(packet, 6) & 0x3fff == 0, be16(packet, 2) == packet.count else { return nil }
            ip = 20; v6 = false
        case 6:
            guard packet.count >= 48, be16(packet, 4) + 40 == packet.count else { return nil }
            proto = packet[6]
            ip = 40; v6 = true
        default:
            return nil
        }
        if udp && proto == 17 {
            // A datagram with a payload, whose UDP length is what we hold.
            guard packet.count > ip + 8, be16(packet, ip + 4) == packet.count - ip else { return nil }
            return Segment(v6: v6, udp: true, headers: ip + 8, payload: packet.count - ip - 8, sequence: 0, pushes: false,
                           id: v6 ? 0 : UInt16(be16(packet, 4)))
        }
        guard proto == 6, packet.count >= ip + 20 else { return nil }
        let headers = ip + Int(packet[ip + 12] >> 4) * 4
        let flags = packet[ip + 13]
        guard headers >= ip + 20, headers < packet.count, flags & ~push == ack else { return nil }
        return Segment(v6: v6, udp: false, headers: headers, payload: packet.count - headers,
                       sequence: UInt32(be16(packet, ip + 4)) << 16 | UInt32(be16(packet, ip + 6)),
                       pushes: flags & push != 0, id: 0)
    }

    /// Whether `next` continues the super-packet that `first` (whose bytes are `head`) starts
    /// and `last` ends so far, `length` bytes long.
    public static func follows(_ next: UnsafeRawBufferPointer, _ segment: Segment, head: UnsafeRawBufferPointer,
                               first: Segment, last: Segment, length: Int) -> Bool {
        guard segment.v6 == first.v6, segment.udp == first.udp, segment.headers == first.headers, !last.pushes,
              last.payload == first.payload, segment.payload <= first.payload,
              length + segment.payload - (first.v6 ? 40 : 0) <= 65_535 else { return false }
        let ip = first.ipHeader
        // The same IP header but for its length, id and checksum (v4) or length (v6) ...
        let sameIP = first.v6
            ? same(next, head, 0..<4) && same(next, head, 6..<40)
            : same(next, head, 1..<2) && same(next, head, 6..<10) && same(next, head, 12..<20)
        if first.udp {
            // ... the same ports, fewer than the most datagrams, and (v4) the next ID.
            return sameIP && same(next, head, ip..<ip + 4) && (length - first.headers) / first.payload < udpSegments
                && (first.v6 || segment.id == last.id &+ 1)
        }
        guard segment.sequence == last.sequence &+ UInt32(last.payload) else { return false }
        // ... and the same TCP header but for its sequence number, PSH and checksum.
        return sameIP && same(next, head, ip..<ip + 4) && same(next, head, ip + 8..<ip + 13)
            && same(next, head, ip + 14..<ip + 16) && same(next, head, ip + 18..<first.headers)
    }

    /// Makes `head`, now the headers of a super-packet of `length` bytes whose segments carry
    /// `first.payload` bytes each and end with `last`, fit to be written whole: its IP length
    /// (and v4 checksum), for TCP PSH if the last pushed (the kernel puts it on the last segment
    /// when it cuts), for UDP the whole length, the checksum field holding the pseudo-header's
    /// sum, and the virtio header.
    public static func finish(_ head: UnsafeMutableRawBufferPointer, _ first: Segment, last: Segment, length: Int) -> VirtioHeader {
        let ip = first.ipHeader
        if last.pushes { head[ip + 13] |= push }
        if first.udp { store16(head, ip + 4, length - ip) }
        if first.v6 {
            store16(head, 4, length - 40)
        } else {
            store16(head, 2, length)
            store16(head, 10, 0)
            store16(head, 10, Int(InternetChecksum.checksum(UnsafeRawBufferPointer(rebasing: head[0..<20]))))
        }
        let addresses = UnsafeRawBufferPointer(rebasing: head[(first.v6 ? 8 : 12)..<ip])
        let field = first.udp ? 6 : 16
        store16(head, ip + field, Int(InternetChecksum.fold(InternetChecksum.sum(addresses, initial: (first.udp ? 17 : 6) + UInt64(length - ip)))))
        var header = VirtioHeader()
        header.flags = VirtioHeader.needsChecksum
        header.gsoType = first.udp ? VirtioHeader.gsoUDP : first.v6 ? VirtioHeader.gsoTCPv6 : VirtioHeader.gsoTCPv4
        header.headerLength = UInt16(first.headers)
        header.gsoSize = UInt16(first.payload)
        header.checksumStart = UInt16(ip)
        header.checksumOffset = UInt16(field)
        return header
    }

    private static func be16(_ p: UnsafeRawBufferPointer, _ at: Int) -> Int { Int(p[at]) << 8 | Int(p[at + 1]) }

    private static func store16(_ p: UnsafeMutableRawBufferPointer, _ at: Int, _ value: Int) {
        p[at] = UInt8(truncatingIfNeeded: value >> 8)
        p[at + 1] = UInt8(truncatingIfNeeded: value)
    }

    private static func same(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        memcmp(a.baseAddress! + range.lowerBound, b.baseAddress! + range.lowerBound, range.count) == 0
    }
}
