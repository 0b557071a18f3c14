import Testing
import Crypto
@testable import Protocol

/// The device routes by the configuration's own trie: every applied change, however made, is
/// what `route` answers, including peers removed and slots reused by new peers.
@Suite struct DeviceRoutesTests {
    let a = ConfigTests.key(1), b = ConfigTests.key(2), c = ConfigTests.key(3)

    func route(_ device: Device<NoRuntime>, _ address: String) -> PublicKey? { device.route(IPAddress(address)!)?.publicKey }

    @Test func routesFollowEachAppliedConfiguration() {
        let device = Device()
        var config = DeviceConfig()
        config.addPeer(a)
        config.addPeer(b)
        config.addAllowedIP(ConfigTests.prefix("192.0.2.0/24"), to: a)
        config.addAllowedIP(ConfigTests.prefix("192.0.2.128/25"), to: b)
        config.addAllowedIP(ConfigTests.prefix("fd00::/64"), to: b)
        device.apply(config, now: .zero)
        #expect(route(device, "192.0.2.1") == a)
        #expect(route(device, "192.0.2.200") == b)
        #expect(route(device, "fd00::9") == b)
        #expect(route(device, "198.51.100.1") == nil)

        // A move, a removal: the next apply routes by them, and the old config is untouched.
        let before = config
        config.addAllowedIP(ConfigTests.prefix("fd00::/64"), to: a)
        config.removeAllowedIP(ConfigTests.prefix("192.0.2.128/25"), from: b)
        device.apply(config, now: .zero)
        #expect(route(device, "fd00::9") == a)
        #expect(route(device, "192.0.2.200") == a)
        #expect(before.owner(of: ConfigTests.prefix("fd00::/64")) == b)

        // Peer a goes and c comes in the same change: c takes a's slot in the trie, and must get
        // only its own prefixes.
        config.removePeer(a)
        config.addPeer(c)
        config.addAllowedIP(ConfigTests.prefix("203.0.113.0/24"), to: c)
        device.apply(config, now: .zero)
        #expect(route(device, "192.0.2.1") == nil)
        #expect(route(device, "fd00::9") == nil)
        #expect(route(device, "203.0.113.9") == c)
        #expect(device.peer(a) == nil)

        device.apply(DeviceConfig(), now: .zero)
        #expect(route(device, "203.0.113.9") == nil)
    }

    @Test func aRemovedPeerIsNotRoutedTo() {
        let device = Device()
        var config = DeviceConfig()
        config.addPeer(a)
        for i in 0..<5_000 { config.addAllowedIP(ConfigTests.manyPrefix(i), to: a) }
        device.apply(config, now: .zero)
        weak let removed = device.peer(a)
        #expect(removed != nil)
        config.removePeer(a)
        device.apply(config, now: .zero)
        #expect(device.route(ConfigTests.manyPrefix(0).address) == nil)
        #expect(removed == nil, "neither the routes nor anything else keeps it")
    }
}
