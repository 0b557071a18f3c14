/// XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha): the cookie reply's AEAD, whose 24-byte random
/// nonce is safe to pick at random. HChaCha20 turns key and the nonce's first 16 bytes into a
/// subkey; ChaCha20-Poly1305 then runs with 4 zero bytes ‖ the nonce's last 8 bytes.
public enum XChaCha20Poly1305 {
    public static let nonceLength = 24

    public static func seal(key: UnsafeRawPointer, nonce: UnsafeRawPointer, message: UnsafeMutableRawBufferPointer,
                            tag: UnsafeMutableRawPointer, aad: UnsafeRawBufferPointer, using aead: borrowing ChaCha20Poly1305) {
        var subkey = SecretKey()
        subkey.withUnsafeMutableBytes { HChaCha20.derive(key: key, nonce: nonce, into: $0.baseAddress!) }
        var shortNonce = shortNonce(nonce)
        subkey.withUnsafeBytes { k in
            withUnsafeBytes(of: &shortNonce) { aead.seal(key: k.baseAddress!, nonce: $0.baseAddress!, message: message, tag: tag, aad: aad) }
        }
    }

    public static func open(key: UnsafeRawPointer, nonce: UnsafeRawPointer, message: UnsafeMutableRawBufferPointer,
                            tag: UnsafeRawPointer, aad: UnsafeRawBufferPointer, using aead: borrowing ChaCha20Poly1305) -> Bool {
        var subkey = SecretKey()
        subkey.withUnsafeMutableBytes { HChaCha20.derive(key: key, nonce: nonce, into: $0.baseAddress!) }
        var shortNonce = shortNonce(nonce)
        return subkey.withUnsafeBytes { k in
            withUnsafeBytes(of: &shortNonce) { aead.open(key: k.baseAddress!, nonce: $0.baseAddress!, message: message, tag: tag, aad: aad) }
        }
    }

    private static func shortNonce(_ nonce: UnsafeRawPointer) -> (UInt32, UInt32, UInt32) {
        (0, nonce.loadUnaligned(fromByteOffset: 16, as: UInt32.self), nonce.loadUnaligned(fromByteOffset: 20, as: UInt32.self))
    }
}

/// HChaCha20: the ChaCha20 block function's 20 rounds over constants ‖ key ‖ 16-byte nonce, without
/// the final addition; words 0–3 and 12–15 are the 32-byte output. libcrypto does not export it.
public enum HChaCha20 {
    public static func derive(key: UnsafeRawPointer, nonce: UnsafeRawPointer, into output: UnsafeMutableRawPointer) {
        var x = InlineArray<16, UInt32>(repeating: 0)
        x[0] = 0x6170_7865; x[1] = 0x3320_646E; x[2] = 0x7962_2D32; x[3] = 0x6B20_6574
        for i in 0..<8 { x[4 + i] = UInt32(littleEndian: key.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
        for i in 0..<4 { x[12 + i] = UInt32(littleEndian: nonce.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
        func quarterRound(_ a: Int, _ b: Int, _ c: Int, _ d: Int) {
            x[a] = x[a] &+ x[b]; x[d] = rotl(x[d] ^ x[a], 16)
            x[c] = x[c] &+ x[d]; x[b] = rotl(x[b] ^ x[c], 12)
            x[a] = x[a] &+ x[b]; x[d] = rotl(x[d] ^ x[a], 8)
            x[c] = x[c] &+ x[d]; x[b] = rotl(x[b] ^ x[c], 7)
        }
        for _ in 0..<10 {
            quarterRound(0, 4, 8, 12); quarterRound(1, 5, 9, 13); quarterRound(2, 6, 10, 14); quarterRound(3, 7, 11, 15)
            quarterRound(0, 5, 10, 15); quarterRound(1, 6, 11, 12); quarterRound(2, 7, 8, 13); quarterRound(3, 4, 9, 14)
        }
        for i in 0..<4 {
            output.storeBytes(of: x[i].littleEndian, toByteOffset: 4 * i, as: UInt32.self)
            output.storeBytes(of: x[12 + i].littleEndian, toByteOffset: 16 + 4 * i, as: UInt32.self)
        }
        Zeroize.clear(&x)
    }

    @inline(__always) private static func rotl(_ v: UInt32, _ n: UInt32) -> UInt32 { (v << n) | (v >> (32 - n)) }
}
