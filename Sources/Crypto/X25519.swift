internal import CLibcrypto

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

    /// Nil only if libcrypto fails (out of memory).
    public init?(_ privateKey: borrowing SecretKey) {
        #if _pointerBitWidth(_64)
        // Our fixed-base multiplication gives the public key; libcrypto takes the pair as it is.
        let pub = privateKey.withUnsafeBytes { Curve25519Base.publicKey($0) }
        guard let made = privateKey.withUnsafeBytes({ X25519Key.keyPair($0, pub) }) else { return nil }
        #else
        guard let made = privateKey.withUnsafeBytes({ k in
            EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nil, k.baseAddress!.assumingMemoryBound(to: UInt8.self), 32)
        }) else { return nil }
        #endif
        var out = Bytes32()
        var length = 32
        let ok = out.withUnsafeMutableBytes {
            EVP_PKEY_get_raw_public_key(made, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), &length) == 1 && length == 32
        }
        guard ok else { EVP_PKEY_free(made); return nil }
        pkey = made
        publicKey = PublicKey(out)
    }

    /// libcrypto's key object from both halves: given the public key, it multiplies nothing
    /// (EVP_PKEY_new_raw_private_key would derive it again, at libcrypto's speed).
    private static let privateName: StaticString = "priv", publicName: StaticString = "pub"

    private static func keyPair(_ privateKey: UnsafeRawBufferPointer, _ publicKey: Bytes32) -> OpaquePointer? {
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, "X25519", nil) else { return nil }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_fromdata_init(ctx) == 1 else { return nil }
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
        var shared = SecretKey()
        let ok = publicKey.bytes.withUnsafeBytes { p in
            shared.withUnsafeMutableBytes { out in derive(p, out) }
        }
        guard ok, !shared.isZero else { return nil }
        return shared
    }

    private func derive(_ pub: UnsafeRawBufferPointer, _ out: UnsafeMutableRawBufferPointer) -> Bool {
        guard let theirs = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nil, pub.baseAddress!.assumingMemoryBound(to: UInt8.self), 32) else { return false }
        defer { EVP_PKEY_free(theirs) }
        guard let ctx = EVP_PKEY_CTX_new(pkey, nil) else { return false }
        defer { EVP_PKEY_CTX_free(ctx) }
        var length = 32
        // libcrypto itself fails the derivation on an all-zero result; the caller checks again.
        return EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, theirs) == 1
            && EVP_PKEY_derive(ctx, out.baseAddress!.assumingMemoryBound(to: UInt8.self), &length) == 1 && length == 32
    }
}
