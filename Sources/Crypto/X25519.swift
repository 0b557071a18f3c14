internal import CLibcrypto

/// X25519 (RFC 7748) through libcrypto. Handshake path only: each call builds EVP objects, a few
/// small allocations next to a ~30 µs scalar multiplication.
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
        var out = Bytes32()
        let ok = privateKey.withUnsafeBytes { k -> Bool in
            guard let pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nil, k.baseAddress!.assumingMemoryBound(to: UInt8.self), 32) else { return false }
            defer { EVP_PKEY_free(pkey) }
            var length = 32
            return out.withUnsafeMutableBytes {
                EVP_PKEY_get_raw_public_key(pkey, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), &length) == 1 && length == 32
            }
        }
        precondition(ok, "X25519 public key derivation failed")
        return PublicKey(out)
    }

    /// DH(private, public), or nil when the result is all zeros: `publicKey` is of low order, and a
    /// session built on it would be known to anyone (the protocol refuses such peers).
    public static func sharedSecret(_ privateKey: borrowing SecretKey, _ publicKey: PublicKey) -> SecretKey? {
        var shared = SecretKey()
        let ok = privateKey.withUnsafeBytes { k in
            publicKey.bytes.withUnsafeBytes { p in
                shared.withUnsafeMutableBytes { out in derive(k, p, out) }
            }
        }
        guard ok, !shared.isZero else { return nil }
        return shared
    }

    private static func derive(_ priv: UnsafeRawBufferPointer, _ pub: UnsafeRawBufferPointer, _ out: UnsafeMutableRawBufferPointer) -> Bool {
        guard let mine = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nil, priv.baseAddress!.assumingMemoryBound(to: UInt8.self), 32) else { return false }
        defer { EVP_PKEY_free(mine) }
        guard let theirs = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nil, pub.baseAddress!.assumingMemoryBound(to: UInt8.self), 32) else { return false }
        defer { EVP_PKEY_free(theirs) }
        guard let ctx = EVP_PKEY_CTX_new(mine, nil) else { return false }
        defer { EVP_PKEY_CTX_free(ctx) }
        var length = 32
        // libcrypto itself fails the derivation on an all-zero result; the caller checks again.
        return EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, theirs) == 1
            && EVP_PKEY_derive(ctx, out.baseAddress!.assumingMemoryBound(to: UInt8.self), &length) == 1 && length == 32
    }
}
