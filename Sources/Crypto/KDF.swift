/// HMAC-BLAKE2s and WireGuard's KDF (HKDF with HMAC-BLAKE2s), as in the whitepaper §5.4:
/// τ0 = HMAC(key, input), τ1 = HMAC(τ0, 0x1), τi = HMAC(τ0, τi−1 ‖ i).
///
/// Works on raw memory so that outputs can land straight in SecretKey slots; an output may alias
/// the key (ck ← KDF(ck, …)) because the key is fully consumed into τ0 before any output is written.
public enum KDF {
    /// HMAC-BLAKE2s-256 (RFC 2104 with a 64-byte block). `key` at most 64 bytes; 32 bytes out.
    public static func hmac(key: UnsafeRawBufferPointer, _ parts: UnsafeRawBufferPointer..., into output: UnsafeMutableRawPointer) {
        precondition(key.count <= BLAKE2s.blockLength)
        // The padded key and the inner hash are each as good as the key: scratch, never values.
        Zeroize.withScratch(64 + 32) { scratch in
            let pad = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<64])
            let inner = UnsafeMutableRawBufferPointer(rebasing: scratch[64..<96])
            for i in 0..<64 { pad[i] = (i < key.count ? key[i] : 0) ^ 0x36 }
            var state = BLAKE2s()
            state.update(UnsafeRawBufferPointer(pad))
            for part in parts { state.update(part) }
            state.finalize(into: inner)
            for i in 0..<64 { pad[i] ^= 0x36 ^ 0x5C }
            state = BLAKE2s()
            state.update(UnsafeRawBufferPointer(pad))
            state.update(UnsafeRawBufferPointer(inner))
            state.finalize(into: UnsafeMutableRawBufferPointer(start: output, count: 32))
        }
    }

    /// KDF₁/₂/₃: writes τ1, and τ2 and τ3 when their destinations are given (32 bytes each).
    public static func derive(key: UnsafeRawBufferPointer, input: UnsafeRawBufferPointer,
                              _ t1: UnsafeMutableRawPointer, _ t2: UnsafeMutableRawPointer? = nil,
                              _ t3: UnsafeMutableRawPointer? = nil) {
        Zeroize.withScratch(32) { prk in
            hmac(key: key, input, into: prk.baseAddress!)
            let tau0 = UnsafeRawBufferPointer(prk)
            next(tau0, previous: nil, index: 1, into: t1)
            guard let t2 else { return }
            next(tau0, previous: t1, index: 2, into: t2)
            guard let t3 else { return }
            next(tau0, previous: t2, index: 3, into: t3)
        }
    }

    /// τi = HMAC(τ0, τi−1 ‖ i), the two parts hashed in turn rather than joined in a buffer that
    /// would need clearing. The index is public.
    private static func next(_ tau0: UnsafeRawBufferPointer, previous: UnsafeMutableRawPointer?, index: UInt8,
                             into output: UnsafeMutableRawPointer) {
        var index = index
        withUnsafeBytes(of: &index) { i in
            hmac(key: tau0, UnsafeRawBufferPointer(start: previous, count: previous == nil ? 0 : 32), i, into: output)
        }
    }
}
