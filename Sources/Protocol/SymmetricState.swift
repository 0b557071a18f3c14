import Crypto

/// Noise's running hash h, chaining key ck and current cipher key k, with the operations the
/// handshake equations are written in (whitepaper §5.4.2–5.4.3). Move-only: ck and k are secrets.
struct SymmetricState: ~Copyable, Sendable {
    var hash: Bytes32
    var chainingKey: SecretKey
    var key = SecretKey()

    static let construction = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
    static let identifier = "WireGuard v1 zx2c4 Jason@zx2c4.com"

    /// Ci = HASH(CONSTRUCTION), Hi = HASH(Ci ‖ IDENTIFIER): the same for every handshake.
    static let initialChainingKey: Bytes32 = Hash.of(construction)
    static let initialHash: Bytes32 = {
        var identifier = SymmetricState.identifier
        return identifier.withUTF8 { id in initialChainingKey.withUnsafeBytes { Hash.of($0, UnsafeRawBufferPointer(id)) } }
    }()

    /// The state both sides start from before mixing in the responder's static public key.
    init(responderStatic: PublicKey) {
        hash = SymmetricState.initialHash
        chainingKey = SymmetricState.initialChainingKey.withUnsafeBytes { SecretKey(copying: $0) }
        mixHash(responderStatic.bytes)
    }

    init(hash: Bytes32, chainingKey: consuming SecretKey, key: consuming SecretKey) {
        self.hash = hash
        self.chainingKey = chainingKey
        self.key = key
    }

    /// h ← HASH(h ‖ data)
    mutating func mixHash(_ data: UnsafeRawBufferPointer) {
        hash = hash.withUnsafeBytes { Hash.of($0, data) }
    }

    mutating func mixHash(_ data: Bytes32) { data.withUnsafeBytes { mixHash($0) } }

    /// ck ← KDF1(ck, input)
    mutating func mixKey(_ input: UnsafeRawBufferPointer) {
        chainingKey.withUnsafeMutableBytes { ck in KDF.derive(key: UnsafeRawBufferPointer(ck), input: input, ck.baseAddress!) }
    }

    mutating func mixKey(_ input: Bytes32) { input.withUnsafeBytes { mixKey($0) } }

    /// (ck, k) ← KDF2(ck, input)
    mutating func mixKeyAndKey(_ input: UnsafeRawBufferPointer) {
        key.withUnsafeMutableBytes { k in
            chainingKey.withUnsafeMutableBytes { ck in
                KDF.derive(key: UnsafeRawBufferPointer(ck), input: input, ck.baseAddress!, k.baseAddress!)
            }
        }
    }

    /// (ck, k) ← KDF2(ck, DH(private, public)); false for a low-order public key.
    mutating func mixDH(_ privateKey: X25519Key, _ publicKey: PublicKey, alsoKey: Bool) -> Bool {
        guard let shared = privateKey.sharedSecret(with: publicKey) else { return false }
        shared.withUnsafeBytes { alsoKey ? mixKeyAndKey($0) : mixKey($0) }
        return true
    }

    /// The same with the public key already libcrypto's object.
    mutating func mixDH(_ privateKey: X25519Key, _ publicKey: X25519PublicKey, alsoKey: Bool) -> Bool {
        guard let shared = privateKey.sharedSecret(with: publicKey) else { return false }
        shared.withUnsafeBytes { alsoKey ? mixKeyAndKey($0) : mixKey($0) }
        return true
    }

    /// (ck, k) ← KDF2(ck, DH(Si, Sr)) with the DH computed once per peer; false if it was zero.
    mutating func mixPrecomputedDH(_ shared: borrowing SecretKey) -> Bool {
        guard !shared.isZero else { return false }
        shared.withUnsafeBytes { mixKeyAndKey($0) }
        return true
    }

    /// (ck, τ, k) ← KDF3(ck, Q); h ← HASH(h ‖ τ). Q is 32 zero bytes without a preshared key.
    mutating func mixPresharedKey(_ psk: PresharedKey?) {
        var tau = SecretKey()
        if let psk {
            psk.secret.withUnsafeBytes { deriveThree($0, &tau) }
        } else {
            Bytes32.zero.withUnsafeBytes { deriveThree($0, &tau) }
        }
        tau.withUnsafeBytes { mixHash($0) }
    }

    private mutating func deriveThree(_ input: UnsafeRawBufferPointer, _ tau: inout SecretKey) {
        tau.withUnsafeMutableBytes { t in
            key.withUnsafeMutableBytes { k in
                chainingKey.withUnsafeMutableBytes { ck in
                    KDF.derive(key: UnsafeRawBufferPointer(ck), input: input, ck.baseAddress!, t.baseAddress!, k.baseAddress!)
                }
            }
        }
    }

    /// msg ← AEAD(k, 0, plaintext, h); h ← HASH(h ‖ msg). `field` holds the plaintext and has 16
    /// more bytes for the tag; it is encrypted in place.
    mutating func encryptAndHash(_ field: UnsafeMutableRawBufferPointer, using aead: borrowing ChaCha20Poly1305) {
        let length = field.count - ChaCha20Poly1305.tagLength
        let message = UnsafeMutableRawBufferPointer(rebasing: field[0..<length])
        hash.withUnsafeBytes { h in aead.seal(key: key, counter: 0, message: message, tag: field.baseAddress! + length, aad: h) }
        mixHash(UnsafeRawBufferPointer(field))
    }

    /// The inverse: decrypts `field` (ciphertext ‖ tag) into `plaintext`; false if it does not
    /// authenticate. The packet itself is left untouched.
    mutating func decryptAndHash(_ field: UnsafeRawBufferPointer, into plaintext: UnsafeMutableRawBufferPointer,
                                 using aead: borrowing ChaCha20Poly1305) -> Bool {
        let length = field.count - ChaCha20Poly1305.tagLength
        precondition(plaintext.count == length)
        if length > 0 { plaintext.copyMemory(from: UnsafeRawBufferPointer(rebasing: field[0..<length])) }
        let ok = hash.withUnsafeBytes { h in
            aead.open(key: key, counter: 0, message: plaintext, tag: field.baseAddress! + length, aad: h)
        }
        guard ok else { return false }
        mixHash(field)
        return true
    }
}

/// HASH: BLAKE2s-256 of concatenated inputs.
enum Hash {
    static func of(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bytes32 {
        var out = Bytes32()
        out.withUnsafeMutableBytes { BLAKE2s.hash(a, b, into: $0) }
        return out
    }

    static func of(_ text: String) -> Bytes32 {
        var out = Bytes32()
        var copy = text
        copy.withUTF8 { utf8 in out.withUnsafeMutableBytes { BLAKE2s.hash(UnsafeRawBufferPointer(utf8), into: $0) } }
        return out
    }

    /// HASH(label ‖ key): the mac1 and cookie keys.
    static func labelled(_ label: String, _ key: PublicKey) -> Bytes32 {
        var label = label
        return label.withUTF8 { l in key.bytes.withUnsafeBytes { of(UnsafeRawBufferPointer(l), $0) } }
    }
}
