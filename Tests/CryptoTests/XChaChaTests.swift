import Crypto
import Testing

/// HChaCha20 and XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03), the cookie reply's AEAD.
/// Values as in Tests/ProtocolTests/Fixtures/handshake_kat.json ("xchacha20poly1305"), which its
/// generator checks against the draft on every run.
@Suite struct XChaChaTests {
    static let key = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
    static let nonce = hex("404142434445464748494a4b4c4d4e4f5051525354555657")
    static let aad = hex("50515253c0c1c2c3c4c5c6c7")
    static let plaintext = hex("""
        4c616469657320616e642047656e746c656d656e206f662074686520636c6173
        73206f66202739393a204966204920636f756c64206f6666657220796f75206f
        6e6c79206f6e652074697020666f7220746865206675747572652c2073756e73
        637265656e20776f756c642062652069742e
        """)
    static let ciphertextAndTag = hex("""
        bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb
        731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452
        2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9
        21f9664c97637da9768812f615c68b13b52e
        c0875924c1c7987947deafd8780acf49
        """)

    /// §2.2.1: HChaCha20 test vector.
    @Test func hchacha20() {
        let key = hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
        let nonce = hex("000000090000004a0000000031415927")
        var subkey = [UInt8](repeating: 0, count: 32)
        key.withUnsafeBytes { k in
            nonce.withUnsafeBytes { n in
                subkey.withUnsafeMutableBytes { HChaCha20.derive(key: k.baseAddress!, nonce: n.baseAddress!, into: $0.baseAddress!) }
            }
        }
        #expect(hexString(subkey) == "82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc")
    }

    /// Appendix A.3: the AEAD_XCHACHA20_POLY1305 example.
    @Test func aeadVectorA3() {
        #expect(Array(Self.plaintext) == Array("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.".utf8))
        let aead = ChaCha20Poly1305()
        let sealed = xaeadSeal(aead, key: Self.key, nonce: Self.nonce, plaintext: Self.plaintext, aad: Self.aad)
        #expect(hexString(sealed) == hexString(Self.ciphertextAndTag))

        let ct = Array(Self.ciphertextAndTag.dropLast(16)), tag = Array(Self.ciphertextAndTag.suffix(16))
        #expect(xaeadOpen(aead, key: Self.key, nonce: Self.nonce, ciphertext: ct, tag: tag, aad: Self.aad) == Self.plaintext)

        // Every part of the 24-byte nonce matters: the first 16 bytes go to HChaCha20, the last 8
        // to the inner nonce.
        for i in [0, 15, 16, 23] {
            var nonce = Self.nonce
            nonce[i] ^= 1
            #expect(xaeadOpen(aead, key: Self.key, nonce: nonce, ciphertext: ct, tag: tag, aad: Self.aad) == nil, "nonce byte \(i)")
        }
        var badTag = tag
        badTag[0] ^= 1
        #expect(xaeadOpen(aead, key: Self.key, nonce: Self.nonce, ciphertext: ct, tag: badTag, aad: Self.aad) == nil)
        var badCT = ct
        badCT[100] ^= 0x40
        #expect(xaeadOpen(aead, key: Self.key, nonce: Self.nonce, ciphertext: badCT, tag: tag, aad: Self.aad) == nil)
        #expect(xaeadOpen(aead, key: Self.key, nonce: Self.nonce, ciphertext: ct, tag: tag, aad: []) == nil)
    }

    /// XChaCha20-Poly1305 is ChaCha20-Poly1305 under the HChaCha20 subkey with nonce
    /// 4 zero bytes ‖ the last 8 nonce bytes.
    @Test func composition() {
        let aead = ChaCha20Poly1305()
        var subkey = [UInt8](repeating: 0, count: 32)
        Self.key.withUnsafeBytes { k in
            Self.nonce.withUnsafeBytes { n in
                subkey.withUnsafeMutableBytes { HChaCha20.derive(key: k.baseAddress!, nonce: n.baseAddress!, into: $0.baseAddress!) }
            }
        }
        let inner = aeadSeal(aead, key: subkey, nonce: [0, 0, 0, 0] + Self.nonce.suffix(8), plaintext: Self.plaintext, aad: Self.aad)
        #expect(inner == Self.ciphertextAndTag)
    }
}
