import Testing
import Protocol

/// AllowedIPs: longest-prefix match, ownership moves and removals as in the kernel's allowedips.c,
/// storage that follows the table's size, and the same answers as a naive table under random churn.
@Suite("AllowedIPs")
struct AllowedIPsTests {
    private final class TestPeer: CustomStringConvertible {
        let name: String
        init(_ name: String) { self.name = name }
        var description: String { name }
    }

    static func prefix(_ text: String) -> IPPrefix { IPPrefix(text)! }
    static func address(_ text: String) -> IPAddress { IPAddress(text)! }

    /// An IPv6 address from four 32-bit words, the way the kernel's selftest spells them.
    static func ip6(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32) -> IPAddress {
        .v6(IPv6Address(high: UInt64(a) << 32 | UInt64(b), low: UInt64(c) << 32 | UInt64(d)))
    }

    static func ip4(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> IPAddress {
        .v4(IPv4Address(a, b, c, d))
    }

    private static func add(_ table: AllowedIPs<TestPeer>, _ peer: TestPeer, _ address: IPAddress, _ length: Int) {
        table.insert(IPPrefix(address: address, length: length)!, for: peer)
    }

    // MARK: Hand-written cases

    @Test func longestPrefixWins() {
        // The same shapes as the kernel's allowedips selftest: nested prefixes, siblings, a default
        // route in each family, and host bits that must be masked off on insertion.
        let table = AllowedIPs<TestPeer>()
        let a = TestPeer("a"), b = TestPeer("b"), c = TestPeer("c"), d = TestPeer("d")
        let e = TestPeer("e"), f = TestPeer("f"), g = TestPeer("g"), h = TestPeer("h")

        Self.add(table, a, Self.ip4(192, 168, 4, 0), 24)
        Self.add(table, b, Self.ip4(192, 168, 4, 4), 32)
        Self.add(table, c, Self.ip4(192, 168, 0, 0), 16)
        Self.add(table, d, Self.ip4(192, 95, 5, 64), 27)
        Self.add(table, c, Self.ip4(192, 95, 5, 65), 27)   // same /27 as d's: moves it to c
        Self.add(table, d, Self.ip6(0x2607_5300, 0x6000_6B00, 0, 0xC05F_0543), 128)
        Self.add(table, c, Self.ip6(0x2607_5300, 0x6000_6B00, 0, 0), 64)
        Self.add(table, e, Self.ip4(0, 0, 0, 0), 0)
        Self.add(table, e, Self.ip6(0, 0, 0, 0), 0)
        Self.add(table, f, Self.ip6(0, 0, 0, 0), 0)        // moves ::/0 to f
        Self.add(table, g, Self.ip6(0x2404_6800, 0, 0, 0), 32)
        Self.add(table, h, Self.ip6(0x2404_6800, 0x4004_0800, 0xDEAD_BEEF, 0xDEAD_BEEF), 64)
        Self.add(table, a, Self.ip6(0x2404_6800, 0x4004_0800, 0xDEAD_BEEF, 0xDEAD_BEEF), 128)
        Self.add(table, c, Self.ip6(0x2444_6800, 0x40E4_0800, 0xDEAE_BEEF, 0x0DEF_BEEF), 128)
        Self.add(table, b, Self.ip6(0x2444_6800, 0xF0E4_0800, 0xEEAE_BEEF, 0), 98)
        Self.add(table, g, Self.ip4(64, 15, 112, 0), 20)
        Self.add(table, h, Self.ip4(64, 15, 123, 211), 25)
        Self.add(table, a, Self.ip4(10, 0, 0, 0), 25)
        Self.add(table, b, Self.ip4(10, 0, 0, 128), 25)
        Self.add(table, a, Self.ip4(10, 1, 0, 0), 30)
        Self.add(table, b, Self.ip4(10, 1, 0, 4), 30)
        Self.add(table, c, Self.ip4(10, 1, 0, 8), 29)
        Self.add(table, d, Self.ip4(10, 1, 0, 16), 29)
        #expect(table.count == 21)

        let expectations: [(IPAddress, TestPeer)] = [
            (Self.ip4(192, 168, 4, 20), a), (Self.ip4(192, 168, 4, 0), a), (Self.ip4(192, 168, 4, 4), b),
            (Self.ip4(192, 168, 200, 182), c), (Self.ip4(192, 95, 5, 68), c), (Self.ip4(192, 95, 5, 96), e),
            (Self.ip6(0x2607_5300, 0x6000_6B00, 0, 0xC05F_0543), d), (Self.ip6(0x2607_5300, 0x6000_6B00, 0, 0xC02E_01EE), c),
            (Self.ip6(0x2607_5300, 0x6000_6B01, 0, 0), f), (Self.ip6(0x2404_6800, 0x4004_0806, 0, 0x1006), g),
            (Self.ip6(0x2404_6800, 0x4004_0806, 0x1234, 0x5678), g), (Self.ip6(0x2404_67FF, 0x4004_0806, 0x1234, 0x5678), f),
            (Self.ip6(0x2404_6801, 0x4004_0806, 0x1234, 0x5678), f), (Self.ip6(0x2404_6800, 0x4004_0800, 0x1234, 0x5678), h),
            (Self.ip6(0x2404_6800, 0x4004_0800, 0, 0), h), (Self.ip6(0x2404_6800, 0x4004_0800, 0x1010_1010, 0x1010_1010), h),
            (Self.ip6(0x2404_6800, 0x4004_0800, 0xDEAD_BEEF, 0xDEAD_BEEF), a),
            (Self.ip4(64, 15, 116, 26), g), (Self.ip4(64, 15, 127, 3), g), (Self.ip4(64, 15, 123, 1), g),
            (Self.ip4(64, 15, 123, 128), h), (Self.ip4(64, 15, 123, 129), h),
            (Self.ip4(10, 0, 0, 52), a), (Self.ip4(10, 0, 0, 220), b), (Self.ip4(10, 1, 0, 2), a), (Self.ip4(10, 1, 0, 6), b),
            (Self.ip4(10, 1, 0, 10), c), (Self.ip4(10, 1, 0, 20), d),
        ]
        for (address, peer) in expectations {
            #expect(table.lookup(address) === peer, "\(address) should go to \(peer), not \(String(describing: table.lookup(address)))")
        }
        #expect(table.prefixes(for: d).map(\.description) == ["2607:5300:6000:6b00::c05f:543/128", "10.1.0.16/29"])
        #expect(table.prefixes(for: e).map(\.description) == ["0.0.0.0/0"])
    }

    @Test func emptyTableAndMissingFamily() {
        let table = AllowedIPs<TestPeer>()
        #expect(table.lookup(Self.address("10.0.0.1")) == nil)
        #expect(table.lookup(Self.address("::1")) == nil)
        let a = TestPeer("a")
        table.insert(Self.prefix("0.0.0.0/0"), for: a)
        #expect(table.lookup(Self.address("10.0.0.1")) === a)
        #expect(table.lookup(Self.address("::ffff:10.0.0.1")) == nil, "IPv4 routes never match IPv6")
        #expect(table.lookup(v4: IPv4Address(255, 255, 255, 255)) === a)
        #expect(table.lookup(v6: IPv6Address(high: 0, low: 0)) == nil)
    }

    @Test func hostRoutesAtBothEnds() {
        let table = AllowedIPs<TestPeer>()
        let a = TestPeer("a"), b = TestPeer("b")
        table.insert(Self.prefix("0.0.0.0/32"), for: a)
        table.insert(Self.prefix("255.255.255.255/32"), for: b)
        table.insert(Self.prefix("::/128"), for: a)
        table.insert(Self.prefix("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"), for: b)
        #expect(table.lookup(Self.address("0.0.0.0")) === a)
        #expect(table.lookup(Self.address("0.0.0.1")) == nil)
        #expect(table.lookup(Self.address("255.255.255.255")) === b)
        #expect(table.lookup(Self.address("255.255.255.254")) == nil)
        #expect(table.lookup(Self.address("::")) === a)
        #expect(table.lookup(Self.address("::1")) == nil)
        #expect(table.lookup(Self.address("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")) === b)
        #expect(table.lookup(Self.address("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe")) == nil)
        #expect(table.lookup(Self.address("7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")) == nil)
    }

    // MARK: Ownership

    @Test func prefixMovesToTheLastPeerThatAddsIt() {
        let table = AllowedIPs<TestPeer>()
        let a = TestPeer("a"), b = TestPeer("b")
        table.insert(Self.prefix("10.0.0.0/8"), for: a)
        table.insert(Self.prefix("10.1.0.0/16"), for: a)
        table.insert(Self.prefix("fd00::/64"), for: b)
        table.insert(Self.prefix("10.0.0.0/8"), for: b)
        #expect(table.count == 3)
        #expect(table.lookup(Self.address("10.2.3.4")) === b)
        #expect(table.lookup(Self.address("10.1.3.4")) === a)
        #expect(table.prefixes(for: a) == [Self.prefix("10.1.0.0/16")])
        #expect(table.prefixes(for: b) == [Self.prefix("fd00::/64"), Self.prefix("10.0.0.0/8")], "a moved prefix counts as added when it moved")
        #expect(!table.remove(Self.prefix("10.0.0.0/8"), for: a), "a no longer owns it")
        #expect(table.lookup(Self.address("10.2.3.4")) === b)
    }

    @Test func reinsertingMovesToTheTailLikeTheKernel() {
        // allowedips.c re-links an existing node with list_move_tail even when the peer is unchanged.
        let table = AllowedIPs<TestPeer>()
        let a = TestPeer("a")
        for text in ["10.0.0.0/8", "fd00::/8", "192.168.0.0/16"] { table.insert(Self.prefix(text), for: a) }
        table.insert(Self.prefix("10.9.9.9/8"), for: a)
        #expect(table.prefixes(for: a).map(\.description) == ["fd00::/8", "192.168.0.0/16", "10.0.0.0/8"])
        #expect(table.count == 3)
    }

    @Test func removeOnlyByOwner() {
        let table = AllowedIPs<TestPeer>()
        let a = TestPeer("a"), b = TestPeer("b"), stranger = TestPeer("stranger")
        table.insert(Self.prefix("10.0.0.0/24"), for: a)
        table.insert(Self.prefix("10.0.1.0/24"), for: b)
        #expect(!table.remove(Self.prefix("10.0.0.0/24"), for: b))
        #expect(!table.remove(Self.prefix("10.0.0.0/24"), for: stranger))
        #expect(!table.remove(Self.prefix("10.0.0.0/25"), for: a), "a longer prefix is a different prefix")
        #expect(!table.remove(Self.prefix("10.0.0.0/23"), for: a), "the branch point between the two owns nothing")
        #expect(table.lookup(Self.address("10.0.0.7")) === a)
        #expect(table.remove(Self.prefix("10.0.0.0/24"), for: a))
        #expect(!table.remove(Self.prefix("10.0.0.0/24"), for: a))
        #expect(table.lookup(Self.address("10.0.0.7")) == nil)
        #expect(table.lookup(Self.address("10.0.1.7")) === b)
        #expect(table.count == 1)
        #expect(table.nodeCount == 1, "the branch point went with the prefix")
    }

    @Test func removingACoveringPrefixUncoversTheRest() {
        let table = AllowedIPs<TestPeer>()
        let a = TestPeer("a"), b = TestPeer("b")
        table.insert(Self.prefix("192.168.0.0/16"), for: a)
        table.insert(Self.prefix("192.168.0.0/24"), for: a)
        table.insert(Self.prefix("192.168.7.0/24"), for: b)
        #expect(table.remove(Self.prefix("192.168.0.0/16"), for: a))
        #expect(table.lookup(Self.address("192.168.0.1")) === a)
        #expect(table.lookup(Self.address("192.168.7.1")) === b)
        #expect(table.lookup(Self.address("192.168.1.1")) == nil)
        #expect(table.remove(Self.prefix("192.168.0.0/24"), for: a))
        #expect(table.lookup(Self.address("192.168.0.1")) == nil)
        #expect(table.nodeCount == 1)
    }

    @Test func removeAllForOnePeer() {
        let table = AllowedIPs<TestPeer>()
        let a = TestPeer("a"), b = TestPeer("b")
        for text in ["1.0.0.0/32", "64.0.0.0/32", "128.0.0.0/32", "192.0.0.0/32", "255.0.0.0/32", "fd00::/48"] {
            table.insert(Self.prefix(text), for: a)
        }
        table.insert(Self.prefix("0.0.0.0/0"), for: b)
        table.insert(Self.prefix("fd00:0:0:1::/64"), for: b)
        table.removeAll(for: a)
        for text in ["1.0.0.0", "64.0.0.0", "128.0.0.0", "192.0.0.0", "255.0.0.0"] {
            #expect(table.lookup(Self.address(text)) === b)
        }
        #expect(table.lookup(Self.address("fd00::1")) == nil)
        #expect(table.lookup(Self.address("fd00:0:0:1::1")) === b)
        #expect(table.prefixes(for: a).isEmpty)
        #expect(table.count == 2)
        #expect(table.nodeCount == 2)
        table.removeAll(for: a)   // nothing left to remove
        #expect(table.count == 2)
    }

    @Test func nestedPrefixesOfOnePeerAllGo() {
        let table = AllowedIPs<TestPeer>()
        let a = TestPeer("a")
        table.insert(Self.prefix("192.168.0.0/16"), for: a)
        table.insert(Self.prefix("192.168.0.0/24"), for: a)
        table.removeAll(for: a)
        #expect(table.lookup(Self.address("192.168.0.1")) == nil)
        #expect(table.count == 0)
        #expect(table.nodeCount == 0)
    }

    @Test func deepSingleBitDifferences() {
        // 128 host routes, each differing from all-ones in one bit: the deepest trie IPv6 allows.
        let table = AllowedIPs<TestPeer>()
        let a = TestPeer("a")
        for bit in 0..<128 {
            let high = bit < 64 ? ~(UInt64(1) << (63 - bit)) : .max
            let low = bit >= 64 ? ~(UInt64(1) << (127 - bit)) : .max
            table.insert(IPPrefix(address: .v6(IPv6Address(high: high, low: low)), length: 128)!, for: a)
        }
        #expect(table.count == 128)
        #expect(table.nodeCount == 128 + 127)
        #expect(table.lookup(v6: IPv6Address(high: .max, low: .max - 1)) === a)
        #expect(table.lookup(v6: IPv6Address(high: .max, low: .max)) == nil)
        #expect(table.lookup(v6: IPv6Address(high: .max, low: .max - 3)) == nil)
        table.removeAll(for: a)
        #expect(table.count == 0)
        #expect(table.nodeCount == 0)
    }

    @Test func listingIsInInsertionOrderAndMasked() {
        let table = AllowedIPs<TestPeer>()
        let a = TestPeer("a"), b = TestPeer("b")
        Self.add(table, a, Self.ip4(192, 95, 5, 93), 27)
        Self.add(table, a, Self.ip6(0x2607_5300, 0x6000_6B00, 0, 0xC05F_0543), 128)
        Self.add(table, b, Self.ip4(10, 1, 0, 1), 32)
        Self.add(table, a, Self.ip4(10, 1, 0, 20), 29)
        Self.add(table, a, Self.ip6(0x2607_5300, 0x6D8A_6BF8, 0xDAB1_F1DF, 0xC05F_1523), 83)
        Self.add(table, a, Self.ip6(0x2607_5300, 0x6D8A_6BF8, 0xDAB1_F1DF, 0xC05F_1523), 21)
        #expect(table.prefixes(for: a).map(\.description) == [
            "192.95.5.64/27", "2607:5300:6000:6b00::c05f:543/128", "10.1.0.16/29",
            "2607:5300:6d8a:6bf8:dab1:e000::/83", "2607:5000::/21",
        ])
        #expect(table.prefixes(for: b).map(\.description) == ["10.1.0.1/32"])
        #expect(table.prefixes(for: TestPeer("nobody")).isEmpty)
    }

    @Test func peersAreReleasedOnceTheyOwnNothing() {
        let table = AllowedIPs<TestPeer>()
        let keeper = TestPeer("keeper")
        weak var gone: TestPeer?
        weak var moved: TestPeer?
        do {
            let a = TestPeer("a"), b = TestPeer("b")
            gone = a
            moved = b
            table.insert(Self.prefix("10.0.0.0/8"), for: a)
            table.insert(Self.prefix("10.0.0.0/16"), for: a)
            table.insert(Self.prefix("fd00::/8"), for: b)
            table.removeAll(for: a)
            table.insert(Self.prefix("fd00::/8"), for: keeper)
        }
        #expect(gone == nil, "removeAll(for:) let go of the peer")
        #expect(moved == nil, "losing its last prefix to another peer let go of it")
        #expect(table.lookup(Self.address("fd00::1")) === keeper)

        weak var cleared: TestPeer?
        do {
            let c = TestPeer("c")
            cleared = c
            table.insert(Self.prefix("1.2.3.4/32"), for: c)
        }
        #expect(cleared != nil, "the table keeps an owner alive")
        table.removeAll()
        #expect(cleared == nil)
        #expect(table.count == 0)
        #expect(table.lookup(Self.address("fd00::1")) == nil)
    }

    // MARK: Memory

    @Test func churnDoesNotGrowStorage() {
        let table = AllowedIPs<TestPeer>()
        let peers = (0..<4).map { TestPeer("p\($0)") }
        var rng = SeededGenerator(seed: 77)
        func randomPrefix() -> IPPrefix {
            if Bool.random(using: &rng) {
                return IPPrefix(address: .v4(IPv4Address(value: .random(in: 0...UInt32.max, using: &rng))), length: .random(in: 8...32, using: &rng))!
            }
            let high: UInt64 = 0xFD00 << 48 | UInt64.random(in: 0...0xFFFF, using: &rng) << 32
            let a = IPv6Address(high: high, low: .random(in: 0...UInt64.max, using: &rng))
            return IPPrefix(address: .v6(a), length: .random(in: 16...128, using: &rng))!
        }
        var live: [(IPPrefix, TestPeer)] = []
        for _ in 0..<2000 {
            let p = (randomPrefix(), peers.randomElement(using: &rng)!)
            table.insert(p.0, for: p.1)
            live.append(p)
        }
        let steadyCapacity = table.nodeCapacity
        for _ in 0..<20_000 {
            let i = Int.random(in: 0..<live.count, using: &rng)
            table.remove(live[i].0, for: live[i].1)
            live[i] = (randomPrefix(), peers.randomElement(using: &rng)!)
            table.insert(live[i].0, for: live[i].1)
        }
        #expect(table.nodeCount <= 2 * table.count)
        #expect(table.nodeCapacity <= steadyCapacity + 64, "freed nodes are reused")

        for p in peers { table.removeAll(for: p) }
        #expect(table.count == 0)
        #expect(table.nodeCount == 0)
        #expect(table.nodeCapacity == 0, "an empty table holds no node storage")
    }

    @Test func shrinksWhenMostlyEmpty() {
        let table = AllowedIPs<TestPeer>()
        let a = TestPeer("a"), b = TestPeer("b")
        for i in 0..<20_000 {
            table.insert(IPPrefix(address: .v4(IPv4Address(value: UInt32(i) << 8)), length: 24)!, for: i % 10 == 0 ? a : b)
        }
        let full = table.nodeCapacity
        #expect(full >= 20_000)
        table.removeAll(for: b)
        #expect(table.count == 2000)
        #expect(table.nodeCapacity < full / 4, "storage follows the live nodes down")
        for i in stride(from: 0, to: 20_000, by: 10) {
            #expect(table.lookup(v4: IPv4Address(value: UInt32(i) << 8 | 77)) === a)
            #expect(table.lookup(v4: IPv4Address(value: UInt32(i + 1) << 8 | 77)) == nil)
        }
    }

    @Test func fullRoutingTableSizedTable() {
        // About as many prefixes as a full IPv4 BGP table split over a few peers.
        let table = AllowedIPs<TestPeer>()
        let peers = (0..<8).map { TestPeer("p\($0)") }
        var rng = SeededGenerator(seed: 130_000)
        var inserted: [(UInt32, Int, Int)] = []
        inserted.reserveCapacity(130_000)
        for _ in 0..<130_000 {
            let length = Int.random(in: 16...24, using: &rng)
            let value = UInt32.random(in: 0...UInt32.max, using: &rng) & (UInt32.max << (32 - length))
            let owner = Int.random(in: 0..<peers.count, using: &rng)
            table.insert(IPPrefix(address: .v4(IPv4Address(value: value)), length: length)!, for: peers[owner])
            inserted.append((value, length, owner))
        }
        #expect(table.count > 120_000)
        // Check the last word on a sample: every inserted /24's hosts resolve to its final owner,
        // since nothing longer than /24 was added.
        var owners: [UInt32: Int] = [:]
        for (value, length, owner) in inserted where length == 24 { owners[value] = owner }
        var checked = 0
        for (value, owner) in owners.prefix(2000) {
            #expect(table.lookup(v4: IPv4Address(value: value | 0x5A)) === peers[owner])
            checked += 1
        }
        #expect(checked == 2000)
    }

    // MARK: Randomized, against a naive table

    /// The table's meaning without a trie: each prefix's owner and when it was last added.
    private struct NaiveTable {
        var owner: [IPPrefix: (peer: Int, stamp: Int)] = [:]
        var clock = 0

        mutating func insert(_ p: IPPrefix, _ peer: Int) {
            clock += 1
            owner[p] = (peer, clock)
        }

        mutating func remove(_ p: IPPrefix, _ peer: Int) -> Bool {
            guard owner[p]?.peer == peer else { return false }
            owner[p] = nil
            return true
        }

        mutating func removeAll(_ peer: Int) {
            owner = owner.filter { $0.value.peer != peer }
        }

        /// Tries every length from longest to shortest.
        func lookup(_ a: IPAddress) -> Int? {
            for length in stride(from: a.isV4 ? 32 : 128, through: 0, by: -1) {
                if let hit = owner[IPPrefix(address: a, length: length)!] { return hit.peer }
            }
            return nil
        }

        func prefixes(_ peer: Int) -> [IPPrefix] {
            owner.filter { $0.value.peer == peer }.sorted { $0.value.stamp < $1.value.stamp }.map(\.key)
        }
    }

    /// Random addresses that cluster: a few bases with random low bits, so prefixes nest and collide.
    private struct AddressSource {
        var v4Bases: [UInt32] = []
        var v6Bases: [IPv6Address] = []

        init(_ rng: inout SeededGenerator) {
            for _ in 0..<6 {
                v4Bases.append(.random(in: 0...UInt32.max, using: &rng))
                v6Bases.append(IPv6Address(high: .random(in: 0...UInt64.max, using: &rng), low: .random(in: 0...UInt64.max, using: &rng)))
            }
            v4Bases.append(0)
            v6Bases.append(IPv6Address(high: 0, low: 0))
        }

        /// A base with its last `0...bits` bits randomized.
        func address(v4: Bool, _ rng: inout SeededGenerator) -> IPAddress {
            if v4 {
                let noise = UInt32.random(in: 0...UInt32.max, using: &rng) >> UInt32.random(in: 0...32, using: &rng)
                return .v4(IPv4Address(value: v4Bases.randomElement(using: &rng)! ^ noise))
            }
            let base = v6Bases.randomElement(using: &rng)!
            let shift = Int.random(in: 0...128, using: &rng)
            var noise = UInt128(UInt64.random(in: 0...UInt64.max, using: &rng)) << 64 | UInt128(UInt64.random(in: 0...UInt64.max, using: &rng))
            noise = shift == 128 ? 0 : noise >> shift
            let value = (UInt128(base.high) << 64 | UInt128(base.low)) ^ noise
            return .v6(IPv6Address(high: UInt64(truncatingIfNeeded: value >> 64), low: UInt64(truncatingIfNeeded: value)))
        }

        func prefix(v4: Bool, _ rng: inout SeededGenerator) -> IPPrefix {
            let maxLength = v4 ? 32 : 128
            // Mostly long prefixes, some short ones to cover them.
            let length = Bool.random(using: &rng) ? Int.random(in: maxLength / 2...maxLength, using: &rng) : Int.random(in: 0...maxLength, using: &rng)
            return IPPrefix(address: address(v4: v4, &rng), length: length)!
        }
    }

    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func matchesNaiveTable(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        let source = AddressSource(&rng)
        let peers = (0..<5).map { TestPeer("p\($0)") }
        let table = AllowedIPs<TestPeer>()
        var naive = NaiveTable()
        var known: [IPPrefix] = []

        func compareLookups(_ n: Int) {
            var wrong = 0
            for _ in 0..<n {
                let a = source.address(v4: Bool.random(using: &rng), &rng)
                let expected = naive.lookup(a).map { peers[$0] }
                if table.lookup(a) !== expected { wrong += 1 }
            }
            #expect(wrong == 0, "seed \(seed)")
        }

        for step in 0..<4000 {
            let roll = Int.random(in: 0..<100, using: &rng)
            let peer = Int.random(in: 0..<peers.count, using: &rng)
            switch roll {
            case 0..<60:
                let p = Int.random(in: 0..<4, using: &rng) == 0 && !known.isEmpty
                    ? known.randomElement(using: &rng)!   // re-add or move an existing one
                    : source.prefix(v4: Bool.random(using: &rng), &rng)
                table.insert(p, for: peers[peer])
                naive.insert(p, peer)
                known.append(p)
            case 60..<85 where !known.isEmpty:
                let p = known.randomElement(using: &rng)!
                let owner = Bool.random(using: &rng) ? naive.owner[p]?.peer ?? peer : peer
                #expect(table.remove(p, for: peers[owner]) == naive.remove(p, owner), "seed \(seed) step \(step)")
            case 85..<95:
                let p = source.prefix(v4: Bool.random(using: &rng), &rng)
                #expect(table.remove(p, for: peers[peer]) == naive.remove(p, peer), "seed \(seed) step \(step)")
            case 95..<97:
                table.removeAll(for: peers[peer])
                naive.removeAll(peer)
            default:
                break
            }
            if step % 500 == 499 {
                compareLookups(200)
                #expect(table.count == naive.owner.count, "seed \(seed) step \(step)")
            }
        }
        compareLookups(3000)
        #expect(table.count == naive.owner.count, "seed \(seed)")
        #expect(table.nodeCount <= 2 * table.count, "seed \(seed)")
        for (i, p) in peers.enumerated() {
            #expect(table.prefixes(for: p) == naive.prefixes(i), "seed \(seed) peer \(i)")
        }

        for (i, p) in peers.enumerated() {
            table.removeAll(for: p)
            naive.removeAll(i)
            compareLookups(100)
        }
        #expect(table.count == 0)
        #expect(table.nodeCount == 0)
    }
}
