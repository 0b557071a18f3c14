public import Crypto

/// mac1, mac2 and cookie replies (whitepaper §5.3, §5.4.4, §5.4.7): the DoS defence. mac1 proves
/// the sender knows our public key; under load mac2 proves it can receive at its source address,
/// because the cookie it is keyed with was sent there.
public enum MACState: Sendable, Equatable {
    case invalid            // bad mac1: drop silently
    case validMAC1          // mac1 good, no (valid) cookie: fine unless under load
    case validCookie        // mac1 and mac2 good: the source address is proven
}

public enum CookieError: Error, Equatable, Sendable {
    case unexpected         // no handshake message outstanding to attach a cookie to
    case decryptionFailed
}

/// mac1 sits 32 bytes from a handshake message's end, mac2 16.
private func macRange(_ packet: some Collection, second: Bool) -> Range<Int> {
    let mac1 = packet.count - 2 * MessageMAC.length
    return second ? mac1 + MessageMAC.length..<packet.count : mac1..<mac1 + MessageMAC.length
}

/// keyed-BLAKE2s-128(key, message up to the MAC at `range`). mac1's key comes from a public key
/// and covers a packet sent in the clear: nothing secret, so its stack needs no clearing (it is
/// computed for every handshake packet of a flood). mac2's key is a cookie.
private func mac(_ key: UnsafeRawBufferPointer, _ packet: UnsafeRawBufferPointer, upTo range: Range<Int>,
                 secret: Bool, into out: UnsafeMutableRawBufferPointer) {
    BLAKE2s.hash(UnsafeRawBufferPointer(rebasing: packet[0..<range.lowerBound]), outputLength: MessageMAC.length, key: key,
                 secret: secret, into: out)
}

/// Responder side, one per device: checks the MACs of incoming handshake messages and answers
/// with cookie replies when under load.
public struct CookieChecker: ~Copyable, Sendable {
    private var mac1Key = Bytes32()       // HASH("mac1----" ‖ our public key)
    private var cookieKey = Bytes32()     // HASH("cookie--" ‖ our public key)
    private var secret = SecretKey()
    private var secretBirthdate: Instant?

    public init(publicKey: PublicKey?) { setPublicKey(publicKey) }

    /// Our static key changed: MACs are now made with the new public key.
    public mutating func setPublicKey(_ key: PublicKey?) {
        guard let key else { mac1Key = .zero; cookieKey = .zero; return }
        mac1Key = Hash.labelled("mac1----", key)
        cookieKey = Hash.labelled("cookie--", key)
    }

    /// Validates an initiation's or response's mac1, and its mac2 when `checkCookie` (under load).
    public mutating func validate(_ packet: UnsafeRawBufferPointer, source: Endpoint, checkCookie: Bool, now: Instant) -> MACState {
        var computed = Bytes32()
        let mac1 = macRange(packet, second: false)
        computed.withUnsafeMutableBytes { out in mac1Key.withUnsafeBytes { mac($0, packet, upTo: mac1, secret: false, into: out) } }
        let mac1OK = computed.withUnsafeBytes {
            ConstantTime.equals(UnsafeRawBufferPointer(rebasing: $0[0..<16]), UnsafeRawBufferPointer(rebasing: packet[mac1]))
        }
        guard mac1OK else { return .invalid }
        guard checkCookie else { return .validMAC1 }
        let mac2 = macRange(packet, second: true)
        Zeroize.withScratch(MessageMAC.length) { cookie in
            makeCookie(for: source, now: now, into: cookie)
            computed.withUnsafeMutableBytes { mac(UnsafeRawBufferPointer(cookie), packet, upTo: mac2, secret: true, into: $0) }
        }
        let mac2OK = computed.withUnsafeBytes {
            ConstantTime.equals(UnsafeRawBufferPointer(rebasing: $0[0..<16]), UnsafeRawBufferPointer(rebasing: packet[mac2]))
        }
        return mac2OK ? .validCookie : .validMAC1
    }

    /// Writes into `reply` (64 bytes) a cookie reply to `packet`, an initiation or response from
    /// `source` that we will not process until it carries mac2. `nonce` is 24 random bytes.
    public mutating func createReply(into reply: UnsafeMutableRawBufferPointer, for packet: UnsafeRawBufferPointer,
                                     source: Endpoint, nonce: UnsafeRawBufferPointer, now: Instant,
                                     using aead: borrowing ChaCha20Poly1305) {
        precondition(reply.count == CookieReplyLayout.length && nonce.count == XChaCha20Poly1305.nonceLength)
        reply.initializeMemory(as: UInt8.self, repeating: 0)
        Messages.writeType(.cookieReply, to: reply)
        // The receiver is the sender index of the message refused: initiations and responses both
        // carry it at offset 4.
        Messages.store32(Messages.load32(packet, InitiationLayout.sender), reply, CookieReplyLayout.receiver)
        UnsafeMutableRawBufferPointer(rebasing: reply[CookieReplyLayout.nonce..<CookieReplyLayout.nonce + 24]).copyMemory(from: nonce)
        // The cookie is made in place, in the reply, and encrypted there.
        let field = UnsafeMutableRawBufferPointer(rebasing: reply[CookieReplyLayout.encryptedCookie..<CookieReplyLayout.encryptedCookie + 16])
        makeCookie(for: source, now: now, into: field)
        let mac1 = UnsafeRawBufferPointer(rebasing: packet[macRange(packet, second: false)])
        cookieKey.withUnsafeBytes { key in
            XChaCha20Poly1305.seal(key: key.baseAddress!, nonce: reply.baseAddress! + CookieReplyLayout.nonce, message: field,
                                   tag: reply.baseAddress! + CookieReplyLayout.encryptedCookie + 16, aad: mac1, using: aead)
        }
    }

    /// Cookie = keyed-BLAKE2s-128(secret, source address ‖ source port big endian), written to
    /// `out` (16 bytes): it proves a source address, so it is kept out of copyable values. The
    /// secret rotates every two minutes, which bounds how long a cookie stays good.
    mutating func makeCookie(for source: Endpoint, now: Instant, into out: UnsafeMutableRawBufferPointer) {
        if secretBirthdate == nil || secretBirthdate!.hasExpired(WireGuard.cookieSecretLifetime, now: now) {
            secret = SecretKey.random()
            secretBirthdate = now
        }
        var port = source.port.bigEndian
        secret.withUnsafeBytes { key in
            source.address.withUnsafeBytes { address in
                withUnsafeBytes(of: &port) { port in
                    var state = BLAKE2s(outputLength: 16, key: key)
                    state.update(address)
                    state.update(port)
                    state.finalize(into: out)
                }
            }
        }
    }

    /// Fixes the secret, for known-answer tests.
    mutating func setSecret(_ bytes: UnsafeRawBufferPointer, now: Instant) {
        secret = SecretKey(copying: bytes)
        secretBirthdate = now
    }
}

/// Initiator side, one per peer: adds mac1 (and mac2 while it holds a fresh cookie) to our
/// handshake messages, and takes the cookie out of the peer's cookie replies.
public struct CookieMaker: Sendable {
    private let mac1Key: Bytes32          // HASH("mac1----" ‖ peer's public key)
    private let cookieKey: Bytes32        // HASH("cookie--" ‖ peer's public key)
    /// Read and written only in place (a Bytes32 would be copied on every read).
    private var cookie = InlineArray<16, UInt8>(repeating: 0)
    private var cookieBirthdate: Instant?
    /// The mac1 of our last handshake message: a cookie reply must be bound to it.
    private var lastMAC1: Bytes32?

    public init(remoteStatic: PublicKey) {
        mac1Key = Hash.labelled("mac1----", remoteStatic)
        cookieKey = Hash.labelled("cookie--", remoteStatic)
    }

    /// Fills in mac1 and mac2 of a finished initiation or response in `packet`.
    public mutating func addMACs(to packet: UnsafeMutableRawBufferPointer, now: Instant) {
        let readOnly = UnsafeRawBufferPointer(packet)
        let mac1 = macRange(packet, second: false), mac2 = macRange(packet, second: true)
        mac1Key.withUnsafeBytes { mac($0, readOnly, upTo: mac1, secret: false, into: UnsafeMutableRawBufferPointer(rebasing: packet[mac1])) }
        var sent = Bytes32()
        sent.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: readOnly[mac1])) }
        lastMAC1 = sent
        // A cookie is used only while the responder's secret behind it surely has not rotated.
        let fresh = cookieBirthdate.map { !$0.hasExpired(WireGuard.cookieSecretLifetime - WireGuard.cookieSecretLatency, now: now) } ?? false
        let out = UnsafeMutableRawBufferPointer(rebasing: packet[mac2])
        if fresh {
            withUnsafeBytes(of: &cookie) { mac($0, readOnly, upTo: mac2, secret: true, into: out) }
        } else {
            out.initializeMemory(as: UInt8.self, repeating: 0)
        }
    }

    /// Takes the cookie from a reply (64 bytes) to our last handshake message.
    public mutating func consumeReply(_ packet: UnsafeRawBufferPointer, now: Instant,
                                      using aead: borrowing ChaCha20Poly1305) throws(CookieError) {
        precondition(packet.count == CookieReplyLayout.length)
        guard let sentMAC1 = lastMAC1 else { throw .unexpected }
        // Decrypted in scratch: a forged reply must not overwrite the cookie we hold.
        let ok = Zeroize.withScratch(MessageMAC.length) { field -> Bool in
            field.copyMemory(from: UnsafeRawBufferPointer(rebasing: packet[CookieReplyLayout.encryptedCookie..<CookieReplyLayout.encryptedCookie + 16]))
            let opened = cookieKey.withUnsafeBytes { key in
                sentMAC1.withUnsafeBytes { mac1 in
                    XChaCha20Poly1305.open(key: key.baseAddress!, nonce: packet.baseAddress! + CookieReplyLayout.nonce, message: field,
                                           tag: packet.baseAddress! + CookieReplyLayout.encryptedCookie + 16,
                                           aad: UnsafeRawBufferPointer(rebasing: mac1[0..<16]), using: aead)
                }
            }
            if opened { withUnsafeMutableBytes(of: &cookie) { $0.copyMemory(from: UnsafeRawBufferPointer(field)) } }
            return opened
        }
        guard ok else { throw .decryptionFailed }
        cookieBirthdate = now
        // One reply per message sent: a second (replayed) reply finds nothing to attach to.
        lastMAC1 = nil
    }
}
