import Testing
import Crypto
@testable import Protocol

/// The timers driven through whole devices with a fake clock: rekeying, rejection of old keys,
/// retransmission and giving up, keepalives, and wiping key material.
@Suite struct DeviceTimerTests {
    func data(_ a: Side, _ b: Side, now: Instant) -> [UInt8]? {
        a.seal(ipv4Packet(from: a.inner4, to: b.inner4, payload: [1]), to: b, now: now)
    }

    @Test func initiatorRekeysAfterRekeyAfterTime() throws {
        let (a, b) = makePair()
        try handshake(a, b, now: .zero)
        let peer = a.peer(b)
        let (keypair, counter) = try #require(peer.reserveNonce(now: .seconds(119)))
        #expect(!peer.sentData(bytes: 48, isKeepalive: false, keypair: keypair, now: .seconds(119)))
        _ = counter
        let (later, _) = try #require(peer.reserveNonce(now: .seconds(120)))
        #expect(peer.sentData(bytes: 48, isKeepalive: false, keypair: later, now: .seconds(120)), "rekey due at 120 s")
        // The responder never rekeys on time alone (only the initiator does, to avoid both racing).
        let packet = try #require(data(a, b, now: .seconds(1)))
        b.receive(packet, from: a, now: .seconds(1))
        let reverse = b.peer(a)
        let (responderKeys, _) = try #require(reverse.reserveNonce(now: .seconds(130)))
        #expect(!reverse.sentData(bytes: 48, isKeepalive: false, keypair: responderKeys, now: .seconds(130)))
    }

    @Test func keypairsAreRefusedAfterRejectAfterTime() throws {
        let (a, b) = makePair()
        try handshake(a, b, now: .zero)
        let confirm = try #require(data(a, b, now: .zero))
        b.receive(confirm, from: a, now: .zero)
        let late = try #require(data(a, b, now: .seconds(179.9)))
        #expect(data(a, b, now: .seconds(180)) == nil, "no sending at REJECT_AFTER_TIME")
        #expect(b.seal([], to: a, now: .seconds(180)) == nil)
        #expect(b.receive(late, from: a, now: .seconds(180)).outcome.dropReason == .keypairExpired)
    }

    @Test func initiatorAsksForAHandshakeBeforeItsSessionExpiresOnReceive() throws {
        let (a, b) = makePair()
        try handshake(a, b, now: .zero)
        b.receive(try #require(data(a, b, now: .zero)), from: a, now: .zero)
        let early = try #require(b.seal(ipv4Packet(from: b.inner4, to: a.inner4, payload: [1]), to: a, now: .seconds(100)))
        guard case .data(_, _, let r1) = a.receive(early, from: b, now: .seconds(100)).outcome else { Issue.record("dropped"); return }
        #expect(!r1.wantsHandshake)
        let late = try #require(b.seal(ipv4Packet(from: b.inner4, to: a.inner4, payload: [2]), to: a, now: .seconds(165)))
        guard case .data(_, _, let r2) = a.receive(late, from: b, now: .seconds(165)).outcome else { Issue.record("dropped"); return }
        #expect(r2.wantsHandshake, "REJECT − KEEPALIVE − REKEY_TIMEOUT = 165 s")
        let again = try #require(b.seal(ipv4Packet(from: b.inner4, to: a.inner4, payload: [3]), to: a, now: .seconds(166)))
        guard case .data(_, _, let r3) = a.receive(again, from: b, now: .seconds(166)).outcome else { Issue.record("dropped"); return }
        #expect(!r3.wantsHandshake, "only once per session")
    }

    @Test func retransmitsEveryRekeyTimeoutThenGivesUp() throws {
        let (a, b) = makePair()
        let peer = a.peer(b)
        var now = Instant.zero
        #expect(a.initiation(to: b, now: now) != nil)
        var initiations = 1
        var gaveUp = false
        var gaps: [Duration] = []
        var lastSent = now
        // Step the fake clock in 10 ms ticks; b never answers.
        for _ in 0..<20_000 {
            now = now + .milliseconds(10)
            let actions = a.device.expireTimers(of: peer, now: now)
            if actions.contains(.retransmitInitiation) {
                #expect(a.initiation(to: b, now: now, isRetry: true) != nil)
                gaps.append(now - lastSent)
                lastSent = now
                initiations += 1
            }
            if actions.contains(.giveUpHandshake) { gaveUp = true; break }
        }
        #expect(gaveUp)
        // The kernel's count: give up once more than MAX_TIMER_HANDSHAKES (18) retries were made,
        // that is after 20 initiations in all.
        #expect(initiations == WireGuard.maxHandshakeAttempts + 2)
        for gap in gaps {
            #expect(gap >= .seconds(5) && gap < .seconds(5) + WireGuard.rekeyTimeoutJitterMax + .milliseconds(10), "\(gap)")
        }
        // After giving up, the half-finished handshake's key material is wiped 540 s later.
        var wiped = false
        for _ in 0..<600 {
            now = now + .seconds(1)
            if a.device.expireTimers(of: peer, now: now).contains(.wipeKeyMaterial) { wiped = true; break }
        }
        #expect(wiped)
        #expect(a.device.indexTable.count == 0)
    }

    @Test func receiverSendsAKeepaliveAfterKeepaliveTimeout() throws {
        let (a, b) = makePair()
        try handshake(a, b, now: .zero)
        b.receive(try #require(data(a, b, now: .seconds(1))), from: a, now: .seconds(1))
        let peer = b.peer(a)
        #expect(!b.device.expireTimers(of: peer, now: .seconds(10.9)).contains(.sendKeepalive))
        #expect(b.device.expireTimers(of: peer, now: .seconds(11)).contains(.sendKeepalive))
        // Had b answered with data in time, no keepalive would be due.
        b.receive(try #require(data(a, b, now: .seconds(20))), from: a, now: .seconds(20))
        _ = b.seal(ipv4Packet(from: b.inner4, to: a.inner4, payload: [1]), to: a, now: .seconds(21))
        #expect(!b.device.expireTimers(of: peer, now: .seconds(40)).contains(.sendKeepalive))
    }

    @Test func aDroppedButAuthenticatedPacketIsStillAcknowledged() throws {
        // As the kernel: the keepalive timer is armed by any non-empty authenticated packet,
        // before the inner packet is checked.
        let (a, b) = makePair()
        try handshake(a, b, now: .zero)
        let spoofed = try #require(a.seal(ipv4Packet(from: "203.0.113.77", to: b.inner4, payload: [1]), to: b, now: .seconds(1)))
        #expect(b.receive(spoofed, from: a, now: .seconds(1)).outcome.dropReason == .disallowedSource)
        #expect(b.device.expireTimers(of: b.peer(a), now: .seconds(11)).contains(.sendKeepalive))
        // A keepalive itself asks for no acknowledgement.
        let keepalive = try #require(a.seal([], to: b, now: .seconds(20)))
        b.receive(keepalive, from: a, now: .seconds(20))
        #expect(!b.device.expireTimers(of: b.peer(a), now: .seconds(31)).contains(.sendKeepalive))
    }

    @Test(arguments: [DropReason.notIP, .disallowedSource])
    func aRefusedButAuthenticatedPacketStillConfirmsTheSession(reason: DropReason) throws {
        // receive.c confirms the session (and sends what is staged) before it looks inside.
        let (a, b) = makePair()
        try handshake(a, b, now: .zero)
        let inner = reason == .notIP ? [0x00, 1, 2, 3, 4, 5] : ipv4Packet(from: "203.0.113.77", to: b.inner4, payload: [1])
        let sealed = try #require(a.seal(inner, to: b, now: .zero))
        let outcome = b.receive(sealed, from: a, now: .zero).outcome
        guard case .rejectedAfterAuthentication(let peer, let why, let receipt) = outcome else { Issue.record("\(outcome)"); return }
        #expect(peer === b.peer(a) && why == reason)
        #expect(receipt.sessionConfirmed, "the data plane sends the staged packets on this")
        #expect(b.peer(a).keypairs.current != nil)
    }

    @Test func aRefusedButAuthenticatedPacketStillKeepsTheKeysFresh() throws {
        let (a, b) = makePair()
        try handshake(a, b, now: .zero)
        b.receive(try #require(data(a, b, now: .zero)), from: a, now: .zero)
        let spoofed = try #require(b.seal(ipv4Packet(from: "203.0.113.77", to: a.inner4, payload: [1]), to: a, now: .seconds(165)))
        let outcome = a.receive(spoofed, from: b, now: .seconds(165)).outcome
        guard case .rejectedAfterAuthentication(_, .disallowedSource, let receipt) = outcome else { Issue.record("\(outcome)"); return }
        #expect(receipt.wantsHandshake, "keep_key_fresh runs before the allowed-IPs check")
    }

    @Test func senderStartsAHandshakeWhenThePeerGoesQuiet() throws {
        let (a, b) = makePair()
        try handshake(a, b, now: .zero)
        _ = try #require(data(a, b, now: .seconds(1)))
        let peer = a.peer(b)
        #expect(!a.device.expireTimers(of: peer, now: .seconds(15.9)).contains(.newHandshake))
        #expect(a.device.expireTimers(of: peer, now: .seconds(16.4)).contains(.newHandshake))
    }

    @Test func persistentKeepaliveFiresAtItsInterval() throws {
        let a = Side(endpoint: "198.51.100.1:51820", inner4: "192.0.2.1", inner6: "fd00::1")
        let b = Side(endpoint: "198.51.100.2:51820", inner4: "192.0.2.2", inner6: "fd00::2")
        b.addPeer(a)
        a.config.addPeer(b.publicKey)
        a.config.updatePeer(b.publicKey) { $0.endpoint = b.endpoint; $0.persistentKeepaliveInterval = 25 }
        let keepaliveNow = a.device.apply(a.config, now: .zero).keepaliveNow
        #expect(keepaliveNow.count == 1 && keepaliveNow.first === a.device.peer(b.publicKey))
        try handshake(a, b, now: .seconds(1))
        let peer = a.peer(b)
        #expect(!a.device.expireTimers(of: peer, now: .seconds(25.9)).contains(.sendKeepalive))
        #expect(a.device.expireTimers(of: peer, now: .seconds(26)).contains(.sendKeepalive))
        // Applying the same config again does not ask for another immediate keepalive.
        #expect(a.device.apply(a.config, now: .seconds(27)).keepaliveNow.isEmpty)
    }

    @Test func keyMaterialIsWipedAfterThreeRejectAfterTimes() throws {
        let (a, b) = makePair()
        try handshake(a, b, now: .zero)
        let peer = a.peer(b)
        #expect(!a.device.expireTimers(of: peer, now: .seconds(539)).contains(.wipeKeyMaterial))
        #expect(peer.keypairs.current != nil)
        #expect(a.device.expireTimers(of: peer, now: .seconds(540)).contains(.wipeKeyMaterial))
        #expect(peer.keypairs.current == nil && peer.keypairs.previous == nil && peer.keypairs.next == nil)
        #expect(a.device.indexTable.count == 0)
        #expect(data(a, b, now: .seconds(540)) == nil)
    }
}
