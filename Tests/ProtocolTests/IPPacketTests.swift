import Testing
@testable import Protocol

/// IPPacket: the family, the real length (to strip WireGuard's padding) and the addresses, read
/// from the IPv4 or IPv6 header; anything that is not a plausible IP packet is refused.
@Suite("IPPacket")
struct IPPacketTests {
    /// An IPv4 header (20 bytes, IHL 5) from `source` to `destination`, claiming `totalLength`,
    /// followed by `payload` bytes (whatever `totalLength` says).
    static func ipv4(totalLength: Int, payload: Int = 0, source: [UInt8] = [192, 0, 2, 1],
                     destination: [UInt8] = [203, 0, 113, 9], version: UInt8 = 4) -> [UInt8] {
        var packet = [UInt8](repeating: 0, count: 20 + payload)
        packet[0] = version << 4 | 5
        packet[2] = UInt8(totalLength >> 8)
        packet[3] = UInt8(totalLength & 0xFF)
        packet[8] = 64        // TTL
        packet[9] = 17        // UDP
        packet.replaceSubrange(12..<16, with: source)
        packet.replaceSubrange(16..<20, with: destination)
        for i in 20..<packet.count { packet[i] = UInt8(truncatingIfNeeded: i &* 31) }
        return packet
    }

    static let fd00_1: [UInt8] = [0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    static let fd00_beef: [UInt8] = [0xFD, 0, 0x12, 0x34, 0, 0, 0, 0, 0xAB, 0xCD, 0, 0, 0, 0, 0xBE, 0xEF]

    /// An IPv6 header (40 bytes) claiming `payloadLength`, followed by `payload` bytes.
    static func ipv6(payloadLength: Int, payload: Int = 0, source: [UInt8] = fd00_1,
                     destination: [UInt8] = fd00_beef, version: UInt8 = 6) -> [UInt8] {
        var packet = [UInt8](repeating: 0, count: 40 + payload)
        packet[0] = version << 4
        packet[4] = UInt8(payloadLength >> 8)
        packet[5] = UInt8(payloadLength & 0xFF)
        packet[6] = 58        // ICMPv6
        packet[7] = 64        // hop limit
        packet.replaceSubrange(8..<24, with: source)
        packet.replaceSubrange(24..<40, with: destination)
        for i in 40..<packet.count { packet[i] = UInt8(truncatingIfNeeded: i &* 7) }
        return packet
    }

    static func parse(_ packet: [UInt8]) -> (family: IPPacket.Family, length: Int)? {
        packet.withUnsafeBytes { IPPacket.parse($0) }
    }

    static func addresses(_ packet: [UInt8], _ family: IPPacket.Family) -> (IPAddress, IPAddress) {
        packet.withUnsafeBytes { (IPPacket.source($0, family), IPPacket.destination($0, family)) }
    }

    // MARK: IPv4

    @Test func minimalIPv4() throws {
        let packet = Self.ipv4(totalLength: 20)
        let parsed = try #require(Self.parse(packet))
        #expect(parsed.family == .v4)
        #expect(parsed.length == 20)
    }

    @Test func ipv4WithPayload() throws {
        let parsed = try #require(Self.parse(Self.ipv4(totalLength: 84, payload: 64)))
        #expect(parsed.family == .v4)
        #expect(parsed.length == 84)
    }

    @Test func ipv4LengthIsTheHeadersNotTheBuffers() throws {
        // WireGuard pads to 16 bytes: 84 bytes of packet arrive in 96.
        let parsed = try #require(Self.parse(Self.ipv4(totalLength: 84, payload: 76)))
        #expect(parsed.length == 84)
    }

    @Test func ipv4LengthAboveTheBufferIsRefused() {
        #expect(Self.parse(Self.ipv4(totalLength: 21)) == nil)
        #expect(Self.parse(Self.ipv4(totalLength: 85, payload: 64)) == nil)
        #expect(Self.parse(Self.ipv4(totalLength: 65_535, payload: 64)) == nil)
    }

    @Test(arguments: [0, 1, 19])
    func ipv4TotalLengthBelowTheHeaderIsRefused(totalLength: Int) {
        #expect(Self.parse(Self.ipv4(totalLength: totalLength, payload: 40)) == nil)
    }

    @Test func ipv4ShorterThanItsHeaderIsRefused() {
        let full = Self.ipv4(totalLength: 20)
        for count in 1..<20 {
            #expect(Self.parse(Array(full.prefix(count))) == nil, "\(count) bytes")
        }
    }

    @Test func ipv4Addresses() throws {
        let packet = Self.ipv4(totalLength: 28, payload: 8, source: [192, 0, 2, 77], destination: [203, 0, 113, 254])
        let parsed = try #require(Self.parse(packet))
        let (source, destination) = Self.addresses(packet, parsed.family)
        #expect(source == .v4(IPv4Address(192, 0, 2, 77)))
        #expect(destination == .v4(IPv4Address(203, 0, 113, 254)))
        #expect(source == IPAddress("192.0.2.77"))
        #expect(destination == IPAddress("203.0.113.254"))
    }

    @Test func ipv4AddressesAtAnOddOffset() throws {
        // Packets sit after a 16-byte WireGuard header, or anywhere: no alignment is assumed.
        let packet = [0xEE] + Self.ipv4(totalLength: 20, source: [192, 0, 2, 3], destination: [203, 0, 113, 4])
        let (source, destination) = packet.withUnsafeBytes { raw -> (IPAddress, IPAddress) in
            let slice = UnsafeRawBufferPointer(rebasing: raw[1...])
            return (IPPacket.source(slice, .v4), IPPacket.destination(slice, .v4))
        }
        #expect(source == IPAddress("192.0.2.3"))
        #expect(destination == IPAddress("203.0.113.4"))
        let parsed = packet.withUnsafeBytes { IPPacket.parse(UnsafeRawBufferPointer(rebasing: $0[1...])) }
        #expect(parsed?.family == .v4)
        #expect(parsed?.length == 20)
    }

    // MARK: IPv6

    @Test func minimalIPv6() throws {
        let parsed = try #require(Self.parse(Self.ipv6(payloadLength: 0)))
        #expect(parsed.family == .v6)
        #expect(parsed.length == 40)
    }

    @Test func ipv6LengthIsHeaderPlusPayloadLength() throws {
        let parsed = try #require(Self.parse(Self.ipv6(payloadLength: 24, payload: 24)))
        #expect(parsed.family == .v6)
        #expect(parsed.length == 64)
    }

    @Test func ipv6TrailingPaddingIsNotCounted() throws {
        // 40 + 24 = 64 bytes of packet, padded with 12 more bytes to 76 (not that 76 is a
        // multiple of 16: any trailing bytes are simply not part of the packet).
        let parsed = try #require(Self.parse(Self.ipv6(payloadLength: 24, payload: 36)))
        #expect(parsed.length == 64)
        let padded = try #require(Self.parse(Self.ipv6(payloadLength: 1, payload: 8)))
        #expect(padded.length == 41)
    }

    @Test func ipv6PayloadLengthAboveTheBufferIsRefused() {
        #expect(Self.parse(Self.ipv6(payloadLength: 1)) == nil)
        #expect(Self.parse(Self.ipv6(payloadLength: 25, payload: 24)) == nil)
        #expect(Self.parse(Self.ipv6(payloadLength: 65_535, payload: 100)) == nil)
    }

    @Test func ipv6ShorterThanItsHeaderIsRefused() {
        let full = Self.ipv6(payloadLength: 0)
        for count in 1..<40 {
            #expect(Self.parse(Array(full.prefix(count))) == nil, "\(count) bytes")
        }
    }

    @Test func ipv6Addresses() throws {
        let packet = Self.ipv6(payloadLength: 8, payload: 8)
        let parsed = try #require(Self.parse(packet))
        let (source, destination) = Self.addresses(packet, parsed.family)
        #expect(source == IPAddress("fd00::1"))
        #expect(destination == IPAddress("fd00:1234::abcd:0:0:beef"))
        #expect(destination == .v6(IPv6Address(high: 0xFD00_1234_0000_0000, low: 0xABCD_0000_0000_BEEF)))
    }

    @Test func anIPv4SizedPacketClaimingVersion6IsRefused() {
        // 20 bytes are a whole IPv4 header but not an IPv6 one.
        var packet = Self.ipv4(totalLength: 20, payload: 10)
        packet[0] = 0x60
        #expect(Self.parse(packet) == nil)
    }

    // MARK: neither

    @Test func emptyIsRefused() {
        #expect(Self.parse([]) == nil)
    }

    @Test(arguments: [0, 1, 2, 3, 5, 7, 8, 9, 15] as [UInt8])
    func otherVersionsAreRefused(version: UInt8) {
        #expect(Self.parse(Self.ipv4(totalLength: 60, payload: 40, version: version)) == nil)
        #expect(Self.parse(Self.ipv6(payloadLength: 20, payload: 20, version: version)) == nil)
    }

    @Test func onlyTheHighNibbleIsTheVersion() throws {
        // The low nibble of an IPv4 header's first byte is the IHL; of IPv6's, traffic class.
        var v4 = Self.ipv4(totalLength: 20)
        v4[0] = 0x4F
        #expect(Self.parse(v4)?.family == .v4)
        var v6 = Self.ipv6(payloadLength: 0)
        v6[0] = 0x6F
        #expect(Self.parse(v6)?.family == .v6)
    }
}
