import Testing
import Crypto
@testable import Protocol

/// A removed peer is dead (the kernel's peer->is_dead): a worker or the timer thread that still
/// holds a reference to it must get nothing done with it: no handshake, no session, no data, no
/// timers. Each test removes the peer at a point where such a reference is in flight.
@Suite struct PeerRemovalTests {
    func remove(_ other: Side, from side: Side) {
        side.config.removePeer(other.publicKey)
        side.device.apply(side.config, now: .zero)
    }

    @Test func applyNamesTheRemovedPeers() throws {
        let (a, b) = makePair()
        let c = Side(endpoint: "198.51.100.3:51820", inner4: "192.0.2.3", inner6: "fd00::3")
        a.addPeer(c)
        let (toB, toC) = (a.peer(b), a.peer(c))
        // `wg setconf` with a file that lists only c: replace_peers drops b.
        var request = UAPISet(config: a.device.config)
        try request.apply(line: "replace_peers=true")
        try request.apply(line: Substring("public_key=\(KeyEncoding.hex(c.publicKey.bytes))"))
        let changes = a.device.apply(request.config, now: .zero)
        #expect(changes.removed.count == 1 && changes.removed.first === toB)
        #expect(toB.isDead && !toC.isDead)
        #expect(a.device.orderedPeers.count == 1 && a.device.orderedPeers.first === toC)
    }

    @Test func anInitiatorsHandshakeInFlightInstallsNothing() throws {
        let (a, b) = makePair()
        let initiation = try #require(a.initiation(to: b, now: .seconds(1)))
        let response = b.receive(initiation, from: a, now: .seconds(1)).reply
        let held = a.peer(b)
        remove(b, from: a)
        #expect(held.isDead)
        // The response finds no handshake, nor does a worker that looked it up just before.
        #expect(a.receive(response, from: b, now: .seconds(1)).outcome.dropReason == .unknownIndex)
        #expect(throws: HandshakeError.peerRemoved) {
            try response.withUnsafeBytes {
                try held.consumeResponse($0, identity: a.device.currentIdentity, source: b.endpoint, indexTable: a.device.indexTable,
                                         now: .seconds(1), wallClock: wall(1), using: a.aead)
            }
        }
        // A handshake requested before the removal (timer thread, staged packet) is not made: it
        // would put the peer back into the index table and let a response install a session.
        var packet = [UInt8](repeating: 0, count: InitiationLayout.length)
        let made = packet.withUnsafeMutableBytes {
            a.device.createInitiation(for: held, into: $0, isRetry: true, now: .seconds(7), wallClock: wall(7), using: a.aead)
        }
        #expect(!made)
        #expect(a.device.indexTable.count == 0)
        #expect(held.keypairs.current == nil && held.keypairs.next == nil && held.keypairs.previous == nil)
        #expect(a.device.expireTimers(of: held, now: .seconds(100)) == [])
    }

    @Test func aResponderGivesNoReplyForAPeerRemovedMidway() throws {
        let (a, b) = makePair()
        let initiation = try #require(a.initiation(to: b, now: .seconds(1)))
        // The worker decrypted the static key and found the peer; then the peer is removed.
        let message = UnsafeMutableRawBufferPointer.allocate(byteCount: InitiationLayout.length, alignment: 8)
        defer { message.deallocate() }
        message.copyMemory(from: initiation.withUnsafeBytes { $0 })
        let pending = try Handshake.beginConsumingInitiation(UnsafeRawBufferPointer(message), identity: b.device.currentIdentity,
                                                             using: b.aead)
        let held = try #require(b.device.peer(pending.remoteStatic))
        remove(a, from: b)
        let reply = UnsafeMutableRawBufferPointer.allocate(byteCount: ResponseLayout.length, alignment: 8)
        defer { reply.deallocate() }
        reply.initializeMemory(as: UInt8.self, repeating: 0)
        var refusal: HandshakeError?
        do throws(HandshakeError) {
            try held.respond(to: pending, UnsafeRawBufferPointer(message), reply: reply, source: a.endpoint,
                             indexTable: b.device.indexTable, now: .seconds(1), using: b.aead)
        } catch {
            refusal = error
        }
        #expect(refusal == .peerRemoved)
        #expect(reply.allSatisfy { $0 == 0 }, "no response written")
        #expect(held.keypairs.next == nil)
        #expect(b.device.indexTable.count == 0)
        #expect(b.device.expireTimers(of: held, now: .seconds(600)) == [])
        // Arriving after the removal, the initiation names no peer at all.
        #expect(b.receive(initiation, from: a, now: .seconds(2)).outcome.dropReason == .handshake(.unknownPeer))
    }

    @Test func dataAuthenticatedBeforeRemovalIsDroppedAfter() throws {
        let (a, b) = makePair()
        try handshake(a, b, now: .zero)
        // b still holds the session in `next`: this packet would confirm it.
        var packet = try #require(a.seal(ipv4Packet(from: a.inner4, to: b.inner4, payload: [1]), to: b, now: .zero))
        let moved = Endpoint("203.0.113.50:40000")!
        let (keypair, held) = try #require(packet.withUnsafeBytes { b.device.keypair(for: $0, now: .zero) })
        let (counter, length) = try #require(packet.withUnsafeMutableBytes { keypair.open($0, using: b.aead) })
        remove(a, from: b)
        let outcome = packet.withUnsafeMutableBytes {
            b.device.finishData($0, plaintextLength: length, counter: counter, keypair: keypair, peer: held,
                                source: moved, now: .seconds(1), wallClock: wall(1))
        }
        #expect(outcome.dropReason == .peerRemoved)
        #expect(held.keypairs.current == nil && held.keypairs.next == nil, "no rotation")
        #expect(held.endpoint != moved, "no roaming")
        #expect(held.status.lastHandshake == .zero)
        #expect(b.device.indexTable.count == 0)
        // Nor does it arm the keepalive timer of a peer that is gone.
        #expect(b.device.expireTimers(of: held, now: .seconds(12)) == [])
    }

    @Test func dataSentAsThePeerIsRemovedArmsNothing() throws {
        let (a, b) = makePair()
        try handshake(a, b, now: .zero)
        let held = a.peer(b)
        // A worker reserved a nonce just before the removal, and reports the send just after.
        let (keypair, _) = try #require(held.reserveNonce(now: .seconds(1)))
        remove(b, from: a)
        #expect(held.reserveNonce(now: .seconds(1)) == nil)
        #expect(!keypair.isValid)
        #expect(!held.sentData(bytes: 64, isKeepalive: false, keypair: keypair, now: .seconds(1)))
        // Without that, the new-handshake timer would ask for a handshake with a removed peer.
        #expect(a.device.expireTimers(of: held, now: .seconds(17)) == [])
    }

    @Test func aRemovedPeersSecretsGoAtOnce() throws {
        let (a, b) = makePair(psk: .generate())
        a.config.updatePeer(b.publicKey) { $0.persistentKeepaliveInterval = 25 }
        a.device.apply(a.config, now: .zero)
        try handshake(a, b, now: .zero)
        let held = a.peer(b)
        let keypair = try #require(held.keypairs.current)
        remove(b, from: a)
        #expect(!keypair.isValid)
        #expect(held.keypairs.current == nil)
        #expect(held.state.withLock { $0.handshake.presharedKey } == nil)
        #expect(held.state.withLock { $0.handshake.state } == .zeroed)
        #expect(held.nextTimerDeadline == nil)
        #expect(a.device.expireTimers(of: held, now: .seconds(26)) == [])
    }
}
