import Testing
@testable import DataPlane

/// Coalescing for TUN writes: what joins a super-packet and what does not, and that the kernel,
/// cutting the super-packet again, gets back exactly the segments that were joined.
@Suite struct TunCoalesceTests {
    /// The segments the segmenter makes of one super-packet: what a peer's TSO sends.
    static func segments(v6: Bool, payload: Int, size: UInt16) throws -> [[UInt8]] {
        let packet = tcpPacket(v6: v6, flags: 0x18, payload: (0..<payload).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        var header = VirtioHeader()
        header.gsoType = v6 ? VirtioHeader.gsoTCPv6 : VirtioHeader.gsoTCPv4
        header.gsoSize = size
        header.flags = VirtioHeader.needsChecksum
        return try cut(packet, header)
    }

    static func cut(_ packet: [UInt8], _ header: VirtioHeader) throws -> [[UInt8]] {
        try packet.withUnsafeBytes { p in
            let (count, largest) = try TunOffload.segments(p, header)
            return try (0..<count).map { i in
                var room = [UInt8](repeating: 0, count: largest)
                let n = try room.withUnsafeMutableBytes { try TunOffload.segment(p, header, index: i, into: $0) }
                return Array(room[0..<n])
            }
        }
    }

    /// Joins `packets` as deliverReceive does: the super-packets (with their headers) and the
    /// packets written alone (header nil).
    static func coalesce(_ packets: [[UInt8]], udp: Bool = false) -> [(packet: [UInt8], header: VirtioHeader?)] {
        var out: [(packet: [UInt8], header: VirtioHeader?)] = []
        var head: [UInt8] = [], first: TunCoalesce.Segment?, last: TunCoalesce.Segment?, joined = 0
        func flush() {
            guard let f = first else { return }
            if joined == 1 {
                out.append((head, nil))
            } else {
                let length = head.count
                let header = head.withUnsafeMutableBytes { TunCoalesce.finish(UnsafeMutableRawBufferPointer(rebasing: $0[0..<f.headers]), f, last: last!, length: length) }
                out.append((head, header))
            }
            first = nil
        }
        for packet in packets {
            let joins: Bool = packet.withUnsafeBytes { p in
                guard let s = TunCoalesce.segment(p, udp: udp) else { return false }
                if let f = first, let l = last,
                   head.withUnsafeBytes({ TunCoalesce.follows(p, s, head: $0, first: f, last: l, length: head.count) }) {
                    head += packet[s.headers...]
                    last = s
                    joined += 1
                    return true
                }
                flush()
                head = packet; first = s; last = s; joined = 1
                return true
            }
            if !joins {
                flush()
                out.append((packet, nil))
            }
        }
        flush()
        return out
    }

    @Test(arguments: [false, true]) func aFlowsSegmentsBecomeOneSuperPacketThatCutsBackIntoThem(v6: Bool) throws {
        let originals = try Self.segments(v6: v6, payload: 20_000, size: 1368)
        #expect(originals.count == 15)
        let written = Self.coalesce(originals)
        #expect(written.count == 1)
        let header = try #require(written[0].header)
        #expect(header.gsoType == (v6 ? VirtioHeader.gsoTCPv6 : VirtioHeader.gsoTCPv4))
        #expect(header.gsoSize == 1368 && header.flags == VirtioHeader.needsChecksum)
        #expect(Int(header.headerLength) == (v6 ? 40 : 20) + 32 && header.checksumStart == (v6 ? 40 : 20) && header.checksumOffset == 16)
        #expect(try Self.cut(written[0].packet, header) == originals)
    }

    /// What a peer's USO sends: one flow's datagrams, 1,200 bytes each but a shorter last.
    static func datagrams(v6: Bool, payload: Int) throws -> [[UInt8]] {
        var header = VirtioHeader()
        header.gsoType = VirtioHeader.gsoUDP
        header.gsoSize = 1200
        header.flags = VirtioHeader.needsChecksum
        return try cut(udpSuperPacket(v6: v6, payload: (0..<payload).map { UInt8(truncatingIfNeeded: $0 &* 5) }), header)
    }

    @Test(arguments: [false, true]) func aFlowsDatagramsBecomeOneUDPSuperPacketThatCutsBackIntoThem(v6: Bool) throws {
        let originals = try Self.datagrams(v6: v6, payload: 20_000)
        #expect(originals.count == 17)
        let written = Self.coalesce(originals, udp: true)
        #expect(written.count == 1)
        let header = try #require(written[0].header)
        let ip: UInt16 = v6 ? 40 : 20
        #expect(header.gsoType == VirtioHeader.gsoUDP && header.gsoSize == 1200 && header.flags == VirtioHeader.needsChecksum)
        #expect(header.headerLength == ip + 8 && header.checksumStart == ip && header.checksumOffset == 6)
        #expect(try Self.cut(written[0].packet, header) == originals)
        // Without USO on the TUN, datagrams go one by one.
        #expect(Self.coalesce(originals).allSatisfy { $0.header == nil })
    }

    @Test func whatBreaksAUDPRun() throws {
        let originals = try Self.datagrams(v6: false, payload: 6000)   // five of 1,200
        func written(_ edit: (inout [[UInt8]]) -> Void) -> [Int] {
            var packets = originals
            edit(&packets)
            return Self.coalesce(packets, udp: true).map { $0.header == nil ? 1 : ($0.packet.count - 28 + 1199) / 1200 }
        }
        #expect(written { _ in } == [5])
        // Another port, an ID out of turn, another TTL: a new run starts there (and after it).
        #expect(written { $0[2][21] ^= 1 } == [2, 1, 2])
        #expect(written { $0[3][5] &+= 7 } == [3, 1, 1])
        #expect(written { $0[1][8] = 63 } == [1, 1, 3])
        // Nothing follows a shorter datagram, and a longer one never joins.
        let short = udpDatagram(v6: false, id: 0x1234 + 5, payload: Array(repeating: 1, count: 700))
        let long = udpDatagram(v6: false, id: 0x1234 + 6, payload: Array(repeating: 2, count: 1300))
        #expect(written { $0 += [short, long] } == [6, 1])
        // A datagram whose UDP length is not what arrived, or with no payload, stays alone.
        #expect(Self.coalesce([udpDatagram(v6: false, payload: [1, 2, 3], udpLength: 12)], udp: true)[0].header == nil)
        #expect(udpDatagram(v6: false, payload: []).withUnsafeBytes { TunCoalesce.segment($0, udp: true) } == nil)
    }

    @Test func aUDPSuperPacketStopsAtItsMostDatagrams() throws {
        var header = VirtioHeader()
        header.gsoType = VirtioHeader.gsoUDP
        header.gsoSize = 100
        header.flags = VirtioHeader.needsChecksum
        let originals = try Self.cut(udpSuperPacket(v6: false, payload: Array(repeating: 9, count: 100 * 70)), header)
        #expect(originals.count == 70)
        let written = Self.coalesce(originals, udp: true)
        #expect(written.count == 2)
        #expect(written.map { $0.packet.count } == [28 + 64 * 100, 28 + 6 * 100])
        #expect(try written.flatMap { try Self.cut($0.packet, try #require($0.header)) } == originals)
    }

    @Test func aSuperPacketStopsAtTheLargestIPPacket() throws {
        // 80 segments of 1000 bytes, 80 KB: more than one IPv4 packet carries. The second 40 are
        // the first 40 moved on by 40,000 in sequence (their checksums are stale, which
        // coalescing does not look at).
        let first40 = try Self.segments(v6: false, payload: 40 * 1000, size: 1000)
        let next40 = first40.map { segment -> [UInt8] in
            var s = segment
            let seq = (UInt32(s[24]) << 24 | UInt32(s[25]) << 16 | UInt32(s[26]) << 8 | UInt32(s[27])) &+ 40_000
            s[24] = UInt8(seq >> 24); s[25] = UInt8(truncatingIfNeeded: seq >> 16); s[26] = UInt8(truncatingIfNeeded: seq >> 8); s[27] = UInt8(truncatingIfNeeded: seq)
            s[20 + 13] = 0x10
            return s
        }
        var unpushed = first40
        unpushed[39][20 + 13] = 0x10
        let written = Self.coalesce(unpushed + next40)
        #expect(written.count == 2)
        #expect(written.allSatisfy { $0.packet.count <= 65_535 && $0.header != nil })
        #expect(written.map { $0.packet.count - 52 }.reduce(0, +) == 80_000)
    }

    @Test func whatBreaksARun() throws {
        let s = try Self.segments(v6: false, payload: 5 * 1000, size: 1000)   // 5 segments; PSH on the last
        // A gap in the sequence: two runs.
        #expect(Self.coalesce([s[0], s[1], s[3], s[4]]).map(\.packet.count) == [20 + 32 + 2000, 20 + 32 + 2000])
        // Another flow (other port) between them.
        var other = s[2]; other[21] ^= 1
        #expect(Self.coalesce([s[0], s[1], other, s[3]]).count == 3)
        // PSH ends a run: the pushed segment joins as the last.
        var pushed = s[1]; pushed[20 + 13] |= 0x08
        #expect(Self.coalesce([s[0], pushed, s[2]]).map(\.packet.count) == [20 + 32 + 2000, 20 + 32 + 1000])
        // A shorter segment ends a run too.
        let short = try Self.segments(v6: false, payload: 1000 + 500, size: 1000)
        let tail = try Self.segments(v6: false, payload: 3 * 1000, size: 1000)
        #expect(TunCoalesce.follows(tail[2].withUnsafeBytes { $0 }, TunCoalesce.segment(tail[2].withUnsafeBytes { $0 })!,
                                    head: short[0].withUnsafeBytes { $0 }, first: TunCoalesce.segment(short[0].withUnsafeBytes { $0 })!,
                                    last: TunCoalesce.segment(short[1].withUnsafeBytes { $0 })!, length: 2 * 52 + 1500) == false)
        // A different TTL, a different window: not the same headers.
        var ttl = s[1]; ttl[8] -= 1
        #expect(Self.coalesce([s[0], ttl]).count == 2)
        var window = s[1]; window[20 + 15] ^= 1
        #expect(Self.coalesce([s[0], window]).count == 2)
    }

    @Test func onlyPlainTCPSegmentsCoalesce() throws {
        let s = try Self.segments(v6: false, payload: 1000, size: 1000)[0]
        func isSegment(_ p: [UInt8]) -> Bool { p.withUnsafeBytes { TunCoalesce.segment($0) != nil } }
        #expect(isSegment(s))
        var fragment = s; fragment[6] |= 0x20                 // more fragments
        var options = s; options[0] = 0x46                    // an IP option
        var syn = s; syn[20 + 13] = 0x12                      // SYN+ACK
        var fin = s; fin[20 + 13] = 0x11                      // FIN+ACK
        var udp = s; udp[9] = 17
        let pureAck = Array(s[0..<52])
        for p in [fragment, options, syn, fin, udp, pureAck] { #expect(!isSegment(p)) }
    }
}
