import Testing
import Crypto
@testable import Protocol

/// DeviceConfig keeps the kernel's configuration invariants: peers unique and in insertion order,
/// each allowed-IPs prefix owned by at most one peer, and never the device's own key as a peer.
@Suite("DeviceConfig")
struct ConfigTests {
    /// A public key that is just a label: cheap, deterministic, distinct for distinct `n`.
    static func key(_ n: Int) -> PublicKey {
        var bytes = [UInt8](repeating: 0, count: 32)
        var value = UInt64(n) &* 0x9E37_79B9_7F4A_7C15 | 1
        for i in 0..<8 { bytes[i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
        value = UInt64(n)
        for i in 0..<8 { bytes[24 + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
        return PublicKey(Bytes32(bytes)!)
    }

    static func prefix(_ text: String) -> IPPrefix { IPPrefix(text)! }

    /// The i-th of many distinct prefixes: 10.x.y.0/24 for IPv4, fd00:…/64 for IPv6.
    static func manyPrefix(_ i: Int) -> IPPrefix {
        if i % 2 == 0 {
            let n = UInt32(i / 2)
            return IPPrefix(address: .v4(IPv4Address(value: 0x0A00_0000 | (n << 8))), length: 24)!
        }
        return IPPrefix(address: .v6(IPv6Address(high: 0xFD00_0000_0000_0000 | UInt64(i), low: 0)), length: 64)!
    }

    static func keys(_ config: DeviceConfig) -> [PublicKey] { config.peers.map(\.publicKey) }

    let a = ConfigTests.key(1), b = ConfigTests.key(2), c = ConfigTests.key(3), d = ConfigTests.key(4)
    let p1 = ConfigTests.prefix("192.0.2.0/24")
    let p2 = ConfigTests.prefix("203.0.113.7/32")
    let p3 = ConfigTests.prefix("fd00::/64")
    let p4 = ConfigTests.prefix("198.51.100.0/25")

    // MARK: peers

    @Test func peersKeepInsertionOrder() {
        var config = DeviceConfig()
        for k in [c, a, d, b] {
            let added = config.addPeer(k)
            #expect(added)
        }
        #expect(Self.keys(config) == [c, a, d, b])
        for k in [a, b, c, d] { #expect(config.peer(k)?.publicKey == k) }
        #expect(config.peer(Self.key(99)) == nil)
    }

    @Test func addingAPeerTwiceKeepsOneInItsPlace() {
        var config = DeviceConfig()
        config.addPeer(a)
        config.addPeer(b)
        config.addAllowedIP(p1, to: a)
        config.updatePeer(a) { $0.persistentKeepaliveInterval = 25 }
        let added = config.addPeer(a)
        #expect(added)
        #expect(Self.keys(config) == [a, b])
        // Re-adding is not resetting: what it had stays.
        #expect(config.peer(a)?.allowedIPs == [p1])
        #expect(config.peer(a)?.persistentKeepaliveInterval == 25)
    }

    @Test func theDevicesOwnKeyCannotBeAPeer() {
        let own = PrivateKey.generate()
        var config = DeviceConfig()
        config.setPrivateKey(own)
        #expect(config.publicKey == own.publicKey)
        config.addPeer(a)
        let before = config
        let added = config.addPeer(own.publicKey)
        #expect(added == false)
        #expect(config == before)
        #expect(Self.keys(config) == [a])
        #expect(config.peer(own.publicKey) == nil)
        // Nor can it be given allowed IPs through the back door.
        config.addAllowedIP(p1, to: own.publicKey)
        #expect(config.owner(of: p1) == nil)
    }

    @Test func anyKeyIsAPeerWithoutAPrivateKey() {
        var config = DeviceConfig()
        let other = PrivateKey.generate()
        #expect(config.publicKey == nil)
        let added = config.addPeer(other.publicKey)
        #expect(added)
        #expect(Self.keys(config) == [other.publicKey])
    }

    @Test func settingThePrivateKeyRemovesThePeerWithItsPublicKey() {
        let own = PrivateKey.generate()
        var config = DeviceConfig()
        config.addPeer(a)
        config.addPeer(own.publicKey)
        config.addPeer(b)
        config.addAllowedIP(p1, to: a)
        config.addAllowedIP(p2, to: own.publicKey)
        config.addAllowedIP(p3, to: b)
        config.setPrivateKey(own)
        #expect(Self.keys(config) == [a, b])
        #expect(config.peer(own.publicKey) == nil)
        // Its prefix is free again, and the peers after it are still found.
        #expect(config.owner(of: p2) == nil)
        #expect(config.peer(b)?.allowedIPs == [p3])
        config.addAllowedIP(p2, to: b)
        #expect(config.peer(b)?.allowedIPs == [p3, p2])
        #expect(config.owner(of: p2) == b)
    }

    @Test func clearingThePrivateKeyAllowsItsPublicKeyAsAPeer() {
        let own = PrivateKey.generate()
        var config = DeviceConfig()
        config.setPrivateKey(own)
        let refused = config.addPeer(own.publicKey)
        #expect(refused == false)
        config.setPrivateKey(nil)
        #expect(config.privateKey == nil)
        let added = config.addPeer(own.publicKey)
        #expect(added)
        #expect(Self.keys(config) == [own.publicKey])
    }

    // MARK: allowed IPs

    @Test func addingAnAllowedIPMovesItFromItsOwner() {
        var config = DeviceConfig()
        config.addPeer(a)
        config.addPeer(b)
        for p in [p1, p2, p3] { config.addAllowedIP(p, to: a) }
        config.addAllowedIP(p4, to: b)
        config.addAllowedIP(p2, to: b)
        #expect(config.peer(a)?.allowedIPs == [p1, p3])
        #expect(config.peer(b)?.allowedIPs == [p4, p2])
        #expect(config.owner(of: p2) == b)
        #expect(config.owner(of: p1) == a)
        #expect(config.owner(of: p3) == a)
    }

    @Test func addingAnOwnedAllowedIPAgainChangesNothing() {
        var config = DeviceConfig()
        config.addPeer(a)
        for p in [p1, p2, p3] { config.addAllowedIP(p, to: a) }
        config.addAllowedIP(p1, to: a)
        #expect(config.peer(a)?.allowedIPs == [p1, p2, p3])
    }

    @Test func twoSpellingsOfOneBlockAreOnePrefix() {
        var config = DeviceConfig()
        config.addPeer(a)
        config.addPeer(b)
        config.addAllowedIP(Self.prefix("192.0.2.77/24"), to: a)
        config.addAllowedIP(Self.prefix("192.0.2.0/24"), to: b)
        #expect(config.peer(a)?.allowedIPs == [])
        #expect(config.peer(b)?.allowedIPs == [p1])
        #expect(config.owner(of: Self.prefix("192.0.2.1/24")) == b)
    }

    @Test func allowedIPsForAnUnknownPeerAreIgnored() {
        var config = DeviceConfig()
        config.addPeer(a)
        config.addAllowedIP(p1, to: a)
        let before = config
        config.addAllowedIP(p1, to: b)
        config.addAllowedIP(p2, to: b)
        config.removeAllowedIP(p1, from: b)
        config.removeAllowedIPs(of: b)
        #expect(config == before)
        #expect(config.owner(of: p1) == a)
        #expect(config.owner(of: p2) == nil)
    }

    @Test func removeAllowedIPOnlyRemovesWhatThatPeerOwns() {
        var config = DeviceConfig()
        config.addPeer(a)
        config.addPeer(b)
        config.addAllowedIP(p1, to: a)
        config.addAllowedIP(p2, to: a)
        config.addAllowedIP(p3, to: b)
        config.removeAllowedIP(p1, from: b)
        #expect(config.owner(of: p1) == a)
        #expect(config.peer(a)?.allowedIPs == [p1, p2])
        config.removeAllowedIP(p4, from: a)
        #expect(config.peer(a)?.allowedIPs == [p1, p2])
        config.removeAllowedIP(p1, from: a)
        #expect(config.owner(of: p1) == nil)
        #expect(config.peer(a)?.allowedIPs == [p2])
        #expect(config.peer(b)?.allowedIPs == [p3])
    }

    @Test func removeAllowedIPsOfAPeerFreesThem() {
        var config = DeviceConfig()
        config.addPeer(a)
        config.addPeer(b)
        for p in [p1, p2, p3] { config.addAllowedIP(p, to: a) }
        config.addAllowedIP(p4, to: b)
        config.removeAllowedIPs(of: a)
        #expect(config.peer(a)?.allowedIPs == [])
        for p in [p1, p2, p3] { #expect(config.owner(of: p) == nil) }
        #expect(config.owner(of: p4) == b)
        // Free: another peer takes them without anyone losing anything.
        config.addAllowedIP(p2, to: b)
        config.addAllowedIP(p1, to: b)
        #expect(config.peer(b)?.allowedIPs == [p4, p2, p1])
        #expect(config.peer(a)?.allowedIPs == [])
        #expect(config.owner(of: p1) == b)
    }

    // MARK: removing peers

    @Test func removePeerFreesItsPrefixesAndReindexes() {
        var config = DeviceConfig()
        for k in [a, b, c, d] { config.addPeer(k) }
        config.addAllowedIP(p1, to: a)
        config.addAllowedIP(p2, to: b)
        config.addAllowedIP(p3, to: c)
        config.addAllowedIP(p4, to: d)
        config.removePeer(b)
        #expect(Self.keys(config) == [a, c, d])
        #expect(config.peer(b) == nil)
        #expect(config.owner(of: p2) == nil)
        // Later peers moved down one slot; lookups and edits must still reach the right one.
        #expect(config.peer(c)?.allowedIPs == [p3])
        #expect(config.peer(d)?.allowedIPs == [p4])
        config.updatePeer(d) { $0.persistentKeepaliveInterval = 42 }
        config.updatePeer(c) { $0.persistentKeepaliveInterval = 7 }
        #expect(config.peers.map(\.persistentKeepaliveInterval) == [0, 7, 42])
        // Moving a prefix between reindexed peers takes it from the right one.
        config.addAllowedIP(p4, to: c)
        #expect(config.peer(c)?.allowedIPs == [p3, p4])
        #expect(config.peer(d)?.allowedIPs == [])
        config.removeAllowedIP(p3, from: c)
        #expect(config.peer(c)?.allowedIPs == [p4])
        config.addAllowedIP(p2, to: d)
        #expect(config.peer(d)?.allowedIPs == [p2])
        #expect(config.peer(a)?.allowedIPs == [p1])
        // The removed key can come back, at the end.
        config.addPeer(b)
        #expect(Self.keys(config) == [a, c, d, b])
        #expect(config.peer(b)?.allowedIPs == [])
    }

    @Test func removingTheFirstAndLastPeers() {
        var config = DeviceConfig()
        for k in [a, b, c, d] { config.addPeer(k) }
        config.removePeer(a)
        config.removePeer(d)
        config.removePeer(Self.key(99))
        #expect(Self.keys(config) == [b, c])
        config.updatePeer(c) { $0.persistentKeepaliveInterval = 1 }
        config.updatePeer(b) { $0.persistentKeepaliveInterval = 2 }
        #expect(config.peer(b)?.persistentKeepaliveInterval == 2)
        #expect(config.peer(c)?.persistentKeepaliveInterval == 1)
    }

    @Test func removeAllPeersFreesEverything() {
        var config = DeviceConfig()
        for k in [a, b] { config.addPeer(k) }
        config.addAllowedIP(p1, to: a)
        config.addAllowedIP(p2, to: b)
        config.removeAllPeers()
        #expect(config.peers.isEmpty)
        #expect(config.peer(a) == nil)
        #expect(config.owner(of: p1) == nil)
        #expect(config.owner(of: p2) == nil)
        config.addPeer(b)
        config.addAllowedIP(p1, to: b)
        #expect(config.peer(b)?.allowedIPs == [p1])
    }

    // MARK: editing peers

    @Test func updatePeerEditsEndpointKeepaliveAndPresharedKey() {
        var config = DeviceConfig()
        config.addPeer(a)
        config.addPeer(b)
        let endpoint = Endpoint(address: .v4(IPv4Address(192, 0, 2, 1)), port: 51_820)
        let endpoint6 = Endpoint(address: .v6(IPv6Address("fd00::1")!), port: 1)
        let psk = PresharedKey.generate()
        config.updatePeer(b) {
            $0.endpoint = endpoint
            $0.persistentKeepaliveInterval = 25
            $0.presharedKey = psk
        }
        #expect(config.peer(b)?.endpoint == endpoint)
        #expect(config.peer(b)?.persistentKeepaliveInterval == 25)
        #expect(config.peer(b)?.presharedKey == psk)
        // The other peer is untouched.
        #expect(config.peer(a) == PeerConfig(publicKey: a))
        config.updatePeer(b) {
            $0.endpoint = endpoint6
            $0.presharedKey = nil
        }
        #expect(config.peer(b)?.endpoint == endpoint6)
        #expect(config.peer(b)?.presharedKey == nil)
        #expect(config.peer(b)?.persistentKeepaliveInterval == 25)
        // An unknown peer: nothing happens, the closure is not run.
        var ran = false
        config.updatePeer(c) { _ in ran = true }
        #expect(!ran)
        #expect(config.peer(c) == nil)
    }

    // MARK: equality

    @Test func equality() {
        let key = PrivateKey.generate()
        func build(_ order: [PublicKey]) -> DeviceConfig {
            var config = DeviceConfig()
            config.setPrivateKey(key)
            config.listenPort = 51_820
            for k in order { config.addPeer(k) }
            config.addAllowedIP(p1, to: a)
            config.addAllowedIP(p2, to: a)
            return config
        }
        let one = build([a, b])
        #expect(one == build([a, b]))
        #expect(one != build([b, a]))
        #expect(one != DeviceConfig())

        var other = one
        other.listenPort = 1
        #expect(one != other)
        other = one; other.fwmark = 7
        #expect(one != other)
        other = one; other.mtu = 1_280
        #expect(one != other)
        other = one; other.addresses = [p1]
        #expect(one != other)
        other = one; other.setPrivateKey(PrivateKey.generate())
        #expect(one != other)
        other = one; other.updatePeer(b) { $0.persistentKeepaliveInterval = 1 }
        #expect(one != other)
        // The same prefixes in another order are another configuration (order is kept and shown).
        other = one
        other.removeAllowedIP(p1, from: a)
        other.addAllowedIP(p1, to: a)
        #expect(other.peer(a)?.allowedIPs == [p2, p1])
        #expect(one != other)
        // A change undone is equal again.
        other = one
        other.addAllowedIP(p3, to: b)
        #expect(one != other)
        other.removeAllowedIP(p3, from: b)
        #expect(one == other)
        // A private key compares by value, not identity.
        let same = key.secret.withUnsafeBytes { PrivateKey(copying: $0) }
        #expect(same !== key)
        other = one
        other.setPrivateKey(same)
        #expect(one == other)
    }

    // MARK: randomized against a reference model

    /// The same semantics in the simplest form: an array of (key, prefixes).
    struct Model {
        var own: PublicKey?
        var peers: [(key: PublicKey, prefixes: [IPPrefix])] = []

        func index(_ key: PublicKey) -> Int? { peers.firstIndex { $0.key == key } }
        func owner(_ prefix: IPPrefix) -> PublicKey? { peers.first { $0.prefixes.contains(prefix) }?.key }

        mutating func addPeer(_ key: PublicKey) -> Bool {
            if key == own { return false }
            if index(key) == nil { peers.append((key, [])) }
            return true
        }
        mutating func removePeer(_ key: PublicKey) { peers.removeAll { $0.key == key } }
        mutating func setPrivateKey(_ key: PrivateKey?) {
            own = key?.publicKey
            if let own { removePeer(own) }
        }
        mutating func addAllowedIP(_ prefix: IPPrefix, to key: PublicKey) {
            guard let i = index(key), !peers[i].prefixes.contains(prefix) else { return }
            for j in peers.indices { peers[j].prefixes.removeAll { $0 == prefix } }
            peers[i].prefixes.append(prefix)
        }
        mutating func removeAllowedIP(_ prefix: IPPrefix, from key: PublicKey) {
            guard let i = index(key) else { return }
            peers[i].prefixes.removeAll { $0 == prefix }
        }
        mutating func removeAllowedIPs(of key: PublicKey) {
            guard let i = index(key) else { return }
            peers[i].prefixes = []
        }
    }

    @Test(arguments: [1, 2, 3, 0xFEED_FACE] as [UInt64])
    func randomizedOperationsMatchTheModel(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        let privateKeys = (0..<3).map { _ in PrivateKey.generate() }
        let keys = (0..<10).map(Self.key) + privateKeys.map(\.publicKey)
        let prefixes = (0..<30).map(Self.manyPrefix) + ["0.0.0.0/0", "::/0", "192.0.2.1/32", "fd00::1/128"].map(Self.prefix)
        var config = DeviceConfig()
        var model = Model()
        var keepalive: [PublicKey: UInt16] = [:]

        for step in 0..<6_000 {
            let key = keys[Int(random.next() % UInt64(keys.count))]
            let prefix = prefixes[Int(random.next() % UInt64(prefixes.count))]
            switch random.next() % 100 {
            case 0..<20:
                let added = config.addPeer(key)
                #expect(added == model.addPeer(key), "seed \(seed) step \(step)")
            case 20..<28:
                config.removePeer(key)
                model.removePeer(key)
                keepalive[key] = nil
            case 28..<60:
                config.addAllowedIP(prefix, to: key)
                model.addAllowedIP(prefix, to: key)
            case 60..<75:
                config.removeAllowedIP(prefix, from: key)
                model.removeAllowedIP(prefix, from: key)
            case 75..<80:
                config.removeAllowedIPs(of: key)
                model.removeAllowedIPs(of: key)
            case 80..<83:
                let choice = random.next() % 4
                let privateKey = choice == 3 ? nil : privateKeys[Int(choice)]
                config.setPrivateKey(privateKey)
                model.setPrivateKey(privateKey)
                if let own = privateKey?.publicKey { keepalive[own] = nil }
            case 83:
                if random.next() % 10 == 0 {
                    config.removeAllPeers()
                    model.peers = []
                    keepalive = [:]
                }
            default:
                let interval = UInt16(truncatingIfNeeded: random.next())
                config.updatePeer(key) { $0.persistentKeepaliveInterval = interval }
                if model.index(key) != nil { keepalive[key] = interval }
            }

            // The whole state, every step.
            let ok = Self.keys(config) == model.peers.map(\.key)
                && config.peers.map(\.allowedIPs) == model.peers.map(\.prefixes)
            #expect(ok, "seed \(seed) step \(step): peers or their allowed IPs differ from the model")
            for k in keys {
                #expect(config.peer(k)?.allowedIPs == model.index(k).map { model.peers[$0].prefixes }, "seed \(seed) step \(step)")
                #expect(config.peer(k)?.persistentKeepaliveInterval == model.index(k).map { _ in keepalive[k] ?? 0 },
                        "seed \(seed) step \(step)")
            }
            for p in prefixes {
                #expect(config.owner(of: p) == model.owner(p), "seed \(seed) step \(step) prefix \(p)")
            }
            let all = config.peers.flatMap(\.allowedIPs)
            #expect(Set(all).count == all.count, "seed \(seed) step \(step): a prefix is listed twice")
            if let own = config.publicKey { #expect(config.peer(own) == nil) }
            if !ok { return }
        }
    }

    // MARK: scale

    @Test func twoHundredPeersWithFiveHundredPrefixesEach() {
        var config = DeviceConfig()
        let peerCount = 200, perPeer = 500
        let keys = (0..<peerCount).map { Self.key(1_000 + $0) }
        for k in keys { config.addPeer(k) }
        for (i, k) in keys.enumerated() {
            for j in 0..<perPeer { config.addAllowedIP(Self.manyPrefix(i * perPeer + j), to: k) }
        }
        #expect(config.peers.count == peerCount)
        #expect(config.peers.allSatisfy { $0.allowedIPs.count == perPeer })
        #expect(config.owner(of: Self.manyPrefix(0)) == keys[0])
        #expect(config.owner(of: Self.manyPrefix(peerCount * perPeer - 1)) == keys[peerCount - 1])

        // Move the first peer's prefixes to the last, then remove every other peer.
        for j in 0..<perPeer { config.addAllowedIP(Self.manyPrefix(j), to: keys[peerCount - 1]) }
        #expect(config.peer(keys[0])?.allowedIPs == [])
        #expect(config.peer(keys[peerCount - 1])?.allowedIPs.count == 2 * perPeer)
        for k in keys.enumerated().filter({ $0.offset % 2 == 1 }).map(\.element) { config.removePeer(k) }
        #expect(config.peers.count == peerCount / 2)
        #expect(config.owner(of: Self.manyPrefix(1 * perPeer)) == nil)
        #expect(config.owner(of: Self.manyPrefix(2 * perPeer + 7)) == keys[2])
        #expect(config.owner(of: Self.manyPrefix(3)) == nil)  // went to the last peer, which was removed
        config.updatePeer(keys[198]) { $0.persistentKeepaliveInterval = 9 }
        #expect(config.peers.last?.publicKey == keys[198])
        #expect(config.peers.last?.persistentKeepaliveInterval == 9)
        let total = config.peers.reduce(0) { $0 + $1.allowedIPs.count }
        #expect(total == (peerCount / 2 - 1) * perPeer)
    }
}

extension ConfigTests {
    /// updatePeer's closure may not change the key: a peer's public key is its identity.
    @Test func updatePeerRefusesToChangeTheKey() async {
        await #expect(processExitsWith: .failure) {
            var config = DeviceConfig()
            config.addPeer(ConfigTests.key(1))
            config.updatePeer(ConfigTests.key(1)) { $0.publicKey = ConfigTests.key(2) }
        }
    }
}

/// A configuration is a value whose allowed IPs live in a trie that copies share page by page: a
/// set edits a copy of the configuration the device routes by, and must change nothing else, and
/// copy only what it writes.
@Suite("DeviceConfig copies")
struct ConfigCopyTests {
    static let keys = (0..<3).map { ConfigTests.key(500 + $0) }

    /// 60,000 prefixes over three peers, in about a hundred pages.
    static func big() -> DeviceConfig {
        var config = DeviceConfig()
        for k in keys { config.addPeer(k) }
        for i in 0..<60_000 { config.addAllowedIP(ConfigTests.manyPrefix(i), to: keys[i % 3]) }
        return config
    }

    @Test func aSmallChangeToACopyCopiesAFewPages() {
        let original = Self.big()
        var copy = original
        copy.addAllowedIP(ConfigTests.prefix("198.51.100.0/24"), to: Self.keys[1])
        copy.addAllowedIP(ConfigTests.manyPrefix(7), to: Self.keys[0])      // a move
        copy.removeAllowedIP(ConfigTests.manyPrefix(100), from: Self.keys[1])
        let pages = original.allowedIPsTrie.pageCount
        let shared = copy.allowedIPsTrie.sharedPages(with: original.allowedIPsTrie)
        #expect(pages > 50)
        #expect(pages - shared <= 12, "each edit writes a few nodes on one path and two list neighbours")
        #expect(original.peer(Self.keys[1])?.allowedIPList.count == 20_000)
        #expect(copy.peer(Self.keys[1])?.allowedIPList.count == 19_999)
        #expect(copy.owner(of: ConfigTests.manyPrefix(7)) == Self.keys[0])
        #expect(original.owner(of: ConfigTests.manyPrefix(7)) == Self.keys[1])
    }

    @Test func removingPrefixesOnEveryPageTakesFreshPagesForTheRest() {
        let original = Self.big()
        var copy = original
        // A third of the table, on every page (the peers' prefixes alternate): removed in place,
        // every page would be copied; rebuilt, the rest takes two thirds of the pages.
        copy.removePeer(Self.keys[0])
        let pages = copy.allowedIPsTrie.pageCount
        #expect(copy.allowedIPsTrie.sharedPages(with: original.allowedIPsTrie) == 0)
        #expect(pages < original.allowedIPsTrie.pageCount * 3 / 4)
        // Now nothing shares the copy's pages: removing in place costs nothing.
        copy.removeAllowedIPs(of: Self.keys[1])
        #expect(copy.allowedIPsTrie.pageCount == pages)
        #expect(copy.peers.map(\.allowedIPList.count) == [0, 20_000])
        #expect(original.peers.map(\.allowedIPList.count) == [20_000, 20_000, 20_000])
    }

    @Test(arguments: [11, 12] as [UInt64])
    func copiesNeverSeeEachOthersChanges(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        var config = Self.big()
        var snapshots: [(config: DeviceConfig, peers: [[IPPrefix]])] = []
        for round in 0..<6 {
            snapshots.append((config, config.peers.map(\.allowedIPs)))
            for _ in 0..<3_000 {
                let key = Self.keys[Int(random.next() % 3)]
                let prefix = ConfigTests.manyPrefix(Int(random.next() % 70_000))
                switch random.next() % 10 {
                case 0..<5: config.addAllowedIP(prefix, to: key)
                case 5..<9: config.removeAllowedIP(prefix, from: key)
                default: if round == 3 { config.removeAllowedIPs(of: key) }
                }
            }
        }
        for (i, snapshot) in snapshots.enumerated() {
            #expect(snapshot.config.peers.map(\.allowedIPs) == snapshot.peers, "seed \(seed): snapshot \(i) changed")
        }
        let all = config.peers.flatMap(\.allowedIPs)
        #expect(Set(all).count == all.count)
        for prefix in all.prefix(2_000) { #expect(config.owner(of: prefix) != nil) }
    }
}
