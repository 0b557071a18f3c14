import Testing
@testable import DataPlane

/// The Internet checksum the slow, obvious way (RFC 1071: 16-bit big-endian words, end-around
/// carry), to check the fast one and the headers the segmenter writes.
func referenceSum(_ bytes: [UInt8], initial: UInt32 = 0) -> UInt16 {
    var sum = initial
    var i = 0
    while i < bytes.count {
        sum += UInt32(bytes[i]) << 8 | (i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0)
        sum = (sum & 0xffff) + (sum >> 16)
        i += 2
    }
    while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
    return UInt16(sum)
}

private func be16(_ b: [UInt8], _ at: Int) -> Int { Int(b[at]) << 8 | Int(b[at + 1]) }
private func be32(_ b: [UInt8], _ at: Int) -> UInt32 { UInt32(be16(b, at)) << 16 | UInt32(be16(b, at + 2)) }

/// A TCP packet (IPv4 or IPv6) with a 12-byte option block, sequence 1000, the given flags and
/// payload; checksums are left zero (the kernel hands super-packets with a partial one).
func tcpPacket(v6: Bool, flags: UInt8, payload: [UInt8]) -> [UInt8] {
    var ip: [UInt8]
    let tcpLength = 32 + payload.count
    if v6 {
        ip = [0x60, 0, 0, 0, UInt8(tcpLength >> 8), UInt8(tcpLength & 0xff), 6, 64]
        ip += [0xfd] + [UInt8](repeating: 0, count: 14) + [1]
        ip += [0xfd] + [UInt8](repeating: 0, count: 14) + [2]
    } else {
        let total = 20 + tcpLength
        ip = [0x45, 0, UInt8(total >> 8), UInt8(total & 0xff), 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2]
    }
    var tcp: [UInt8] = [0x30, 0x39, 0x14, 0x51, 0, 0, 0x03, 0xe8, 0, 0, 0, 1, 0x80, flags, 0xff, 0xff, 0, 0, 0, 0]
    tcp += [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]
    return ip + tcp + payload
}

private func segments(_ packet: [UInt8], gsoType: UInt8, gsoSize: UInt16) throws -> [[UInt8]] {
    var header = VirtioHeader()
    header.gsoType = gsoType
    header.gsoSize = gsoSize
    header.flags = VirtioHeader.needsChecksum
    return try packet.withUnsafeBytes { p in
        let (count, largest) = try TunOffload.segments(p, header)
        var out: [[UInt8]] = []
        for i in 0..<count {
            var room = [UInt8](repeating: 0xee, count: largest)
            let n = try room.withUnsafeMutableBytes { try TunOffload.segment(p, header, index: i, into: $0) }
            out.append(Array(room[0..<n]))
        }
        return out
    }
}

/// The TCP checksum of a segment checks out (the sum over pseudo-header and segment is 0xffff).
func tcpChecksumHolds(_ segment: [UInt8], v6: Bool) -> Bool {
    let ip = v6 ? 40 : 20
    let addresses = v6 ? Array(segment[8..<40]) : Array(segment[12..<20])
    let pseudo = UInt32(referenceSum(addresses)) + 6 + UInt32(segment.count - ip)
    return referenceSum(Array(segment[ip...]), initial: pseudo) == 0xffff
}

/// A UDP datagram (IPv4 with ID `id`, or IPv6) from 192.0.2.1 (fd00::1) port 12345 to port
/// 5201, with its UDP length and checksum left as `check` (0: none) and `udpLength` (nil: right).
func udpDatagram(v6: Bool, id: UInt16 = 0x1234, payload: [UInt8], udpLength: Int? = nil, check: UInt16 = 0) -> [UInt8] {
    let length = udpLength ?? 8 + payload.count
    var ip: [UInt8]
    if v6 {
        ip = [0x60, 0, 0, 0, UInt8((8 + payload.count) >> 8), UInt8((8 + payload.count) & 0xff), 17, 64]
        ip += [0xfd] + [UInt8](repeating: 0, count: 14) + [1]
        ip += [0xfd] + [UInt8](repeating: 0, count: 14) + [2]
    } else {
        let total = 28 + payload.count
        ip = [0x45, 0, UInt8(total >> 8), UInt8(total & 0xff), UInt8(id >> 8), UInt8(id & 0xff), 0x40, 0, 64, 17, 0, 0,
              192, 0, 2, 1, 192, 0, 2, 2]
        let sum = ~referenceSum(ip)
        ip[10] = UInt8(sum >> 8); ip[11] = UInt8(sum & 0xff)
    }
    let udp: [UInt8] = [0x30, 0x39, 0x14, 0x51, UInt8((length >> 8) & 0xff), UInt8(length & 0xff), UInt8(check >> 8), UInt8(check & 0xff)]
    return ip + udp + payload
}

/// The UDP checksum of a datagram checks out (and is not 0, "none").
func udpChecksumHolds(_ datagram: [UInt8], v6: Bool) -> Bool {
    let ip = v6 ? 40 : 20
    let addresses = v6 ? Array(datagram[8..<40]) : Array(datagram[12..<20])
    let pseudo = UInt32(referenceSum(addresses)) + 17 + UInt32(datagram.count - ip)
    return datagram[ip + 6] | datagram[ip + 7] != 0 && referenceSum(Array(datagram[ip...]), initial: pseudo) == 0xffff
}

/// A UDP super-packet as the kernel hands one over with USO: the UDP length of the whole, and
/// the checksum field holding the pseudo-header's sum.
func udpSuperPacket(v6: Bool, payload: [UInt8]) -> [UInt8] {
    let ip = v6 ? 40 : 20
    var packet = udpDatagram(v6: v6, payload: payload)
    let addresses = v6 ? Array(packet[8..<40]) : Array(packet[12..<20])
    let partial = referenceSum(addresses, initial: 17 + UInt32(packet.count - ip))
    packet[ip + 6] = UInt8(partial >> 8); packet[ip + 7] = UInt8(partial & 0xff)
    return packet
}

@Suite struct TunOffloadTests {
    @Test func theFastChecksumIsTheReferenceOne() {
        var rng = SystemRandomNumberGenerator()
        for length in 0..<300 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let fast = bytes.withUnsafeBytes { InternetChecksum.fold(InternetChecksum.sum($0)) }
            #expect(fast == referenceSum(bytes) || (fast == 0 && referenceSum(bytes) == 0xffff) || (fast == 0xffff && referenceSum(bytes) == 0),
                    "length \(length)")
        }
        let ones = [UInt8](repeating: 0xff, count: 64)
        #expect(ones.withUnsafeBytes { InternetChecksum.checksum($0) } == 0)
    }

    @Test(arguments: [false, true]) func aSuperPacketBecomesWholeSegments(v6: Bool) throws {
        let payload = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let fin: UInt8 = 0x01, psh: UInt8 = 0x08, ack: UInt8 = 0x10, cwr: UInt8 = 0x80
        let packet = tcpPacket(v6: v6, flags: fin | psh | ack | cwr, payload: payload)
        let parts = try segments(packet, gsoType: v6 ? VirtioHeader.gsoTCPv6 : VirtioHeader.gsoTCPv4, gsoSize: 1400)
        #expect(parts.map(\.count) == [1400, 1400, 1400, 800].map { $0 + (v6 ? 40 : 20) + 32 })
        let ip = v6 ? 40 : 20
        var joined: [UInt8] = []
        for (i, s) in parts.enumerated() {
            if v6 {
                #expect(be16(s, 4) == s.count - 40)
            } else {
                #expect(be16(s, 2) == s.count)
                #expect(be16(s, 4) == 0x1234 + i)
                #expect(referenceSum(Array(s[0..<20])) == 0xffff, "IPv4 header checksum of segment \(i)")
            }
            #expect(be32(s, ip + 4) == 1000 + UInt32(i * 1400))
            let flags = s[ip + 13]
            #expect(flags & ack != 0)
            #expect((flags & (fin | psh) != 0) == (i == parts.count - 1), "FIN/PSH on segment \(i)")
            #expect((flags & cwr != 0) == (i == 0), "CWR on segment \(i)")
            #expect(s[ip + 20..<ip + 32] == packet[ip + 20..<ip + 32], "options copied")
            #expect(tcpChecksumHolds(s, v6: v6), "TCP checksum of segment \(i)")
            joined += s[(ip + 32)...]
        }
        #expect(joined == payload)
    }

    @Test(arguments: [false, true]) func aUDPSuperPacketBecomesWholeDatagrams(v6: Bool) throws {
        let payload = (0..<3500).map { UInt8(truncatingIfNeeded: $0 &* 11) }
        let datagrams = try segments(udpSuperPacket(v6: v6, payload: payload), gsoType: VirtioHeader.gsoUDP, gsoSize: 1000)
        let ip = v6 ? 40 : 20
        #expect(datagrams.map(\.count) == [1000, 1000, 1000, 500].map { ip + 8 + $0 })
        for (i, d) in datagrams.enumerated() {
            #expect(be16(d, ip + 4) == d.count - ip, "UDP length of datagram \(i)")
            #expect(udpChecksumHolds(d, v6: v6), "UDP checksum of datagram \(i)")
            if v6 {
                #expect(be16(d, 4) == d.count - 40)
            } else {
                #expect(be16(d, 2) == d.count && be16(d, 4) == 0x1234 + i && referenceSum(Array(d[0..<20])) == 0xffff)
            }
            #expect(Array(d[0..<ip + 4]).enumerated().allSatisfy { j, byte in [2, 3, 4, 5, 10, 11].contains(j) && !v6 || (v6 && [4, 5].contains(j)) || byte == datagrams[0][j] })
        }
        #expect(Array(datagrams.map { $0[(ip + 8)...] }.joined()) == payload)
    }

    @Test func aPartialChecksumIsFinished() throws {
        // A UDP datagram with the pseudo-header's sum in its checksum field, as the kernel
        // leaves it (CHECKSUM_PARTIAL).
        var packet: [UInt8] = [0x45, 0, 0, 36, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2]
        packet += [0x30, 0x39, 0x00, 0x35, 0, 16, 0, 0] + Array("hello, u".utf8)
        let pseudo = UInt32(referenceSum(Array(packet[12..<20]))) + 17 + 16
        let partial = referenceSum([], initial: pseudo)
        packet[26] = UInt8(partial >> 8); packet[27] = UInt8(partial & 0xff)
        var header = VirtioHeader()
        header.flags = VirtioHeader.needsChecksum
        header.checksumStart = 20
        header.checksumOffset = 6
        try packet.withUnsafeMutableBytes { try TunOffload.finishChecksum($0, header) }
        var check = Array(packet[20...])
        check[6] = 0; check[7] = 0
        let expected = ~referenceSum(check, initial: pseudo)
        #expect(be16(packet, 26) == Int(expected))
        #expect(referenceSum(Array(packet[20...]), initial: pseudo) == 0xffff)
    }

    @Test func whatCannotBeSegmentedIsRefused() {
        let packet = tcpPacket(v6: false, flags: 0x10, payload: [UInt8](repeating: 1, count: 3000))
        #expect(throws: OffloadError.malformed) { try segments(packet, gsoType: VirtioHeader.gsoTCPv4, gsoSize: 0) }
        #expect(throws: OffloadError.unsupported) { try segments(packet, gsoType: 3, gsoSize: 1400) }  // UDP
        #expect(throws: OffloadError.malformed) { try segments(Array(packet[0..<30]), gsoType: VirtioHeader.gsoTCPv4, gsoSize: 1400) }
        var udp = packet
        udp[9] = 17
        #expect(throws: OffloadError.unsupported) { try segments(udp, gsoType: VirtioHeader.gsoTCPv4, gsoSize: 1400) }
        var tinyOffset = packet
        tinyOffset[20 + 12] = 0x20  // a TCP header of 8 bytes
        #expect(throws: OffloadError.malformed) { try segments(tinyOffset, gsoType: VirtioHeader.gsoTCPv4, gsoSize: 1400) }
        var header = VirtioHeader()
        header.gsoType = VirtioHeader.gsoTCPv4
        header.gsoSize = 1400
        #expect(throws: OffloadError.malformed) {
            try packet.withUnsafeBytes { p in
                var small = [UInt8](repeating: 0, count: 100)
                _ = try small.withUnsafeMutableBytes { try TunOffload.segment(p, header, index: 0, into: $0) }
            }
        }
        var bad = VirtioHeader()
        bad.checksumStart = 5000
        var copy = packet
        #expect(throws: OffloadError.malformed) { try copy.withUnsafeMutableBytes { try TunOffload.finishChecksum($0, bad) } }
    }
}
