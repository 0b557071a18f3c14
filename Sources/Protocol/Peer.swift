public import Crypto
import Synchronization

/// One peer at run time: its handshake, keypair slots, timers, cookie state and endpoint.
///
/// All of it sits behind one lock, taken briefly per event; the per-packet work (encryption,
/// decryption) runs outside it on the `Keypair`, so several workers can serve one busy peer.
public final class Peer<Runtime: AnyObject & Sendable>: Sendable {
    public let publicKey: PublicKey
    /// What the data plane keeps with this peer (queues, the sticky source): typed by the
    /// device that made the peer, set once at creation, so reaching it per packet needs no
    /// lookup, no lock and no cast.
    public let runtime: Runtime
    let state: Mutex<PeerState>
    private let receivedBytes = Atomic<UInt64>(0)
    private let sentBytes = Atomic<UInt64>(0)

    init(publicKey: PublicKey, presharedKey: PresharedKey?, identity: StaticIdentity?, runtime: Runtime) {
        self.publicKey = publicKey
        self.runtime = runtime
        state = Mutex(PeerState(handshake: Handshake(remoteStatic: publicKey, presharedKey: presharedKey, identity: identity),
                                cookie: CookieMaker(remoteStatic: publicKey)))
    }


    public var status: PeerStatus {
        state.withLock { s in
            PeerStatus(endpoint: s.endpoint, lastHandshake: s.lastHandshake, receivedBytes: receivedBytes.load(ordering: .relaxed),
                   sentBytes: sentBytes.load(ordering: .relaxed), persistentKeepaliveInterval: s.timers.persistentKeepaliveInterval)
        }
    }

    public var endpoint: Endpoint? {
        get { state.withLock { $0.endpoint } }
        set { state.withLock { $0.endpoint = newValue } }
    }

    /// Where to send now: the endpoint, or nil once the peer is dead (one lock, not two).
    public var sendingEndpoint: Endpoint? { state.withLock { $0.isDead ? nil : $0.endpoint } }

    /// The keypair slots, for inspection (tests, diagnostics).
    public var keypairs: KeypairSlots { state.withLock { $0.keypairs } }

    public var nextTimerDeadline: Instant? { state.withLock { $0.timers.nextDeadline } }

    /// Removed from the device (the kernel's is_dead): a worker still holding the peer gets
    /// nothing more out of it. Every event below checks it under the lock.
    public var isDead: Bool { state.withLock { $0.isDead } }

    // MARK: sending

    /// The keypair and nonce for one outgoing data message, or nil when there is no usable
    /// session: the caller stages the packet and asks for a handshake.
    public func reserveNonce(now: Instant) -> (keypair: Keypair, counter: UInt64)? {
        guard let keypair = state.withLock({ $0.isDead ? nil : $0.keypairs.current }),
              let counter = keypair.reserveNonce(now: now) else { return nil }
        return (keypair, counter)
    }

    /// A message of `bytes` went out under `keypair`. Returns true when the keys should be
    /// refreshed (the kernel's keep_key_fresh on send): the caller starts a handshake.
    public func sentData(bytes: Int, isKeepalive: Bool, keypair: Keypair, now: Instant) -> Bool {
        sentBytes.wrappingAdd(UInt64(bytes), ordering: .relaxed)
        return state.withLock { s in
            // Sent as the peer was removed: no timer may be armed for it.
            guard !s.isDead else { return false }
            s.timers.anyAuthenticatedPacketTraversal(now: now)
            s.timers.anyAuthenticatedPacketSent()
            if !isKeepalive { s.timers.dataSent(now: now, jitter: PeerTimers.jitter(using: &s.jitter)) }
            guard keypair.isValid, s.keypairs.current === keypair else { return false }
            return keypair.sentMessages > WireGuard.rekeyAfterMessages
                || (keypair.isInitiator && keypair.birthdate.hasExpired(WireGuard.rekeyAfterTime, now: now))
        }
    }

    /// Writes an initiation (148 bytes, MACs included) into `packet` if one may go out now: not
    /// within REKEY_TIMEOUT of our last initiation or response, and only with a private key.
    /// Returns whether it did.
    func createInitiation(into packet: UnsafeMutableRawBufferPointer, identity: StaticIdentity?, indexTable: IndexTable<Peer>,
                          isRetry: Bool, now: Instant, wallClock: WallTime, using aead: borrowing ChaCha20Poly1305) -> Bool {
        return state.withLock { s in
            // A removed peer must not come back into the index table through a new handshake.
            guard !s.isDead else { return false }
            s.timers.handshakeRequested(isRetry: isRetry)
            if let last = s.lastSentHandshake, !last.hasExpired(WireGuard.rekeyTimeout, now: now) { return false }
            indexTable.removeHandshake(at: s.handshake.localIndex, of: self)
            let index = indexTable.insertHandshake(of: self)
            do {
                try s.handshake.createInitiation(into: packet, identity: identity,
                                                 timestamp: TAI64N(unixSeconds: wallClock.seconds, nanoseconds: wallClock.nanoseconds),
                                                 localIndex: index, ephemeral: .random(), using: aead)
            } catch {
                indexTable.removeHandshake(at: index, of: self)
                return false
            }
            s.cookie.addMACs(to: packet, now: now)
            s.lastSentHandshake = now
            s.timers.anyAuthenticatedPacketTraversal(now: now)
            s.timers.anyAuthenticatedPacketSent()
            s.timers.handshakeInitiated(now: now, jitter: PeerTimers.jitter(using: &s.jitter))
            return true
        }
    }

    /// A handshake message we sent (response or initiation) counts toward the sent bytes.
    func sentHandshake(bytes: Int) { sentBytes.wrappingAdd(UInt64(bytes), ordering: .relaxed) }

    // MARK: receiving

    /// As responder: finishes consuming an initiation from this peer and writes our response
    /// (92 bytes, MACs included) into `reply`. The new session waits in `next` for confirmation.
    func respond(to pending: consuming PendingInitiation, _ packet: UnsafeRawBufferPointer, reply: UnsafeMutableRawBufferPointer,
                 source: Endpoint, indexTable: IndexTable<Peer>, now: Instant, using aead: borrowing ChaCha20Poly1305) throws(HandshakeError) {
        var pendingSlot: PendingInitiation? = consume pending
        try state.withLock { (s: inout PeerState) throws(HandshakeError) in
            // Looked up just before it was removed: no reply, no session.
            guard !s.isDead else { throw .peerRemoved }
            try s.handshake.consumeInitiation(pendingSlot.take()!, packet, now: now, using: aead)
            s.endpoint = source
            receivedBytes.wrappingAdd(UInt64(packet.count), ordering: .relaxed)
            s.timers.anyAuthenticatedPacketReceived()
            s.timers.anyAuthenticatedPacketTraversal(now: now)

            indexTable.removeHandshake(at: s.handshake.localIndex, of: self)
            let index = indexTable.insertHandshake(of: self)
            do throws(HandshakeError) {
                try s.handshake.createResponse(into: reply, localIndex: index, ephemeral: .random(), using: aead)
            } catch {
                indexTable.removeHandshake(at: index, of: self)
                throw error
            }
            s.cookie.addMACs(to: reply, now: now)
            // A response is a handshake sent (send.c sets last_sent_handshake for it too): a responder
            // with data of its own waits for the initiator's confirmation instead of crossing it with
            // a second handshake that would replace the session just made.
            s.lastSentHandshake = now
            sentBytes.wrappingAdd(UInt64(reply.count), ordering: .relaxed)
            s.timers.anyAuthenticatedPacketTraversal(now: now)
            s.timers.anyAuthenticatedPacketSent()
            guard let keypair = s.handshake.beginSession(now: now) else { throw .unexpectedState }
            install(keypair, in: &s, indexTable: indexTable, now: now)
        }
    }

    /// As initiator: consumes the response to our initiation and makes the new session current.
    func consumeResponse(_ packet: UnsafeRawBufferPointer, identity: StaticIdentity?, source: Endpoint,
                         indexTable: IndexTable<Peer>, now: Instant, wallClock: WallTime,
                         using aead: borrowing ChaCha20Poly1305) throws(HandshakeError) {
        try state.withLock { (s: inout PeerState) throws(HandshakeError) in
            guard !s.isDead else { throw .peerRemoved }
            try s.handshake.consumeResponse(packet, identity: identity, using: aead)
            s.endpoint = source
            receivedBytes.wrappingAdd(UInt64(packet.count), ordering: .relaxed)
            guard let keypair = s.handshake.beginSession(now: now) else { throw .unexpectedState }
            install(keypair, in: &s, indexTable: indexTable, now: now)
            s.timers.handshakeComplete()
            s.lastHandshake = wallClock
            s.timers.anyAuthenticatedPacketReceived()
            s.timers.anyAuthenticatedPacketTraversal(now: now)
        }
    }

    /// Only for a live peer (the callers checked, under the same lock): noise.c's begin_session
    /// refuses to add a keypair to a dead peer.
    private func install(_ keypair: Keypair, in s: inout PeerState, indexTable: IndexTable<Peer>, now: Instant) {
        indexTable.replaceHandshake(at: keypair.localIndex, with: keypair, of: self)
        for old in s.keypairs.add(keypair) {
            old.invalidate()
            indexTable.remove(old)
        }
        s.sentLastMinuteHandshake = false
        s.timers.sessionDerived(now: now)
    }

    /// A cookie reply to our last handshake message arrived.
    func consumeCookieReply(_ packet: UnsafeRawBufferPointer, now: Instant, using aead: borrowing ChaCha20Poly1305) throws(CookieError) {
        try state.withLock { (s: inout PeerState) throws(CookieError) in
            guard !s.isDead else { throw .unexpected }
            try s.cookie.consumeReply(packet, now: now, using: aead)
        }
    }


    /// Bookkeeping for a data message of `bytes` that authenticated and passed the replay check:
    /// roaming, key rotation, timers. `carriedData` is false for keepalives (they prove the peer
    /// alive but need no acknowledgement). Nil when the peer was removed meanwhile: drop it.
    func receivedData(bytes: Int, keypair: Keypair, carriedData: Bool, source: Endpoint,
                      indexTable: IndexTable<Peer>, now: Instant, wallClock: WallTime) -> DataReceipt? {
        state.withLock { s in
            guard !s.isDead else { return nil }
            receivedBytes.wrappingAdd(UInt64(bytes), ordering: .relaxed)
            var receipt = DataReceipt()
            s.endpoint = source
            let (rotated, dropped) = s.keypairs.receivedWith(keypair)
            if rotated {
                if let dropped { dropped.invalidate(); indexTable.remove(dropped) }
                s.timers.handshakeComplete()
                s.lastHandshake = wallClock
                receipt.sessionConfirmed = true
            }
            // Receive-side keep_key_fresh: an initiator whose session nears REJECT_AFTER_TIME
            // starts one handshake before it has to stop sending.
            if s.keypairs.current === keypair, keypair.isInitiator, !s.sentLastMinuteHandshake,
               keypair.birthdate.hasExpired(WireGuard.rekeyOnReceiveAge, now: now) {
                s.sentLastMinuteHandshake = true
                receipt.wantsHandshake = true
            }
            s.timers.anyAuthenticatedPacketReceived()
            s.timers.anyAuthenticatedPacketTraversal(now: now)
            if carriedData { s.timers.dataReceived(now: now) }
            return receipt
        }
    }

    // MARK: timers and configuration

    /// Runs the timers due at `now`. Wiping key material is done here; the other actions are the
    /// caller's (send an initiation, a keepalive; drop staged packets on give-up).
    public func expireTimers(now: Instant, indexTable: IndexTable<Peer>) -> PeerTimers.Actions {
        state.withLock { s in
            guard !s.isDead else { return [] }
            let actions = s.timers.expire(now: now)
            if actions.contains(.wipeKeyMaterial) { wipeKeys(&s, indexTable: indexTable) }
            return actions
        }
    }

    private func wipeKeys(_ s: inout PeerState, indexTable: IndexTable<Peer>) {
        for keypair in s.keypairs.removeAll() { indexTable.remove(keypair) }
        indexTable.removeHandshake(at: s.handshake.localIndex, of: self)
        s.handshake.clear()
    }

    /// Our private key changed: old sessions and handshakes are void (the kernel expires them all).
    func identityChanged(_ identity: StaticIdentity?, indexTable: IndexTable<Peer>) {
        state.withLock { s in
            wipeKeys(&s, indexTable: indexTable)
            s.handshake.precompute(identity: identity)
            s.lastSentHandshake = nil
        }
    }

    func setPresharedKey(_ key: PresharedKey?) { state.withLock { $0.handshake.presharedKey = key } }

    /// Returns true when keepalives were just turned on: wg expects one sent at once.
    func setPersistentKeepalive(_ seconds: UInt16, now: Instant) -> Bool {
        state.withLock { s in
            let turnedOn = s.timers.persistentKeepaliveInterval == 0 && seconds > 0
            s.timers.persistentKeepaliveInterval = seconds
            s.timers.persistentKeepaliveChanged(now: now)
            return turnedOn
        }
    }

    /// The peer is being removed (the kernel's peer_make_dead, then peer_remove_after_dead): from
    /// here on every event on it is refused, so a worker still holding it does nothing, and its
    /// secrets go now rather than when the last reference does.
    func remove(indexTable: IndexTable<Peer>) {
        state.withLock { s in
            s.isDead = true
            wipeKeys(&s, indexTable: indexTable)
            s.handshake.precompute(identity: nil)
            s.handshake.presharedKey = nil
            s.timers.stopAll()
        }
        indexTable.removeAll(of: self)
    }
}

struct PeerState: ~Copyable, Sendable {
    var handshake: Handshake
    var keypairs = KeypairSlots()
    var timers = PeerTimers()
    var cookie: CookieMaker
    var endpoint: Endpoint?
    /// The last initiation or response sent: initiations are rate limited to one per
    /// REKEY_TIMEOUT after either.
    var lastSentHandshake: Instant?
    var lastHandshake = WallTime.zero
    var sentLastMinuteHandshake = false
    var isDead = false
    /// Timer jitter without a system call per packet.
    var jitter = FastRandom()
}

/// What `wg show` reports about a peer.
public struct PeerStatus: Sendable, Equatable {
    public var endpoint: Endpoint?
    public var lastHandshake: WallTime
    public var receivedBytes: UInt64
    public var sentBytes: UInt64
    public var persistentKeepaliveInterval: UInt16

    public init(endpoint: Endpoint?, lastHandshake: WallTime, receivedBytes: UInt64, sentBytes: UInt64,
                persistentKeepaliveInterval: UInt16) {
        self.endpoint = endpoint
        self.lastHandshake = lastHandshake
        self.receivedBytes = receivedBytes
        self.sentBytes = sentBytes
        self.persistentKeepaliveInterval = persistentKeepaliveInterval
    }
}

/// What a data message that authenticated under `keypair` means for this peer.
public struct DataReceipt: Sendable {
    /// The message completed a handshake (responder's key confirmation): send what is staged.
    public var sessionConfirmed = false
    /// The session is about to expire and we initiated it: start a new handshake now.
    public var wantsHandshake = false
}
