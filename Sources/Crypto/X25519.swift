internal import CLibcrypto
import Synchronization

/// X25519 (RFC 7748): the DH through libcrypto (its x86-64 ladder is assembly), public keys by our
/// fixed-base multiplication (Curve25519Base) on 64-bit targets. Handshake path only: each call
/// builds EVP objects, a few small allocations next to a ~22 µs scalar multiplication.
///
/// A key used more than once (our static key, a handshake's ephemeral) is made into an
/// `X25519Key` once: its public key then, one ladder per DH after.
public enum X25519 {
    /// Clamps a private key in place: clear bits 0–2, clear bit 255, set bit 254.
    public static func clamp(_ key: inout SecretKey) {
        key.withUnsafeMutableBytes { k in
            k[0] &= 248
            k[31] = (k[31] & 127) | 64
        }
    }

    /// The public key for `privateKey` (clamped or not: the scalar multiplication clamps).
    public static func publicKey(for privateKey: borrowing SecretKey) -> PublicKey {
        guard let key = X25519Key(privateKey) else { preconditionFailure("X25519 public key derivation failed") }
        return key.publicKey
    }

    /// DH(private, public), or nil when the result is all zeros: `publicKey` is of low order, and a
    /// session built on it would be known to anyone (the protocol refuses such peers). Makes the
    /// key's public half too: for a key used again, keep an `X25519Key`.
    public static func sharedSecret(_ privateKey: borrowing SecretKey, _ publicKey: PublicKey) -> SecretKey? {
        X25519Key(privateKey)?.sharedSecret(with: publicKey)
    }
}

/// A private key as libcrypto's object, made once with its public key, so that each DH costs one
/// scalar multiplication. libcrypto keeps a copy of the scalar for the object's
/// lifetime (cleansed when freed). Immutable once made, so threads may derive with it at once.
public final class X25519Key: @unchecked Sendable {
    private let pkey: OpaquePointer
    public let publicKey: PublicKey

    /// Derive contexts bound to this key, kept for the next DH: making one (and its derive_init)
    /// walks libcrypto 3.0's whole name map under a lock. One per thread deriving at once.
    private let contexts = ContextPool()

    /// Nil only if libcrypto fails (out of memory).
    public init?(_ privateKey: borrowing SecretKey) {
        #if _pointerBitWidth(_64)
        // Our fixed-base multiplication gives the public key; libcrypto takes the pair as it is.
        let pub = privateKey.withUnsafeBytes { Curve25519Base.publicKey($0) }
        guard let made = privateKey.withUnsafeBytes({ X25519Key.keyPair($0, pub) }) else { return nil }
        pkey = made
        publicKey = PublicKey(pub)
        #else
        guard let made = privateKey.withUnsafeBytes({ k in
            EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nil, k.baseAddress!.assumingMemoryBound(to: UInt8.self), 32)
        }) else { return nil }
        var out = Bytes32()
        var length = 32
        let ok = out.withUnsafeMutableBytes {
            EVP_PKEY_get_raw_public_key(made, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), &length) == 1 && length == 32
        }
        guard ok else { EVP_PKEY_free(made); return nil }
        pkey = made
        publicKey = PublicKey(out)
        #endif
    }

    /// libcrypto's key object from both halves: given the public key, it multiplies nothing
    /// (EVP_PKEY_new_raw_private_key would derive it again, at libcrypto's speed).
    private static let privateName: StaticString = "priv", publicName: StaticString = "pub"
    private static let importers = ContextPool()

    private static func keyPair(_ privateKey: UnsafeRawBufferPointer, _ publicKey: Bytes32) -> OpaquePointer? {
        guard let ctx = importers.take(orMake: {
            guard let ctx = EVP_PKEY_CTX_new_from_name(nil, "X25519", nil) else { return nil }
            return EVP_PKEY_fromdata_init(ctx) == 1 ? ctx : { EVP_PKEY_CTX_free(ctx); return nil }()
        }) else { return nil }
        defer { importers.give(ctx) }
        var pub = publicKey
        var made: OpaquePointer?
        let ok = pub.withUnsafeMutableBytes { p in
            var params = [
                // The names must outlive the call (a literal passed as a C string would not).
                OSSL_PARAM_construct_octet_string(X25519Key.privateName.utf8Start, UnsafeMutableRawPointer(mutating: privateKey.baseAddress!), 32),
                OSSL_PARAM_construct_octet_string(X25519Key.publicName.utf8Start, p.baseAddress!, 32),
                OSSL_PARAM_construct_end(),
            ]
            return EVP_PKEY_fromdata(ctx, &made, wgd_evp_pkey_keypair, &params) == 1
        }
        return ok ? made : nil
    }

    deinit { EVP_PKEY_free(pkey) }

    /// DH(this key, `publicKey`), or nil for an all-zero result (a low-order point).
    public func sharedSecret(with publicKey: PublicKey) -> SecretKey? {
        guard let theirs = X25519PublicKey(publicKey) else { return nil }
        return sharedSecret(with: theirs)
    }

    /// The same with the peer's key already libcrypto's object (a remote ephemeral used twice).
    public func sharedSecret(with theirs: X25519PublicKey) -> SecretKey? {
        var shared = SecretKey()
        let ok = shared.withUnsafeMutableBytes { derive(theirs.pkey, $0) }
        guard ok, !shared.isZero else { return nil }
        return shared
    }

    private func derive(_ theirs: OpaquePointer, _ out: UnsafeMutableRawBufferPointer) -> Bool {
        guard let ctx = contexts.take(orMake: { [pkey] in
            guard let ctx = EVP_PKEY_CTX_new(pkey, nil) else { return nil }
            return EVP_PKEY_derive_init(ctx) == 1 ? ctx : { EVP_PKEY_CTX_free(ctx); return nil }()
        }) else { return false }
        defer { contexts.give(ctx) }
        var length = 32
        // Unvalidated: libcrypto's check of an X25519 public key only asks that it has one (and
        // makes a context to ask). A low-order point gives zero, which libcrypto refuses and the
        // caller checks again.
        return EVP_PKEY_derive_set_peer_ex(ctx, theirs, 0) == 1
            && EVP_PKEY_derive(ctx, out.baseAddress!.assumingMemoryBound(to: UInt8.self), &length) == 1 && length == 32
    }
}

/// A peer's public key as libcrypto's object, for a key that takes part in more than one DH.
public final class X25519PublicKey: @unchecked Sendable {
    fileprivate let pkey: OpaquePointer

    /// Nil only if libcrypto fails (out of memory).
    public init?(_ key: PublicKey) {
        guard let made = key.bytes.withUnsafeBytes({
            EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nil, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), 32)
        }) else { return nil }
        pkey = made
    }

    deinit { EVP_PKEY_free(pkey) }
}

/// libcrypto contexts kept for reuse; a context serves one thread at a time, so each is taken
/// out while used. Grows to the number of threads using it at once.
private final class ContextPool: Sendable {
    private let free = Mutex<[UInt]>([])

    func take(orMake make: () -> OpaquePointer?) -> OpaquePointer? {
        if let address = free.withLock({ $0.popLast() }) { return OpaquePointer(bitPattern: address) }
        return make()
    }

    func give(_ ctx: OpaquePointer) { free.withLock { $0.append(UInt(bitPattern: ctx)) } }

    deinit {
        for address in free.withLock({ $0 }) { EVP_PKEY_CTX_free(OpaquePointer(bitPattern: address)) }
    }
}
