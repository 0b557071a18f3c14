/// TUN offloads (IFF_VNET_HDR with TUNSETOFFLOAD: checksum, TSO and, on kernels from 6.2, USO):
/// the kernel hands us TCP and UDP super-packets of up to 64 KiB, each with a virtio_net_hdr,
/// instead of one read per segment. We cut them into segments with complete headers and
/// checksums, as a NIC would, and finish the checksum the kernel left partial on single packets.
/// Pure functions over bytes.

/// The 10-byte header in front of every packet (struct virtio_net_hdr, native byte order).
public struct VirtioHeader: Equatable, Sendable {
    public static let length = 10
    static let needsChecksum: UInt8 = 1
    static let gsoNone: UInt8 = 0, gsoTCPv4: UInt8 = 1, gsoTCPv6: UInt8 = 4, gsoUDP: UInt8 = 5

    public var flags: UInt8 = 0
    public var gsoType: UInt8 = 0
    public var headerLength: UInt16 = 0
    public var gsoSize: UInt16 = 0
    public var checksumStart: UInt16 = 0
    public var checksumOffset: UInt16 = 0

    public init() {}

    public init(_ bytes: UnsafeRawBufferPointer) {
        flags = bytes[0]
        gsoType = bytes[1]
        headerLength = bytes.loadUnaligned(fromByteOffset: 2, as: UInt16.self)
        gsoSize = bytes.loadUnaligned(fromByteOffset: 4, as: UInt16.self)
        checksumStart = bytes.loadUnaligned(fromByteOffset: 6, as: UInt16.self)
        checksumOffset = bytes.loadUnaligned(fromByteOffset: 8, as: UInt16.self)
    }

    public func write(to bytes: UnsafeMutableRawBufferPointer) {
        bytes[0] = flags
        bytes[1] = gsoType
        bytes.storeBytes(of: headerLength, toByteOffset: 2, as: UInt16.self)
        bytes.storeBytes(of: gsoSize, toByteOffset: 4, as: UInt16.self)
        bytes.storeBytes(of: checksumStart, toByteOffset: 6, as: UInt16.self)
        bytes.storeBytes(of: checksumOffset, toByteOffset: 8, as: UInt16.self)
    }
}

/// The Internet checksum (RFC 1071): a ones'-complement sum of 16-bit big-endian words.
public enum InternetChecksum {
    /// The unfolded sum of `bytes`, added to `initial`.
    public static func sum(_ bytes: UnsafeRawBufferPointer, initial: UInt64 = 0) -> UInt64 {
        var total = initial
        var i = 0
        let n = bytes.count
        // Eight bytes at a time: a sum of big-endian words is the byte-swapped sum of
        // little-endian ones, and 64-bit lanes carry into the upper half instead of overflowing.
        var wide: UInt64 = 0
        while i + 8 <= n {
            let word = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let (s, carry) = wide.addingReportingOverflow(word)
            wide = s &+ (carry ? 1 : 0)
            i += 8
        }
        let folded = (wide & 0xffff_ffff) + (wide >> 32)
        let little = (folded & 0xffff) + ((folded >> 16) & 0xffff) + (folded >> 32)
        total += UInt64(UInt16(truncatingIfNeeded: fold(little)).byteSwapped)
        while i + 2 <= n {
            total += UInt64(bytes[i]) << 8 | UInt64(bytes[i + 1])
            i += 2
        }
        if i < n { total += UInt64(bytes[i]) << 8 }
        return total
    }

    /// The sum folded to 16 bits (not complemented).
    public static func fold(_ sum: UInt64) -> UInt16 {
        var s = sum
        while s >> 16 != 0 { s = (s & 0xffff) + (s >> 16) }
        return UInt16(s)
    }

    /// The checksum field's value for `bytes` (with the field zeroed) after a pseudo-header sum.
    public static func checksum(_ bytes: UnsafeRawBufferPointer, initial: UInt64 = 0) -> UInt16 {
        ~fold(sum(bytes, initial: initial))
    }
}

/// What is wrong with a packet the kernel handed us, if we cannot segment or finish it.
public enum OffloadError: Error, Equatable {
    case malformed
    case unsupported
}

public enum TunOffload {
    /// Finishes a checksum the kernel left partial (VIRTIO_NET_HDR_F_NEEDS_CSUM): the field at
    /// start+offset holds the pseudo-header's sum; the checksum covers everything from start.
    public static func finishChecksum(_ packet: UnsafeMutableRawBufferPointer, _ header: VirtioHeader) throws(OffloadError) {
        let start = Int(header.checksumStart), field = start + Int(header.checksumOffset)
        guard start < packet.count, field + 2 <= packet.count else { throw .malformed }
        let value = InternetChecksum.checksum(UnsafeRawBufferPointer(rebasing: packet[start...]))
        packet.storeBytes(of: value.bigEndian, toByteOffset: field, as: UInt16.self)
    }

    /// The IP and transport header lengths of a TCP or (`udp`) UDP packet (IPv4 or IPv6 without
    /// extension headers).
    static func headerLengths(_ packet: UnsafeRawBufferPointer, udp: Bool) throws(OffloadError) -> (ip: Int, transport: Int, v6: Bool) {
        guard packet.count >= 20 else { throw .malformed }
        let ip: Int, v6: Bool
        let proto: UInt8 = udp ? 17 : 6
        switch packet[0] >> 4 {
        case 4:
            ip = Int(packet[0] & 0x0f) * 4
            guard ip >= 20, packet[9] == proto else { throw ip < 20 ? .malformed : .unsupported }
            v6 = false
        case 6:
            ip = 40
            guard packet.count >= 40 else { throw .malformed }
            guard packet[6] == proto else { throw .unsupported }
            v6 = true
        default:
            throw .malformed
        }
        guard packet.count >= ip + (udp ? 8 : 20) else { throw .malformed }
        if udp { return (ip, 8, v6) }
        let tcp = Int(packet[ip + 12] >> 4) * 4
        guard tcp >= 20, packet.count >= ip + tcp else { throw .malformed }
        return (ip, tcp, v6)
    }

    /// Whether a super-packet's segments are UDP datagrams (USO) rather than TCP segments.
    static func isUDP(_ header: VirtioHeader) throws(OffloadError) -> Bool {
        switch header.gsoType {
        case VirtioHeader.gsoTCPv4, VirtioHeader.gsoTCPv6: return false
        case VirtioHeader.gsoUDP: return true
        default: throw .unsupported
        }
    }

    /// How many segments a super-packet makes, and the length of the largest.
    public static func segments(_ packet: UnsafeRawBufferPointer, _ header: VirtioHeader) throws(OffloadError) -> (count: Int, largest: Int) {
        let (ip, tcp, _) = try headerLengths(packet, udp: try isUDP(header))
        let size = Int(header.gsoSize)
        guard size > 0 else { throw .malformed }
        let payload = packet.count - ip - tcp
        return (max(1, (payload + size - 1) / size), ip + tcp + min(size, payload))
    }

    /// Writes segment `index` of a super-packet into `out` and returns its length: the headers
    /// copied, then IP length, IPv4 ID and checksum made right; for TCP the sequence number, flags
    /// (FIN and PSH on the last segment only, CWR on the first only) and checksum; for UDP the
    /// length and checksum.
    public static func segment(_ packet: UnsafeRawBufferPointer, _ header: VirtioHeader, index: Int,
                               into out: UnsafeMutableRawBufferPointer) throws(OffloadError) -> Int {
        let udp = try isUDP(header)
        let (ip, transport, v6) = try headerLengths(packet, udp: udp)
        let headers = ip + transport, size = Int(header.gsoSize)
        guard size > 0 else { throw .malformed }
        let payloadStart = headers + index * size
        guard payloadStart < packet.count || (index == 0 && packet.count == headers) else { throw .malformed }
        let payloadEnd = min(payloadStart + size, packet.count)
        let isLast = payloadEnd == packet.count
        let length = headers + payloadEnd - payloadStart
        guard length <= out.count, length <= 0xffff else { throw .malformed }
        UnsafeMutableRawBufferPointer(rebasing: out[0..<headers]).copyMemory(from: UnsafeRawBufferPointer(rebasing: packet[0..<headers]))
        UnsafeMutableRawBufferPointer(rebasing: out[headers..<length])
            .copyMemory(from: UnsafeRawBufferPointer(rebasing: packet[payloadStart..<payloadEnd]))
        if v6 {
            out.storeBytes(of: UInt16(length - 40).bigEndian, toByteOffset: 4, as: UInt16.self)
        } else {
            out.storeBytes(of: UInt16(length).bigEndian, toByteOffset: 2, as: UInt16.self)
            let id = UInt16(bigEndian: packet.loadUnaligned(fromByteOffset: 4, as: UInt16.self))
            out.storeBytes(of: (id &+ UInt16(truncatingIfNeeded: index)).bigEndian, toByteOffset: 4, as: UInt16.self)
            out.storeBytes(of: 0, toByteOffset: 10, as: UInt16.self)
            let sum = InternetChecksum.checksum(UnsafeRawBufferPointer(rebasing: out[0..<ip]))
            out.storeBytes(of: sum.bigEndian, toByteOffset: 10, as: UInt16.self)
        }
        if udp {
            out.storeBytes(of: UInt16(length - ip).bigEndian, toByteOffset: ip + 4, as: UInt16.self)
            out.storeBytes(of: 0, toByteOffset: ip + 6, as: UInt16.self)
            let datagram = UnsafeRawBufferPointer(rebasing: out[ip..<length])
            let sum = InternetChecksum.checksum(datagram, initial: pseudoHeaderSum(UnsafeRawBufferPointer(out), v6: v6, proto: 17, length: length - ip))
            // A computed 0 goes as all ones: 0 in a UDP header means no checksum.
            out.storeBytes(of: (sum == 0 ? 0xffff : sum).bigEndian, toByteOffset: ip + 6, as: UInt16.self)
            return length
        }
        let seq = UInt32(bigEndian: packet.loadUnaligned(fromByteOffset: ip + 4, as: UInt32.self))
        out.storeBytes(of: (seq &+ UInt32(truncatingIfNeeded: index * size)).bigEndian, toByteOffset: ip + 4, as: UInt32.self)
        let fin: UInt8 = 0x01, psh: UInt8 = 0x08, cwr: UInt8 = 0x80
        var flags = packet[ip + 13]
        if !isLast { flags &= ~(fin | psh) }
        if index > 0 { flags &= ~cwr }
        out[ip + 13] = flags
        out.storeBytes(of: 0, toByteOffset: ip + 16, as: UInt16.self)
        let segment = UnsafeRawBufferPointer(rebasing: out[ip..<length])
        let sum = InternetChecksum.checksum(segment, initial: pseudoHeaderSum(UnsafeRawBufferPointer(out), v6: v6, proto: 6, length: length - ip))
        out.storeBytes(of: sum.bigEndian, toByteOffset: ip + 16, as: UInt16.self)
        return length
    }

    /// The pseudo-header's sum: addresses, protocol and the transport length.
    static func pseudoHeaderSum(_ packet: UnsafeRawBufferPointer, v6: Bool, proto: UInt64, length: Int) -> UInt64 {
        let addresses = v6 ? UnsafeRawBufferPointer(rebasing: packet[8..<40]) : UnsafeRawBufferPointer(rebasing: packet[12..<20])
        return InternetChecksum.sum(addresses, initial: proto + UInt64(length))
    }
}
