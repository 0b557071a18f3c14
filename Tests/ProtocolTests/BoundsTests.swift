import Crypto
import Testing
@testable import Protocol

/// A configuration's bounds (peers, allowed IPs) and the index table's, which follows from the
/// peers: each hit, and what lies within them unaffected.
@Suite struct BoundsTests {
    /// A distinct public key per number (no curve point needed: a config only compares them).
    static func key(_ n: Int) -> PublicKey {
        var hex = String(n, radix: 16)
        hex = String(repeating: "0", count: 64 - hex.count) + hex
        return PublicKey(KeyEncoding.fromHex(hex)!)
    }

    @Test func peersUpToTheBoundAreWithinItAndOneMoreIsNot() {
        var config = DeviceConfig()
        for n in 1...ConfigBounds.maxPeers { config.addPeer(Self.key(n)) }
        #expect(config.peerCount == 4096)
        #expect(ConfigBounds.violation(of: config) == nil)
        config.addPeer(Self.key(ConfigBounds.maxPeers + 1))
        #expect(ConfigBounds.violation(of: config) == "4097 peers, over the bound of 4096 per interface")
    }

    @Test func allowedIPsOverTheBoundAreAViolationWhoeverOwnsThem() {
        var config = DeviceConfig()
        config.addPeer(Self.key(1))
        config.addPeer(Self.key(2))
        for i in 0..<8 {
            config.addAllowedIP(IPPrefix("10.0.0.\(i)/32")!, to: Self.key(1))
            config.addAllowedIP(IPPrefix("10.0.1.\(i)/32")!, to: Self.key(2))
        }
        #expect(config.allowedIPCount == 16)
        #expect(ConfigBounds.violation(of: config, maxAllowedIPs: 16) == nil)
        // Moving a prefix from one peer to the other adds none.
        config.addAllowedIP(IPPrefix("10.0.0.0/32")!, to: Self.key(2))
        #expect(ConfigBounds.violation(of: config, maxAllowedIPs: 16) == nil)
        config.addAllowedIP(IPPrefix("fd00::1/128")!, to: Self.key(1))
        #expect(ConfigBounds.violation(of: config, maxAllowedIPs: 16) == "17 allowed IPs, over the bound of 16 per interface")
        #expect(ConfigBounds.violation(of: config) == nil, "far within the default of 2^20")
    }

    /// The index table has no bound of its own: a peer holds one handshake index and three
    /// keypairs at most (previous, current, next; the handshake's index passes to its keypair), so
    /// 4 × peers bounds it, however many handshakes come and go.
    @Test func theIndexTableHoldsAtMostFourEntriesPerPeerAcrossHandshakes() throws {
        let (a, b) = makePair()
        var most = 0
        for round in 0..<40 {
            let now = Instant.seconds(Double(round) * 12)
            // Alternate initiators, confirm with data, and leave one initiation unanswered.
            let (initiator, responder) = round % 2 == 0 ? (a, b) : (b, a)
            try handshake(initiator, responder, now: now)
            let data = try #require(initiator.seal(ipv4Packet(from: initiator.inner4, to: responder.inner4, payload: [1]),
                                                   to: responder, now: now))
            #expect(responder.receive(data, from: initiator, now: now).outcome.deliveredRange != nil)
            _ = try #require(responder.initiation(to: initiator, now: .seconds(Double(round) * 12 + 6)))
            most = max(most, a.device.indexTable.count, b.device.indexTable.count)
            #expect(a.device.indexTable.count <= 4 && b.device.indexTable.count <= 4)
        }
        #expect(most >= 3, "the rounds did keep several sessions")
        // And a removed peer takes every index it had.
        a.config.removePeer(b.publicKey)
        a.device.apply(a.config, now: .seconds(500))
        #expect(a.device.indexTable.count == 0)
    }
}
