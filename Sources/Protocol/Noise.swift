public import Crypto

/// Noise_IKpsk2 for one peer (whitepaper §5.4): the four message functions and the session they
/// derive. Pure: the caller supplies time, indices and ephemeral keys, and serializes access.
///
/// Handshake messages are written and read in caller buffers of their exact length; MACs are the
/// cookie layer's business (Cookie.swift) and are added or checked around these functions.
public enum HandshakeError: Error, Equatable, Sendable {
    case noPrivateKey
    case lowOrderKey          // a DH result of zero: the peer's (or an ephemeral) point is of low order
    case decryptionFailed     // an AEAD field did not authenticate: wrong keys or a forged message
    case unknownPeer          // the static key decrypted but belongs to no configured peer
    case replayedTimestamp    // initiation timestamp not newer than the last one consumed
    case initiationFlood      // initiations from this peer closer together than 20 ms
    case unexpectedState      // e.g. a response when no initiation is outstanding
    case wrongReceiver        // a response for an index other than our outstanding initiation's
    case peerRemoved          // the peer was removed while its message was being handled
}

/// Our static identity: the device's private key and what is derived from it once, including
/// libcrypto's key object, so that each DH with it costs one scalar multiplication, not two.
public final class StaticIdentity: Sendable {
    public let privateKey: PrivateKey
    let key: X25519Key
    public var publicKey: PublicKey { privateKey.publicKey }

    public init(privateKey: PrivateKey) {
        self.privateKey = privateKey
        guard let key = X25519Key(privateKey.secret) else { preconditionFailure("libcrypto cannot make an X25519 key") }
        self.key = key
    }
}

/// A consumed initiation before its peer is known: the static key decrypted, so the caller can
/// look the peer up and finish with `Handshake.consumeInitiation(_:…)`.
public struct PendingInitiation: ~Copyable, Sendable {
    public let remoteStatic: PublicKey
    let remoteEphemeral: PublicKey
    /// The same as libcrypto's object: the response's DH uses it again.
    let remoteEphemeralKey: X25519PublicKey
    let senderIndex: UInt32
    var state: SymmetricState
}

public struct Handshake: ~Copyable, Sendable {
    public enum State: Sendable, Equatable {
        case zeroed, createdInitiation, consumedInitiation, createdResponse, consumedResponse
    }

    public private(set) var state: State = .zeroed
    public let remoteStatic: PublicKey
    public var presharedKey: PresharedKey?
    /// DH(our static, their static), computed when either key changes; zero if of low order.
    private var precomputedStaticStatic = SecretKey()
    private var symmetric: SymmetricState?
    /// Our ephemeral of the handshake in progress, as libcrypto's key object: made once, it gives
    /// the public key and every DH with the ephemeral.
    private var localEphemeral: X25519Key?
    private var remoteEphemeral = PublicKey(.zero)
    /// The initiator's ephemeral as libcrypto's object, from consuming its initiation until our
    /// response's DH with it.
    private var remoteEphemeralKey: X25519PublicKey?
    public private(set) var localIndex: UInt32 = 0
    public private(set) var remoteIndex: UInt32 = 0
    /// The newest initiation timestamp consumed from this peer; older ones are replays.
    public private(set) var latestTimestamp = TAI64N.zero
    private var lastInitiationConsumption: Instant?

    public init(remoteStatic: PublicKey, presharedKey: PresharedKey?, identity: StaticIdentity?) {
        self.remoteStatic = remoteStatic
        self.presharedKey = presharedKey
        precompute(identity: identity)
    }

    /// Recomputes the static-static DH after our private key changed (or was removed).
    public mutating func precompute(identity: StaticIdentity?) {
        precomputedStaticStatic.clear()
        if let identity, let shared = identity.key.sharedSecret(with: remoteStatic) {
            precomputedStaticStatic = shared
        }
    }

    /// Forgets any handshake in progress; keeps the peer's keys and the replay/flood memory.
    public mutating func clear() {
        state = .zeroed
        symmetric = nil
        localEphemeral = nil
        remoteEphemeral = PublicKey(.zero)
        remoteEphemeralKey = nil
        localIndex = 0
        remoteIndex = 0
    }

    // MARK: initiator

    /// Writes the first message into `packet` (148 bytes), MACs left zero. `ephemeral` is a fresh
    /// random key (clamped here); `localIndex` a fresh index from the index table.
    public mutating func createInitiation(into packet: UnsafeMutableRawBufferPointer, identity: StaticIdentity?,
                                          timestamp: TAI64N, localIndex: UInt32, ephemeral: consuming SecretKey,
                                          using aead: borrowing ChaCha20Poly1305) throws(HandshakeError) {
        precondition(packet.count == InitiationLayout.length)
        guard let identity else { throw .noPrivateKey }
        guard !precomputedStaticStatic.isZero else { throw .lowOrderKey }
        packet.initializeMemory(as: UInt8.self, repeating: 0)
        Messages.writeType(.initiation, to: packet)
        Messages.store32(localIndex, packet, InitiationLayout.sender)

        var s = SymmetricState(responderStatic: remoteStatic)
        X25519.clamp(&ephemeral)
        guard let e = X25519Key(ephemeral) else { throw .lowOrderKey }
        let ephemeralPublic = e.publicKey
        write(ephemeralPublic, packet, InitiationLayout.ephemeral)
        s.mixKey(ephemeralPublic.bytes)
        s.mixHash(ephemeralPublic.bytes)
        guard s.mixDH(e, remoteStatic, alsoKey: true) else { throw .lowOrderKey }
        write(identity.publicKey, packet, InitiationLayout.encryptedStatic)
        s.encryptAndHash(field(packet, InitiationLayout.encryptedStatic, 32 + 16), using: aead)
        guard s.mixPrecomputedDH(precomputedStaticStatic) else { throw .lowOrderKey }
        timestamp.write(to: field(packet, InitiationLayout.encryptedTimestamp, 12 + 16))
        s.encryptAndHash(field(packet, InitiationLayout.encryptedTimestamp, 12 + 16), using: aead)

        symmetric = consume s
        localEphemeral = e
        self.localIndex = localIndex
        state = .createdInitiation
    }

    /// Consumes the responder's reply to our outstanding initiation (receiver index already
    /// matched by the index table; checked again here).
    public mutating func consumeResponse(_ packet: UnsafeRawBufferPointer, identity: StaticIdentity?,
                                         using aead: borrowing ChaCha20Poly1305) throws(HandshakeError) {
        precondition(packet.count == ResponseLayout.length)
        guard let identity else { throw .noPrivateKey }
        // Work on a copy: a forged response must not cancel the real initiation outstanding.
        guard state == .createdInitiation, var t = symmetric?.copy() else { throw .unexpectedState }
        guard Messages.load32(packet, ResponseLayout.receiver) == localIndex else { throw .wrongReceiver }
        let ephemeral = read(packet, ResponseLayout.ephemeral)

        t.mixKey(ephemeral.bytes)
        t.mixHash(ephemeral.bytes)
        guard let localEphemeral, t.mixDH(localEphemeral, ephemeral, alsoKey: false),
              t.mixDH(identity.key, ephemeral, alsoKey: false) else { throw .lowOrderKey }
        t.mixPresharedKey(presharedKey)
        var nothing = Bytes32()
        let ok = nothing.withUnsafeMutableBytes {
            t.decryptAndHash(subfield(packet, ResponseLayout.encryptedNothing, 16),
                             into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<0]), using: aead)
        }
        guard ok else { throw .decryptionFailed }

        remoteEphemeral = ephemeral
        remoteIndex = Messages.load32(packet, ResponseLayout.sender)
        symmetric = consume t
        state = .consumedResponse
    }

    // MARK: responder

    /// First half of consuming an initiation, before the peer is known: decrypts the static key.
    public static func beginConsumingInitiation(_ packet: UnsafeRawBufferPointer, identity: StaticIdentity?,
                                                using aead: borrowing ChaCha20Poly1305) throws(HandshakeError) -> PendingInitiation {
        precondition(packet.count == InitiationLayout.length)
        guard let identity else { throw .noPrivateKey }
        var s = SymmetricState(responderStatic: identity.publicKey)
        let ephemeral = read(packet, InitiationLayout.ephemeral)
        s.mixKey(ephemeral.bytes)
        s.mixHash(ephemeral.bytes)
        guard let ephemeralKey = X25519PublicKey(ephemeral), s.mixDH(identity.key, ephemeralKey, alsoKey: true) else {
            throw .lowOrderKey
        }
        var remoteStatic = Bytes32()
        let ok = remoteStatic.withUnsafeMutableBytes {
            s.decryptAndHash(subfield(packet, InitiationLayout.encryptedStatic, 32 + 16), into: $0, using: aead)
        }
        guard ok else { throw .decryptionFailed }
        return PendingInitiation(remoteStatic: PublicKey(remoteStatic), remoteEphemeral: ephemeral,
                                 remoteEphemeralKey: ephemeralKey,
                                 senderIndex: Messages.load32(packet, InitiationLayout.sender), state: s)
    }

    /// Second half, on the peer whose static key it carried: decrypts and checks the timestamp.
    /// Nothing changes unless the initiation is fresh.
    public mutating func consumeInitiation(_ pending: consuming PendingInitiation, _ packet: UnsafeRawBufferPointer,
                                           now: Instant, using aead: borrowing ChaCha20Poly1305) throws(HandshakeError) {
        precondition(pending.remoteStatic == remoteStatic)
        let pendingEphemeral = pending.remoteEphemeral, pendingEphemeralKey = pending.remoteEphemeralKey
        let pendingSender = pending.senderIndex
        var s = pending.state
        guard s.mixPrecomputedDH(precomputedStaticStatic) else { throw .lowOrderKey }
        var raw = Bytes32()
        let ok = raw.withUnsafeMutableBytes {
            s.decryptAndHash(subfield(packet, InitiationLayout.encryptedTimestamp, 12 + 16),
                             into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<12]), using: aead)
        }
        guard ok else { throw .decryptionFailed }
        let timestamp = raw.withUnsafeBytes { TAI64N(bytes: $0) }
        guard timestamp > latestTimestamp else { throw .replayedTimestamp }
        if let last = lastInitiationConsumption, now - last < WireGuard.initiationsMinInterval { throw .initiationFlood }

        latestTimestamp = timestamp
        lastInitiationConsumption = now
        remoteEphemeral = pendingEphemeral
        remoteEphemeralKey = pendingEphemeralKey
        remoteIndex = pendingSender
        symmetric = consume s
        state = .consumedInitiation
    }

    /// Writes our reply (92 bytes, MACs zero) to the initiation just consumed.
    public mutating func createResponse(into packet: UnsafeMutableRawBufferPointer, localIndex: UInt32,
                                        ephemeral: consuming SecretKey, using aead: borrowing ChaCha20Poly1305) throws(HandshakeError) {
        precondition(packet.count == ResponseLayout.length)
        guard state == .consumedInitiation, var s = symmetric.take() else { throw .unexpectedState }
        packet.initializeMemory(as: UInt8.self, repeating: 0)
        Messages.writeType(.response, to: packet)
        Messages.store32(localIndex, packet, ResponseLayout.sender)
        Messages.store32(remoteIndex, packet, ResponseLayout.receiver)

        X25519.clamp(&ephemeral)
        guard let e = X25519Key(ephemeral) else { clear(); throw .lowOrderKey }
        let ephemeralPublic = e.publicKey
        write(ephemeralPublic, packet, ResponseLayout.ephemeral)
        s.mixKey(ephemeralPublic.bytes)
        s.mixHash(ephemeralPublic.bytes)
        guard let remoteEphemeralKey, s.mixDH(e, remoteEphemeralKey, alsoKey: false),
              s.mixDH(e, remoteStatic, alsoKey: false) else { clear(); throw .lowOrderKey }
        self.remoteEphemeralKey = nil
        s.mixPresharedKey(presharedKey)
        s.encryptAndHash(field(packet, ResponseLayout.encryptedNothing, 16), using: aead)

        symmetric = consume s
        localEphemeral = e
        self.localIndex = localIndex
        state = .createdResponse
    }

    // MARK: session

    /// Derives the transport keys once the handshake is complete on this side (initiator after
    /// consuming the response, responder after creating it) and clears the handshake.
    public mutating func beginSession(now: Instant) -> Keypair? {
        let isInitiator: Bool
        switch state {
        case .consumedResponse: isInitiator = true
        case .createdResponse: isInitiator = false
        default: return nil
        }
        guard let s = symmetric.take() else { return nil }
        var first = SecretKey(), second = SecretKey()
        first.withUnsafeMutableBytes { t1 in
            second.withUnsafeMutableBytes { t2 in
                s.chainingKey.withUnsafeBytes { ck in
                    KDF.derive(key: ck, input: UnsafeRawBufferPointer(start: nil, count: 0), t1.baseAddress!, t2.baseAddress!)
                }
            }
        }
        // T_send = τ1 for the initiator, τ2 for the responder.
        let keypair = isInitiator
            ? Keypair(sending: first, receiving: second, localIndex: localIndex, remoteIndex: remoteIndex, isInitiator: true, birthdate: now)
            : Keypair(sending: second, receiving: first, localIndex: localIndex, remoteIndex: remoteIndex, isInitiator: false, birthdate: now)
        clear()
        return keypair
    }
}

extension SymmetricState {
    /// An explicit copy, where a handshake must keep its state while trying a message against it.
    func copy() -> SymmetricState {
        SymmetricState(hash: hash, chainingKey: chainingKey.duplicate(), key: key.duplicate())
    }
}

private func write(_ key: PublicKey, _ packet: UnsafeMutableRawBufferPointer, _ offset: Int) {
    key.bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: packet[offset..<offset + 32]).copyMemory(from: $0) }
}

private func read(_ packet: UnsafeRawBufferPointer, _ offset: Int) -> PublicKey {
    PublicKey(Bytes32(UnsafeRawBufferPointer(rebasing: packet[offset..<offset + 32])))
}

private func field(_ packet: UnsafeMutableRawBufferPointer, _ offset: Int, _ length: Int) -> UnsafeMutableRawBufferPointer {
    UnsafeMutableRawBufferPointer(rebasing: packet[offset..<offset + length])
}

private func subfield(_ packet: UnsafeRawBufferPointer, _ offset: Int, _ length: Int) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(rebasing: packet[offset..<offset + length])
}
