/// HMAC-BLAKE2s and WireGuard's KDF (HKDF with HMAC-BLAKE2s), as in the whitepaper §5.4:
/// τ0 = HMAC(key, input), τ1 = HMAC(τ0, 0x1), τi = HMAC(τ0, τi−1 ‖ i).
///
/// Works on raw memory so that outputs can land straight in SecretKey slots; an output may alias
/// the key (ck ← KDF(ck, …)) because the key is fully consumed into τ0 before any output is written.
public enum KDF {
    /// HMAC-BLAKE2s-256 (RFC 2104 with a 64-byte block). `key` at most 64 bytes; 32 bytes out.
    public static func hmac(key: UnsafeRawBufferPointer, _ parts: UnsafeRawBufferPointer..., into output: UnsafeMutableRawPointer) {
        precondition(key.count <= BLAKE2s.blockLength)
        var pad = InlineArray<64, UInt8>(repeating: 0)
        var inner = Bytes32()
        defer { Zeroize.clear(&pad); Zeroize.clear(&inner) }
        for i in 0..<key.count { pad[i] = key[i] ^ 0x36 }
        for i in key.count..<64 { pad[i] = 0x36 }
        var state = BLAKE2s()
        withUnsafeBytes(of: &pad) { state.update($0) }
        for part in parts { state.update(part) }
        inner.withUnsafeMutableBytes { state.finalize(into: $0) }
        for i in 0..<64 { pad[i] ^= 0x36 ^ 0x5C }
        state = BLAKE2s()
        withUnsafeBytes(of: &pad) { state.update($0) }
        inner.withUnsafeBytes { state.update($0) }
        state.finalize(into: UnsafeMutableRawBufferPointer(start: output, count: 32))
    }

    /// KDF₁/₂/₃: writes τ1, and τ2 and τ3 when their destinations are given (32 bytes each).
    public static func derive(key: UnsafeRawBufferPointer, input: UnsafeRawBufferPointer,
                              _ t1: UnsafeMutableRawPointer, _ t2: UnsafeMutableRawPointer? = nil,
                              _ t3: UnsafeMutableRawPointer? = nil) {
        var prk = Bytes32()
        defer { Zeroize.clear(&prk) }
        prk.withUnsafeMutableBytes { hmac(key: key, input, into: $0.baseAddress!) }
        var index: UInt8 = 1
        prk.withUnsafeBytes { prkBytes in
            withUnsafeBytes(of: &index) { hmac(key: prkBytes, $0, into: t1) }
        }
        guard let t2 else { return }
        next(prk: &prk, previous: t1, index: 2, into: t2)
        guard let t3 else { return }
        next(prk: &prk, previous: t2, index: 3, into: t3)
    }

    /// τi = HMAC(τ0, τi−1 ‖ i).
    private static func next(prk: inout Bytes32, previous: UnsafeMutableRawPointer, index: UInt8,
                             into output: UnsafeMutableRawPointer) {
        var index = index
        prk.withUnsafeBytes { key in
            withUnsafeBytes(of: &index) { hmac(key: key, UnsafeRawBufferPointer(start: previous, count: 32), $0, into: output) }
        }
    }
}
