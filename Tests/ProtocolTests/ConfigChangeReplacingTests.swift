import Testing
import Crypto
@testable import Protocol

/// ConfigChange(replacing: c) turns any configuration into c (mtu and addresses aside, which no
/// operation carries), directly and through ConfigWire; and a change iterates in order.
@Suite("ConfigChange(replacing:)")
struct ConfigChangeReplacingTests {
    typealias Support = ConfigWireSupport

    @Test(arguments: 0..<30)
    func anyConfigurationBecomesTheTarget(seed: UInt64) throws {
        var random = FastRandom(seed: 0x5EED_0000 + seed)
        for _ in 0..<10 {
            let target = Support.config(&random), base = Support.config(&random)
            let change = ConfigChange(replacing: target)
            var result = base
            change.apply(to: &result)
            #expect(result.mtu == base.mtu && result.addresses == base.addresses, "no operation reaches them")
            result.mtu = target.mtu
            result.addresses = target.addresses
            #expect(result == target, "seed \(seed)")

            var viaWire = base
            try Support.decode(Support.encode(change)).apply(to: &viaWire)
            viaWire.mtu = target.mtu
            viaWire.addresses = target.addresses
            #expect(viaWire == target, "seed \(seed)")
        }
    }

    /// Field by field for one hand-made case, with what == might hide: an endpoint the base had
    /// and the target lacks, a key the target lacks, prefixes moving between peers.
    @Test func fieldByField() throws {
        let a = ConfigTests.key(1), b = ConfigTests.key(2), c = ConfigTests.key(3)
        var base = DeviceConfig()
        base.setPrivateKey(PrivateKey.generate())
        base.listenPort = 1
        base.fwmark = 2
        for key in [a, b, c] { base.addPeer(key) }
        base.updatePeer(a) { $0.endpoint = Endpoint("192.0.2.1:1"); $0.presharedKey = PresharedKey.generate() }
        base.addAllowedIP(IPPrefix("10.0.0.0/8")!, to: a)
        base.addAllowedIP(IPPrefix("fd00::/64")!, to: b)

        var target = DeviceConfig()
        target.addPeer(b)
        target.addPeer(a)
        target.updatePeer(b) { $0.persistentKeepaliveInterval = 25; $0.endpoint = Endpoint("[2001:db8::1]:51820") }
        target.addAllowedIP(IPPrefix("10.0.0.0/8")!, to: b)
        target.addAllowedIP(IPPrefix("fd00::/64")!, to: a)
        target.addAllowedIP(IPPrefix("192.0.2.0/24")!, to: a)

        var result = base
        ConfigChange(replacing: target).apply(to: &result)
        #expect(result.privateKey == nil && result.listenPort == 0 && result.fwmark == 0)
        #expect(result.peers.map(\.publicKey) == [b, a])
        let peerA = try #require(result.peer(a)), peerB = try #require(result.peer(b))
        #expect(peerA.endpoint == nil && peerA.presharedKey == nil && peerA.persistentKeepaliveInterval == 0)
        #expect(peerA.allowedIPs == [IPPrefix("fd00::/64")!, IPPrefix("192.0.2.0/24")!])
        #expect(peerB.endpoint == Endpoint("[2001:db8::1]:51820") && peerB.persistentKeepaliveInterval == 25)
        #expect(peerB.allowedIPs == [IPPrefix("10.0.0.0/8")!])
    }

    @Test func theOperationsAreInTheDocumentedOrder() {
        var config = DeviceConfig()
        let key = PrivateKey.generate(), psk = PresharedKey.generate(), a = ConfigTests.key(1)
        config.setPrivateKey(key)
        config.listenPort = 51820
        config.fwmark = 7
        config.addPeer(a)
        config.updatePeer(a) { $0.presharedKey = psk; $0.endpoint = Endpoint("192.0.2.1:9"); $0.persistentKeepaliveInterval = 5 }
        config.addAllowedIP(IPPrefix("10.0.0.0/8")!, to: a)
        config.addAllowedIP(IPPrefix("fd00::/8")!, to: a)
        let expected: [ConfigOperation] = [
            .replacePeers, .privateKey(key), .listenPort(51820), .fwmark(7), .peer(a), .presharedKey(psk),
            .endpoint(Endpoint("192.0.2.1:9")!), .persistentKeepaliveInterval(5), .replaceAllowedIPs,
            .addAllowedIP(IPPrefix("10.0.0.0/8")!), .addAllowedIP(IPPrefix("fd00::/8")!),
        ]
        #expect(Array(ConfigChange(replacing: config)) == expected)
    }

    /// Iteration crosses the 4,096-operation chunks in order.
    @Test func iterationKeepsOrderAcrossChunks() {
        var change = ConfigChange()
        for port in 0..<10_000 { change.append(.listenPort(UInt16(port))) }
        var next: UInt16 = 0
        for operation in change {
            guard case .listenPort(let port) = operation, port == next else {
                Issue.record("operation \(next) is \(operation)")
                return
            }
            next += 1
        }
        #expect(next == 10_000 && change.underestimatedCount == 10_000)
    }
}
