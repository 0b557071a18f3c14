import Testing
import Crypto
@testable import Protocol

/// Every way a datagram is refused: each is a typed reason, never a crash, and changes nothing.
@Suite struct RejectionTests {
    /// The Curve25519 points of small order (and non-canonical encodings of them), whose DH
    /// result is zero whatever the private key: 0, 1, the two points of order 8, p−1, p, p+1.
    static let lowOrderPoints = [
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ]

    func data(_ a: Side, _ b: Side, _ payload: [UInt8] = [7], now: Instant = .zero) throws -> [UInt8] {
        try #require(a.seal(ipv4Packet(from: a.inner4, to: b.inner4, payload: payload), to: b, now: now))
    }

    // MARK: data

    @Test func replayedCounterIsDropped() throws {
        let (a, b) = makePair()
        try handshake(a, b, now: .zero)
        let packet = try data(a, b)
        #expect(b.receive(packet, from: a, now: .zero).outcome.deliveredRange != nil)
        #expect(b.receive(packet, from: a, now: .zero).outcome.dropReason == .replayed)
    }

    @Test func outOfOrderWithinTheWindowIsAcceptedOnce() throws {
        let (a, b) = makePair()
        try handshake(a, b, now: .zero)
        let packets = try (0..<20).map { try data(a, b, [UInt8($0)]) }
        for i in [0, 19, 5, 12, 1] {
            #expect(b.receive(packets[i], from: a, now: .zero).outcome.deliveredRange != nil, "packet \(i)")
        }
        for i in [5, 19, 0] {
            #expect(b.receive(packets[i], from: a, now: .zero).outcome.dropReason == .replayed, "packet \(i) again")
        }
    }

    @Test func counterOlderThanTheWindowIsDropped() throws {
        let (a, b) = makePair()
        try handshake(a, b, now: .zero)
        let old = try data(a, b)             // counter 0, held back
        var newest: [UInt8] = []
        for _ in 0..<(WireGuard.replayWindowBits + 10) { newest = try data(a, b) }
        #expect(b.receive(newest, from: a, now: .zero).outcome.deliveredRange != nil)
        #expect(b.receive(old, from: a, now: .zero).outcome.dropReason == .replayed)
    }

    @Test func tamperedDataFailsAuthenticationAndDoesNotBurnTheCounter() throws {
        let (a, b) = makePair()
        try handshake(a, b, now: .zero)
        let packet = try data(a, b)
        for offset in [8, 16, packet.count - 1] {  // counter, ciphertext, tag
            var forged = packet
            forged[offset] ^= 0x80
            let reason = b.receive(forged, from: a, now: .zero).outcome.dropReason
            #expect(reason == .decryptionFailed || reason == .replayed, "offset \(offset)")
        }
        // The genuine packet still arrives: forgeries did not mark its counter as seen.
        #expect(b.receive(packet, from: a, now: .zero).outcome.deliveredRange != nil)
    }

    @Test func innerPacketMustComeFromThePeersAllowedIPs() throws {
        let (a, b) = makePair()
        try handshake(a, b, now: .zero)
        let spoofed = try #require(a.seal(ipv4Packet(from: "203.0.113.7", to: b.inner4, payload: [1]), to: b, now: .zero))
        #expect(b.receive(spoofed, from: a, now: .zero).outcome.dropReason == .disallowedSource)
        let notIP = try #require(a.seal([0x00, 1, 2, 3, 4, 5], to: b, now: .zero))
        #expect(b.receive(notIP, from: a, now: .zero).outcome.dropReason == .notIP)
        var truncated = ipv4Packet(from: a.inner4, to: b.inner4, payload: [1, 2, 3])
        truncated[3] = 200  // claims 200 bytes, has 23
        let lying = try #require(a.seal(truncated, to: b, now: .zero))
        #expect(b.receive(lying, from: a, now: .zero).outcome.dropReason == .notIP)
        // None of that stopped the tunnel.
        #expect(b.receive(try data(a, b), from: a, now: .zero).outcome.deliveredRange != nil)
    }

    // MARK: shapes

    @Test func truncatedOverlongAndWrongTypeMessagesAreNotWireGuard() throws {
        let (a, b) = makePair()
        let initiation = try #require(a.initiation(to: b, now: .zero))
        var candidates: [[UInt8]] = [[], [1], [1, 0, 0]]
        for (type, length) in [(1, 148), (2, 92), (3, 64)] {
            var message = [UInt8](repeating: 0, count: length)
            message[0] = UInt8(type)
            candidates.append(Array(message.dropLast()))
            candidates.append(message + [0])
        }
        var shortData = [UInt8](repeating: 0, count: 31); shortData[0] = 4
        candidates.append(shortData)
        for type: UInt8 in [0, 5, 255] {
            var message = initiation; message[0] = type; candidates.append(message)
        }
        var reserved = initiation; reserved[1] = 1; candidates.append(reserved)
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<200 {
            let length = Int.random(in: 0..<200, using: &generator)
            var junk = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if !junk.isEmpty { junk[0] = UInt8.random(in: 5...255, using: &generator) }
            candidates.append(junk)
        }
        for candidate in candidates {
            #expect(b.receive(candidate, from: a, now: .zero).outcome.dropReason == .notWireGuard, "\(candidate.prefix(8))… \(candidate.count) bytes")
        }
        // Right shape, random content: rejected on MAC or index, never accepted.
        for (type, length) in [(1, 148), (2, 92), (3, 64), (4, 32), (4, 100)] {
            for _ in 0..<50 {
                var junk = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
                junk[0] = UInt8(type); junk[1] = 0; junk[2] = 0; junk[3] = 0
                let reason = b.receive(junk, from: a, now: .zero).outcome.dropReason
                #expect(reason == .invalidMAC || reason == .unknownIndex, "type \(type): \(String(describing: reason))")
            }
        }
        // And the real initiation still works afterwards.
        guard case .reply = b.receive(initiation, from: a, now: .zero).outcome else { Issue.record("initiation refused"); return }
    }

    // MARK: handshakes

    @Test func badMAC1IsDroppedSilently() throws {
        let (a, b) = makePair()
        var initiation = try #require(a.initiation(to: b, now: .zero))
        initiation[InitiationLayout.mac1] ^= 1
        let (outcome, _, reply) = b.receive(initiation, from: a, now: .zero)
        #expect(outcome.dropReason == .invalidMAC && reply.isEmpty)
        // A changed body breaks mac1 too: the MAC covers the whole message.
        var body = try #require(a.initiation(to: b, now: .seconds(6)))
        body[50] ^= 1
        #expect(b.receive(body, from: a, now: .zero).outcome.dropReason == .invalidMAC)
    }

    @Test func replayedInitiationTimestampIsRefused() throws {
        let (a, b) = makePair()
        let initiation = try #require(a.initiation(to: b, now: .zero))
        guard case .reply = b.receive(initiation, from: a, now: .zero).outcome else { Issue.record("refused"); return }
        // The same initiation later (long past the flood limit) is a replay.
        #expect(b.receive(initiation, from: a, now: .seconds(30)).outcome.dropReason == .handshake(.replayedTimestamp))
        // So is a new initiation carrying an older clock.
        let older = try #require(a.initiation(to: b, now: .seconds(60), wallClock: wall(-100)))
        #expect(b.receive(older, from: a, now: .seconds(60)).outcome.dropReason == .handshake(.replayedTimestamp))
    }

    @Test func initiationsCloserThan20msAreRefused() throws {
        let (a, b) = makePair()
        // a's own rate limit allows one initiation per REKEY_TIMEOUT on its clock; b's clock sees
        // the two arrive 10 ms apart (as an attacker replaying captures with new timestamps could).
        let first = try #require(a.initiation(to: b, now: .seconds(0), wallClock: wall(0)))
        let second = try #require(a.initiation(to: b, now: .seconds(6), wallClock: wall(6)))
        guard case .reply = b.receive(first, from: a, now: .seconds(100)).outcome else { Issue.record("refused"); return }
        #expect(b.receive(second, from: a, now: .seconds(100.010)).outcome.dropReason == .handshake(.initiationFlood))
        // Refusal changed nothing: 20 ms later the same initiation is accepted.
        guard case .reply = b.receive(second, from: a, now: .seconds(100.030)).outcome else { Issue.record("refused later"); return }
    }

    @Test func initiatorRateLimitsItsOwnInitiations() throws {
        let (a, b) = makePair()
        #expect(a.initiation(to: b, now: .seconds(0)) != nil)
        #expect(a.initiation(to: b, now: .seconds(4.9)) == nil)
        #expect(a.initiation(to: b, now: .seconds(5)) != nil)
    }

    @Test(arguments: lowOrderPoints)
    func lowOrderPeerKeyIsNeverHandshakedWith(_ point: String) throws {
        let a = Side(endpoint: "198.51.100.1:51820", inner4: "192.0.2.1", inner6: "fd00::1")
        let bogus = publicKey(hex(point))
        a.config.addPeer(bogus)
        a.device.apply(a.config, now: .zero)
        var packet = [UInt8](repeating: 0, count: 148)
        let made = packet.withUnsafeMutableBytes {
            a.device.createInitiation(for: a.device.peer(bogus)!, into: $0, isRetry: false, now: .zero, wallClock: wall0, using: a.aead)
        }
        #expect(!made, "nothing is sent to a peer whose key is of low order")
        #expect(a.device.indexTable.count == 0)
    }

    @Test(arguments: lowOrderPoints)
    func lowOrderEphemeralIsRefused(_ point: String) throws {
        let (a, b) = makePair()
        // An initiation whose ephemeral is a low-order point, with a valid mac1.
        var initiation = try #require(a.initiation(to: b, now: .zero))
        initiation.replaceSubrange(InitiationLayout.ephemeral..<InitiationLayout.ephemeral + 32, with: hex(point))
        var maker = CookieMaker(remoteStatic: b.publicKey)
        initiation.withUnsafeMutableBytes { maker.addMACs(to: $0, now: .zero) }
        #expect(b.receive(initiation, from: a, now: .zero).outcome.dropReason == .handshake(.lowOrderKey))

        // The same in a response.
        let fresh = try #require(a.initiation(to: b, now: .seconds(10)))
        var response = b.receive(fresh, from: a, now: .seconds(10)).reply
        try #require(response.count == 92)
        response.replaceSubrange(ResponseLayout.ephemeral..<ResponseLayout.ephemeral + 32, with: hex(point))
        var responderMaker = CookieMaker(remoteStatic: a.publicKey)
        response.withUnsafeMutableBytes { responderMaker.addMACs(to: $0, now: .zero) }
        #expect(a.receive(response, from: b, now: .seconds(10)).outcome.dropReason == .handshake(.lowOrderKey))
        #expect(a.peer(b).keypairs.current == nil)
    }

    @Test func unknownStaticKeyIsRefused() throws {
        let (a, b) = makePair()
        let stranger = Side(endpoint: "198.51.100.9:51820", inner4: "192.0.2.9", inner6: "fd00::9")
        stranger.addPeer(b)   // the stranger knows b, but b does not know the stranger
        let initiation = try #require(stranger.initiation(to: b, now: .zero))
        let (outcome, _, reply) = b.receive(initiation, from: stranger, now: .zero)
        #expect(outcome.dropReason == .handshake(.unknownPeer) && reply.isEmpty)
        _ = a
    }

    @Test func initiationForAnotherResponderKeyFailsToDecrypt() throws {
        let (a, b) = makePair()
        let impostor = Side(endpoint: "198.51.100.8:51820", inner4: "192.0.2.8", inner6: "fd00::8")
        impostor.addPeer(a)
        a.addPeer(impostor)
        // a's initiation to the impostor, re-MACed for b so that it gets past mac1.
        var initiation = try #require(a.initiation(to: impostor, now: .zero))
        var maker = CookieMaker(remoteStatic: b.publicKey)
        initiation.withUnsafeMutableBytes { maker.addMACs(to: $0, now: .zero) }
        #expect(b.receive(initiation, from: a, now: .zero).outcome.dropReason == .handshake(.decryptionFailed))
    }

    @Test func forgedOrStrayResponsesDoNotDisturbTheRealOne() throws {
        let (a, b) = makePair()
        let initiation = try #require(a.initiation(to: b, now: .zero))
        let response = b.receive(initiation, from: a, now: .zero).reply
        try #require(response.count == 92)
        // Same index, forged body (re-MACed so it passes mac1): refused; a still waits.
        var forged = response
        forged[ResponseLayout.encryptedNothing] ^= 1
        var maker = CookieMaker(remoteStatic: a.publicKey)
        forged.withUnsafeMutableBytes { maker.addMACs(to: $0, now: .zero) }
        #expect(a.receive(forged, from: b, now: .zero).outcome.dropReason == .handshake(.decryptionFailed))
        // A response to an index a never issued.
        var stray = response
        stray[ResponseLayout.receiver] ^= 0x55
        stray.withUnsafeMutableBytes { maker.addMACs(to: $0, now: .zero) }
        #expect(a.receive(stray, from: b, now: .zero).outcome.dropReason == .unknownIndex)
        // The genuine response still completes the handshake, exactly once.
        guard case .sessionReady = a.receive(response, from: b, now: .zero).outcome else { Issue.record("refused"); return }
        #expect(a.receive(response, from: b, now: .zero).outcome.dropReason != nil)
    }

    @Test func noPrivateKeyMeansNoHandshakes() throws {
        let (a, b) = makePair()
        let initiation = try #require(a.initiation(to: b, now: .zero))
        b.config.setPrivateKey(nil)
        b.device.apply(b.config, now: .zero)
        #expect(b.receive(initiation, from: a, now: .zero).outcome.dropReason != nil)
        #expect(b.initiation(to: a, now: .zero) == nil)
    }
}
