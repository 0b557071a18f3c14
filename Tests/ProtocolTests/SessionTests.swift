import Testing
import Crypto
@testable import Protocol

/// Two in-memory devices: handshake, key confirmation, data both ways, routing, roaming.
@Suite struct SessionTests {
    @Test(arguments: [false, true])
    func handshakeThenDataBothWays(withPSK: Bool) throws {
        let (a, b) = makePair(psk: withPSK ? .generate() : nil)
        let now = Instant.seconds(1)
        // No session yet: nothing can be sent, so the data plane would stage and handshake.
        #expect(a.seal([1, 2, 3], to: b, now: now) == nil)

        let initiation = try #require(a.initiation(to: b, now: now))
        let (outcome, _, response) = b.receive(initiation, from: a, now: now)
        guard case .reply(92, let responder?) = outcome else { Issue.record("\(outcome)"); return }
        #expect(responder === b.peer(a))
        // The responder holds its session in `next`: it may not send until the initiator confirms.
        #expect(b.peer(a).keypairs.next != nil && b.peer(a).keypairs.current == nil)
        #expect(b.seal(ipv4Packet(from: b.inner4, to: a.inner4, payload: [9]), to: a, now: now) == nil)

        guard case .sessionReady(let ready) = a.receive(response, from: b, now: now).outcome else { Issue.record("no session"); return }
        #expect(ready === a.peer(b))
        #expect(a.peer(b).keypairs.current != nil)
        #expect(a.peer(b).status.lastHandshake == wall(1))

        // The first data message confirms the session on the responder's side.
        let ping = ipv4Packet(from: a.inner4, to: b.inner4, payload: Array("ping".utf8))
        let sealed = try #require(a.seal(ping, to: b, now: now))
        #expect(sealed.count == 16 + 32 + 16)  // 24-byte packet padded to 32
        let (received, opened, _) = b.receive(sealed, from: a, now: now)
        guard case .data(let sender, let range, let receipt) = received else { Issue.record("\(received)"); return }
        #expect(sender === b.peer(a))
        #expect(receipt.sessionConfirmed)
        #expect(Array(opened[range]) == ping)
        #expect(b.peer(a).keypairs.current != nil && b.peer(a).keypairs.next == nil)
        #expect(b.peer(a).status.lastHandshake == wall(1))

        // Now the responder can answer, over IPv6 this time.
        let pong = ipv6Packet(from: b.inner6, to: a.inner6, payload: Array("pong".utf8))
        let reply = try #require(b.seal(pong, to: a, now: now))
        let (back, backOpened, _) = a.receive(reply, from: b, now: now)
        #expect(back.deliveredRange.map { Array(backOpened[$0]) } == pong)

        // Byte counters include WireGuard's overhead, as `wg show` reports them.
        #expect(a.peer(b).status.sentBytes == UInt64(148 + sealed.count))
        #expect(b.peer(a).status.receivedBytes == UInt64(148 + sealed.count))
        #expect(b.peer(a).status.sentBytes == UInt64(92 + reply.count))
    }

    @Test func aResponderWithDataOfItsOwnWaitsForConfirmation() throws {
        // send.c counts a response as a handshake sent. Without that, a responder with traffic of
        // its own starts a second handshake at once, whose session replaces the one the initiator
        // is about to confirm.
        let (a, b) = makePair()
        let initiation = try #require(a.initiation(to: b, now: .seconds(1)))
        let (outcome, _, response) = b.receive(initiation, from: a, now: .seconds(1))
        guard case .reply(92, _) = outcome else { Issue.record("\(outcome)"); return }
        // b has data for a but no confirmed session: the data plane stages it and asks for a handshake.
        let data = ipv4Packet(from: b.inner4, to: a.inner4, payload: [1])
        #expect(b.seal(data, to: a, now: .seconds(1)) == nil)
        #expect(b.initiation(to: a, now: .seconds(1)) == nil, "a response was just sent")
        #expect(b.initiation(to: a, now: .seconds(5.9)) == nil, "within REKEY_TIMEOUT of the response")
        // The initiator's first message confirms b's session; the staged data can go.
        guard case .sessionReady = a.receive(response, from: b, now: .seconds(1.1)).outcome else { Issue.record("no session"); return }
        let keepalive = try #require(a.seal([], to: b, now: .seconds(1.1)))
        guard case .keepalive(_, let receipt) = b.receive(keepalive, from: a, now: .seconds(1.2)).outcome else {
            Issue.record("not a keepalive"); return
        }
        #expect(receipt.sessionConfirmed)
        #expect(b.seal(data, to: a, now: .seconds(1.2)) != nil)
        #expect(b.initiation(to: a, now: .seconds(6)) != nil, "REKEY_TIMEOUT after the response")
    }

    @Test func routingPicksThePeerByDestination() throws {
        let (a, b) = makePair()
        let c = Side(endpoint: "198.51.100.3:51820", inner4: "192.0.2.3", inner6: "fd00::3")
        a.addPeer(c)
        let toB = ipv4Packet(from: a.inner4, to: b.inner4, payload: [])
        let toC = ipv6Packet(from: a.inner6, to: c.inner6, payload: [])
        let nowhere = ipv4Packet(from: a.inner4, to: "203.0.113.9", payload: [])
        #expect(toB.withUnsafeBytes { a.device.route($0) } === a.peer(b))
        #expect(toC.withUnsafeBytes { a.device.route($0) } === a.peer(c))
        #expect(nowhere.withUnsafeBytes { a.device.route($0) } == nil)
        #expect([UInt8](repeating: 0, count: 10).withUnsafeBytes { a.device.route($0) } == nil)
    }

    @Test func manyMessagesKeepCountersAndOrder() throws {
        let (a, b) = makePair()
        try handshake(a, b, now: .zero)
        for i in 0..<2000 {
            let packet = ipv4Packet(from: a.inner4, to: b.inner4, payload: [UInt8(truncatingIfNeeded: i), UInt8(i >> 8)])
            let sealed = try #require(a.seal(packet, to: b, now: .zero))
            #expect(sealed.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self) } == UInt64(i))
            let (outcome, opened, _) = b.receive(sealed, from: a, now: .zero)
            #expect(outcome.deliveredRange.map { Array(opened[$0]) } == packet)
        }
    }

    @Test func roamingFollowsTheLatestAuthenticatedSource() throws {
        let (a, b) = makePair()
        try handshake(a, b, now: .zero)
        #expect(b.peer(a).endpoint == a.endpoint)
        let moved = Side(key: a.key, endpoint: "203.0.113.50:40000", inner4: a.inner4, inner6: a.inner6)
        let packet = try #require(a.seal(ipv4Packet(from: a.inner4, to: b.inner4, payload: [1]), to: b, now: .zero))
        b.receive(packet, from: moved, now: .zero)
        #expect(b.peer(a).endpoint == moved.endpoint)
        // A forged packet from yet another address changes nothing.
        var forged = try #require(a.seal(ipv4Packet(from: a.inner4, to: b.inner4, payload: [2]), to: b, now: .zero))
        forged[20] ^= 1
        let elsewhere = Side(endpoint: "203.0.113.66:1", inner4: "192.0.2.66", inner6: "fd00::66")
        #expect(b.receive(forged, from: elsewhere, now: .zero).outcome.dropReason == .decryptionFailed)
        #expect(b.peer(a).endpoint == moved.endpoint)
    }

    @Test func settingTheEndpointAgainPullsBackARoamedPeer() throws {
        let (a, b) = makePair()
        try handshake(a, b, now: .zero)
        let moved = Side(key: a.key, endpoint: "203.0.113.50:40000", inner4: a.inner4, inner6: a.inner6)
        b.receive(try #require(a.seal(ipv4Packet(from: a.inner4, to: b.inner4, payload: [1]), to: b, now: .zero)), from: moved, now: .zero)
        #expect(b.peer(a).endpoint == moved.endpoint)
        let selectA = Substring("public_key=\(KeyEncoding.hex(a.publicKey.bytes))")
        // A set that does not name the endpoint leaves the roamed one alone.
        var request = UAPISet(config: b.device.config)
        try request.apply(line: selectA)
        try request.apply(line: "persistent_keepalive_interval=0")
        var changes = b.device.apply(request.config, now: .zero)
        #expect(changes.endpointSet.isEmpty)
        #expect(b.peer(a).endpoint == moved.endpoint)
        // `wg set IF peer A endpoint E`, E the configured value: applied all the same (netlink.c).
        request = UAPISet(config: b.device.config)
        try request.apply(line: selectA)
        try request.apply(line: Substring("endpoint=\(a.endpoint)"))
        #expect(request.config == b.device.config, "nothing new to persist")
        changes = b.device.apply(request.config, now: .zero)
        #expect(changes.endpointSet.count == 1 && changes.endpointSet.first === b.peer(a), "the data plane forgets its cached source")
        #expect(b.peer(a).endpoint == a.endpoint)
        // Applying that config again is no new assignment.
        #expect(b.device.apply(b.device.config, now: .zero).endpointSet.isEmpty)
    }

    @Test func initiatorRotatesSessionsAndOldOnesStillDecrypt() throws {
        let (a, b) = makePair()
        try handshake(a, b, now: .zero)
        // b confirms the first session, then a packet under it is delayed in the network.
        let confirm = try #require(a.seal(ipv4Packet(from: a.inner4, to: b.inner4, payload: [0]), to: b, now: .zero))
        #expect(b.receive(confirm, from: a, now: .zero).outcome.deliveredRange != nil)
        let early = try #require(a.seal(ipv4Packet(from: a.inner4, to: b.inner4, payload: [1]), to: b, now: .zero))
        let first = a.peer(b).keypairs.current
        // A new handshake (say a rekey) while a packet under the old session is in flight.
        try handshake(a, b, now: .seconds(10))
        #expect(a.peer(b).keypairs.previous === first)
        #expect(a.peer(b).keypairs.current !== first)
        let late = try #require(a.seal(ipv4Packet(from: a.inner4, to: b.inner4, payload: [2]), to: b, now: .seconds(10)))
        // b gets the new session's packet first (confirming it), then the old one: both arrive.
        #expect(b.receive(late, from: a, now: .seconds(10)).outcome.deliveredRange != nil)
        #expect(b.receive(early, from: a, now: .seconds(10)).outcome.deliveredRange != nil)
        #expect(b.peer(a).keypairs.previous != nil)
        // The index table holds only live sessions: at most three keypairs per side.
        #expect(a.device.indexTable.count <= 3 && b.device.indexTable.count <= 3)
    }

    @Test func unconfirmedResponderSessionIsReplacedByTheNextHandshake() throws {
        let (a, b) = makePair()
        try handshake(a, b, now: .zero)
        let stale = try #require(a.seal(ipv4Packet(from: a.inner4, to: b.inner4, payload: [1]), to: b, now: .zero))
        try handshake(a, b, now: .seconds(10))
        // b never saw data under its first `next`, so the second handshake replaced it (the kernel
        // does the same): a packet under that session no longer finds its keypair.
        #expect(b.receive(stale, from: a, now: .seconds(10)).outcome.dropReason == .unknownIndex)
    }

    @Test func keepaliveIsExactly32BytesAndDeliversNothing() throws {
        let (a, b) = makePair()
        try handshake(a, b, now: .zero)
        let keepalive = try #require(a.seal([], to: b, now: .zero))
        #expect(keepalive.count == DataLayout.minimumLength)
        guard case .keepalive(let peer, let receipt) = b.receive(keepalive, from: a, now: .zero).outcome else {
            Issue.record("not a keepalive"); return
        }
        #expect(peer === b.peer(a) && receipt.sessionConfirmed)
    }

    @Test func privateKeyChangeExpiresSessions() throws {
        let (a, b) = makePair()
        try handshake(a, b, now: .zero)
        #expect(a.seal([], to: b, now: .zero) != nil)
        a.config.setPrivateKey(.generate())
        a.device.apply(a.config, now: .zero)
        #expect(a.seal([], to: b, now: .zero) == nil)
        #expect(a.peer(b).keypairs.current == nil)
        #expect(a.device.indexTable.count == 0)
    }

    @Test func removingAPeerForgetsItEverywhere() throws {
        let (a, b) = makePair()
        try handshake(a, b, now: .zero)
        let packet = try #require(a.seal(ipv4Packet(from: a.inner4, to: b.inner4, payload: [1]), to: b, now: .zero))
        b.config.removePeer(a.publicKey)
        b.device.apply(b.config, now: .zero)
        #expect(b.device.peer(a.publicKey) == nil)
        #expect(b.device.indexTable.count == 0)
        #expect(b.receive(packet, from: a, now: .zero).outcome.dropReason == .unknownIndex)
        #expect(ipv4Packet(from: b.inner4, to: a.inner4, payload: []).withUnsafeBytes { b.device.route($0) } == nil)
    }
}
