import Testing
import Protocol
#if canImport(Glibc)
import Glibc
#endif

/// Addresses parse and print exactly as glibc's inet_pton and inet_ntop, checked against glibc itself.
@Suite("IPAddress")
struct IPAddressTests {
    // MARK: IPv4

    @Test(arguments: [
        ("0.0.0.0", 0x0000_0000 as UInt32),
        ("1.2.3.4", 0x0102_0304),
        ("10.0.0.1", 0x0A00_0001),
        ("192.168.100.200", 0xC0A8_64C8),
        ("255.255.255.255", 0xFFFF_FFFF),
        ("100.64.0.0", 0x6440_0000),
    ])
    func ipv4ParsesAndFormats(text: String, value: UInt32) throws {
        let address = try #require(IPv4Address(text))
        #expect(address.value == value)
        #expect(address.description == text)
        #expect(IPAddress(text) == .v4(address))
        #expect(IPAddress(text)?.description == text)
        #expect(IPAddress(text)?.isV4 == true)
    }

    @Test(arguments: [
        "", "1.2.3", "256.0.0.1", "1.2.3.256", "1.2.3.4.5", "1..2.3", ".1.2.3", "1.2.3.", "1.2.3.4.",
        "01.2.3.4", "1.2.3.04", "00.0.0.0", "1.2.3.-4", "+1.2.3.4", "0x1.2.3.4", " 1.2.3.4", "1.2.3.4 ",
        "1.2.3.4/8", "1.2.3.4:80", "1.2.3.4x", "1.2.3.1000", "a.b.c.d", "1,2,3,4", "１.2.3.4",
    ])
    func ipv4Rejects(text: String) {
        #expect(IPv4Address(text) == nil)
        #expect(IPAddress(text) == nil)
    }

    @Test func ipv4ParsesSubstrings() {
        let line = "allowed 10.9.8.7 end"
        let start = line.index(line.startIndex, offsetBy: 8)
        let end = line.index(start, offsetBy: 8)
        #expect(IPv4Address(line[start..<end]) == IPv4Address(10, 9, 8, 7))
    }

    // MARK: IPv6

    @Test(arguments: [
        ("::", "::"),
        ("::1", "::1"),
        ("1::", "1::"),
        ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
        ("::FFFF:102:304", "::ffff:1.2.3.4"),
        ("::ffff:0:0", "::ffff:0.0.0.0"),
        ("::1.2.3.4", "::1.2.3.4"),
        ("::102:304", "::1.2.3.4"),
        ("::0.1.2.3", "::0.1.2.3"),
        ("::0.0.0.1", "::1"),
        ("::fffe:1.2.3.4", "::fffe:102:304"),
        ("1::ffff:1.2.3.4", "1::ffff:102:304"),
        ("::ffff:0:1.2.3.4", "::ffff:0:102:304"),
        ("64:ff9b::1.2.3.4", "64:ff9b::102:304"),
        ("fd00::1:0:0:1", "fd00::1:0:0:1"),
        ("fd00:0:0:1::1", "fd00:0:0:1::1"),
        ("1:0:0:2:0:0:3:4", "1::2:0:0:3:4"),
        ("1:0:0:2:3:0:0:0", "1:0:0:2:3::"),
        ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"),
        ("1:2:3:4:5:6:7:0", "1:2:3:4:5:6:7:0"),
        ("0:1:2:3:4:5:6:7", "0:1:2:3:4:5:6:7"),
        ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"),
        ("::1:2:3:4:5:6:7", "0:1:2:3:4:5:6:7"),
        ("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"),
        ("0:0:0:0:0:0:0:0", "::"),
        ("0000:0000:0000:0000:0000:0000:0000:0001", "::1"),
        ("FE80::ABCD:EF01", "fe80::abcd:ef01"),
        ("2001:db8:85a3::8a2e:370:7334", "2001:db8:85a3::8a2e:370:7334"),
        ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        ("1:0:0:0:0:0:0:1", "1::1"),
    ])
    func ipv6ParsesAndFormats(text: String, canonical: String) throws {
        let address = try #require(IPv6Address(text))
        #expect(address.description == canonical)
        #expect(IPv6Address(canonical) == address, "the canonical form parses back")
        #expect(IPAddress(text) == .v6(address))
        #expect(IPAddress(text)?.isV4 == false)
    }

    @Test func ipv6Values() throws {
        let address = try #require(IPv6Address("2001:db8::ff00:42:8329"))
        #expect(address.high == 0x2001_0DB8_0000_0000)
        #expect(address.low == 0x0000_FF00_0042_8329)
        #expect(IPv6Address("::ffff:1.2.3.4") == IPv6Address(high: 0, low: 0x0000_FFFF_0102_0304))
        #expect(IPv6Address("1::") == IPv6Address(high: 0x0001_0000_0000_0000, low: 0))
    }

    @Test(arguments: [
        "", ":", ":::", "1::2::3", "12345::", "00000::1", "1:", ":1", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9",
        "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:", "g::1", "::1 ", " ::1", "[::1]",
        "::1%eth0", "fe80::1%1", "::1.2.3", "::1.2.3.4.5", "::01.2.3.4", "::256.1.1.1", "::1.2.3.4:5",
        "1:2:3:4:5:6:7:1.2.3.4", "1.2.3.4::", "::1.2.3.4::", "::a.2.3.4", "1::2:3::", "::-1", "1:::2",
        "1:2:3:4:5:6:7:8/64", "::x",
    ])
    func ipv6Rejects(text: String) {
        #expect(IPv6Address(text) == nil)
        #expect(IPAddress(text) == nil)
    }

    // MARK: Raw bytes

    @Test func rawBytesRoundTrip() throws {
        let v4: [UInt8] = [192, 0, 2, 33]
        let a = try #require(v4.withUnsafeBytes { IPAddress(bytes: $0) })
        #expect(a == .v4(IPv4Address(192, 0, 2, 33)))
        #expect(a.withUnsafeBytes { Array($0) } == v4)

        let v6: [UInt8] = [0x20, 0x01, 0x0D, 0xB8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
        let b = try #require(v6.withUnsafeBytes { IPAddress(bytes: $0) })
        #expect(b == .v6(IPv6Address(high: 0x2001_0DB8_0102_0304, low: 0x0506_0708_090A_0B0C)))
        #expect(b.withUnsafeBytes { Array($0) } == v6)

        for count in [0, 3, 5, 15, 17] {
            let bytes = [UInt8](repeating: 1, count: count)
            #expect(bytes.withUnsafeBytes { IPAddress(bytes: $0) } == nil)
        }
        #expect(v6.withUnsafeBytes { IPv4Address(bytes: $0) } == nil)
        #expect(v4.withUnsafeBytes { IPv6Address(bytes: $0) } == nil)
    }

    @Test func readsUnalignedHeaderFields() {
        // An IPv4 header's source sits at offset 12, an IPv6 header's at offset 8; read them at odd
        // offsets too, since a packet buffer guarantees no alignment.
        var packet = [UInt8](repeating: 0, count: 64)
        for offset in [1, 12, 8, 3] {
            for i in 0..<16 { packet[offset + i] = UInt8(0x10 + i) }
            packet.withUnsafeBytes { raw in
                let v4 = IPv4Address(networkOrder: raw.baseAddress! + offset)
                #expect(v4 == IPv4Address(0x10, 0x11, 0x12, 0x13))
                let v6 = IPv6Address(networkOrder: raw.baseAddress! + offset)
                #expect(v6 == IPv6Address(high: 0x1011_1213_1415_1617, low: 0x1819_1A1B_1C1D_1E1F))
            }
        }
    }

    // MARK: Against glibc itself

    #if canImport(Glibc)
    /// glibc's answer for `text`, as the bytes it wrote, or nil if it refused.
    static func glibcParse(_ text: String, v6: Bool) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 16)
        let ok = buffer.withUnsafeMutableBytes { inet_pton(v6 ? AF_INET6 : AF_INET, text, $0.baseAddress) }
        return ok == 1 ? Array(buffer.prefix(v6 ? 16 : 4)) : nil
    }

    static func glibcFormat(_ bytes: [UInt8]) -> String {
        var out = [CChar](repeating: 0, count: 64)
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        _ = bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &out, 64) }
        return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func parsingMatchesGlibc(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        // Characters that matter to either grammar, weighted toward the ones that build addresses.
        let alphabet = Array("0000111225589aAfF:::::....gx /%[")
        var mismatches: [String] = []
        for _ in 0..<4000 {
            let length = Int.random(in: 0...24, using: &rng)
            let text = String((0..<length).map { _ in alphabet.randomElement(using: &rng)! })
            let expected4 = Self.glibcParse(text, v6: false)
            let ours4 = IPv4Address(text).map { a in a.withUnsafeBytes { Array($0) } }
            let expected6 = Self.glibcParse(text, v6: true)
            let ours6 = IPv6Address(text).map { a in a.withUnsafeBytes { Array($0) } }
            if expected4 != ours4 || expected6 != ours6 { mismatches.append(text) }
        }
        #expect(mismatches.isEmpty, "seed \(seed)")
    }

    @Test(arguments: [4, 5, 6] as [UInt64])
    func formattingMatchesGlibc(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        for _ in 0..<3000 {
            // Mostly zero groups, so that runs, ties and the IPv4 forms all come up.
            var bytes = [UInt8](repeating: 0, count: 16)
            for group in 0..<8 where Int.random(in: 0..<3, using: &rng) == 0 {
                let value: UInt16 = Bool.random(using: &rng) ? 0xFFFF : .random(in: 0...0xFFFF, using: &rng)
                bytes[2 * group] = UInt8(value >> 8)
                bytes[2 * group + 1] = UInt8(value & 0xFF)
            }
            let expected = Self.glibcFormat(bytes)
            let address = try #require(bytes.withUnsafeBytes { IPAddress(bytes: $0) })
            #expect(address.description == expected, "seed \(seed)")
            #expect(IPAddress(expected) == address)

            let v4 = Array(bytes.suffix(4))
            let a4 = try #require(v4.withUnsafeBytes { IPAddress(bytes: $0) })
            #expect(a4.description == Self.glibcFormat(v4))
        }
    }
    #endif
}

/// IPPrefix: CIDR text in, host bits cleared, one spelling out.
@Suite("IPPrefix")
struct IPPrefixTests {
    @Test(arguments: [
        ("10.1.2.3/8", "10.0.0.0/8"),
        ("10.1.2.3/32", "10.1.2.3/32"),
        ("10.1.2.3/0", "0.0.0.0/0"),
        ("192.168.77.200/20", "192.168.64.0/20"),
        ("255.255.255.255/31", "255.255.255.254/31"),
        ("fd00::1/64", "fd00::/64"),
        ("fd00:1:2:3:4:5:6:7/128", "fd00:1:2:3:4:5:6:7/128"),
        ("fd00:1:2:3:4:5:6:7/0", "::/0"),
        ("2001:db8:ffff:ffff:ffff::/65", "2001:db8:ffff:ffff:8000::/65"),
        ("2001:db8:abcd:1234::/33", "2001:db8:8000::/33"),
        ("::ffff:1.2.3.4/120", "::ffff:1.2.3.0/120"),
        ("1:2:3:4:5:6:7:ffff/127", "1:2:3:4:5:6:7:fffe/127"),
    ])
    func prefixParsesAndMasks(text: String, canonical: String) throws {
        let prefix = try #require(IPPrefix(text))
        #expect(prefix.description == canonical)
        #expect(IPPrefix(canonical) == prefix)
    }

    @Test(arguments: [
        "10.0.0.0/33", "::/129", "10.0.0.0/", "/", "/8", "10.0.0.0", "fd00::", "10.0.0.0/-1", "10.0.0.0/+8",
        "10.0.0.0/08", "::/00", "10.0.0.0/8/8", "10.0.0.0/ 8", "10.0.0.0 /8", "10.0.0/8", "10.0.0.0/1000",
        "10.0.0.0/8x", "[::]/0", "fd00::1/64%eth0", "10.0.0.0/99999999999999999999",
    ])
    func prefixRejects(text: String) {
        #expect(IPPrefix(text) == nil)
    }

    @Test func prefixFromAddressMasksAndChecksLength() throws {
        let v4 = try #require(IPAddress("10.1.2.3"))
        #expect(IPPrefix(address: v4, length: 16)?.description == "10.1.0.0/16")
        #expect(IPPrefix(address: v4, length: 33) == nil)
        #expect(IPPrefix(address: v4, length: -1) == nil)
        let v6 = try #require(IPAddress("fd00::1"))
        #expect(IPPrefix(address: v6, length: 128)?.description == "fd00::1/128")
        #expect(IPPrefix(address: v6, length: 129) == nil)
        #expect(IPPrefix(address: v6, length: 64) == IPPrefix("fd00::/64"))
    }

    @Test func prefixContains() throws {
        let net = try #require(IPPrefix("192.168.4.0/22"))
        #expect(net.contains(try #require(IPAddress("192.168.4.0"))))
        #expect(net.contains(try #require(IPAddress("192.168.7.255"))))
        #expect(!net.contains(try #require(IPAddress("192.168.8.0"))))
        #expect(!net.contains(try #require(IPAddress("192.168.3.255"))))
        #expect(!net.contains(try #require(IPAddress("::ffff:192.168.4.1"))), "families never mix")

        let all4 = try #require(IPPrefix("0.0.0.0/0"))
        #expect(all4.contains(try #require(IPAddress("255.1.2.3"))))
        #expect(!all4.contains(try #require(IPAddress("::"))))

        let net6 = try #require(IPPrefix("fd00:1::/65"))
        #expect(net6.contains(try #require(IPAddress("fd00:1::7fff:ffff:ffff:ffff"))))
        #expect(!net6.contains(try #require(IPAddress("fd00:1::8000:0:0:0"))))
        #expect(!net6.contains(try #require(IPAddress("fd00:2::"))))
        let host = try #require(IPPrefix("fd00::1/128"))
        #expect(host.contains(try #require(IPAddress("fd00::1"))))
        #expect(!host.contains(try #require(IPAddress("fd00::2"))))
    }
}

/// Endpoint: what `wg` prints and the UAPI takes, brackets exactly where they belong.
@Suite("Endpoint")
struct EndpointTests {
    @Test(arguments: [
        ("1.2.3.4:51820", "1.2.3.4:51820", 51820 as UInt16),
        ("[fd00::1]:51820", "[fd00::1]:51820", 51820),
        ("[FD00:0:0:0:0:0:0:1]:1", "[fd00::1]:1", 1),
        ("[::ffff:1.2.3.4]:443", "[::ffff:1.2.3.4]:443", 443),
        ("0.0.0.0:0", "0.0.0.0:0", 0),
        ("255.255.255.255:65535", "255.255.255.255:65535", 65535),
        ("10.0.0.1:00080", "10.0.0.1:80", 80),
        ("[::]:123", "[::]:123", 123),
    ])
    func endpointParsesAndFormats(text: String, canonical: String, port: UInt16) throws {
        let endpoint = try #require(Endpoint(text))
        #expect(endpoint.port == port)
        #expect(endpoint.description == canonical)
        #expect(Endpoint(canonical) == endpoint)
    }

    @Test(arguments: [
        "1.2.3.4", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:99999999999", "1.2.3.4:-1", "1.2.3.4:+1", "1.2.3.4:8 ",
        "fd00::1:80", "[fd00::1]", "[fd00::1]:", "[fd00::1]80", "[fd00::1:80", "fd00::1]:80", "[1.2.3.4]:1",
        "[fd00::1%eth0]:80", "[[fd00::1]]:80", "[fd00::1]:80:", ":80", "", "host.example:51820", "1.2.3:80",
        "1.2.3.4:80:90", " 1.2.3.4:80", "[]:80", "[::1]:0x50",
    ])
    func endpointRejects(text: String) {
        #expect(Endpoint(text) == nil)
    }

    @Test func endpointFromParts() throws {
        let endpoint = Endpoint(address: try #require(IPAddress("2001:db8::7")), port: 51820)
        #expect(endpoint.description == "[2001:db8::7]:51820")
        #expect(Endpoint(address: .v4(IPv4Address(192, 0, 2, 1)), port: 9).description == "192.0.2.1:9")
    }
}
