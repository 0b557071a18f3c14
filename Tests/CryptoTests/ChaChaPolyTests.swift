import Crypto
import Testing

/// ChaCha20-Poly1305 (RFC 8439) through OpenSSL, in place.
@Suite struct ChaChaPolyTests {
    // RFC 8439 §2.8.2: the AEAD test vector.
    static let key = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
    static let nonce = hex("070000004041424344454647")
    static let aad = hex("50515253c0c1c2c3c4c5c6c7")
    static let plaintext = Array("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.".utf8)
    static let ciphertext = hex("""
        d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6
        3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36
        92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc
        3ff4def08e4b7a9de576d26586cec64b6116
        """)
    static let tag = hex("1ae10b594f09e26a7e902ecbd0600691")

    /// RFC 8439 §2.3.2: the block function with counter 1. The AEAD's encryption starts at block
    /// counter 1 (block 0 makes the Poly1305 key), so 64 zero bytes encrypt to exactly that block.
    @Test func blockFunctionRFC8439_2_3_2() {
        let aead = ChaCha20Poly1305()
        let sealed = aeadSeal(aead, key: hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"),
                              nonce: hex("000000090000004a00000000"), plaintext: [UInt8](repeating: 0, count: 64), aad: [])
        #expect(sealed.count == 64 + 16)
        #expect(hexString(sealed.prefix(64)) == """
            10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e\
            d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e
            """)
    }

    @Test func aeadVectorRFC8439_2_8_2() {
        #expect(Self.plaintext.count == 114)
        let aead = ChaCha20Poly1305()
        let sealed = aeadSeal(aead, key: Self.key, nonce: Self.nonce, plaintext: Self.plaintext, aad: Self.aad)
        #expect(hexString(sealed) == hexString(Self.ciphertext + Self.tag))

        let opened = aeadOpen(aead, key: Self.key, nonce: Self.nonce, ciphertext: Self.ciphertext, tag: Self.tag, aad: Self.aad)
        #expect(opened == Self.plaintext)
    }

    @Test func openRejectsAnyFlippedBit() {
        let aead = ChaCha20Poly1305()
        for bit in [0, 7, 8 * 57 + 3, 8 * Self.ciphertext.count - 1] {
            var ct = Self.ciphertext
            ct[bit / 8] ^= 1 << UInt8(bit % 8)
            #expect(aeadOpen(aead, key: Self.key, nonce: Self.nonce, ciphertext: ct, tag: Self.tag, aad: Self.aad) == nil,
                    "ciphertext bit \(bit)")
        }
        for bit in 0..<(8 * 16) {
            var tag = Self.tag
            tag[bit / 8] ^= 1 << UInt8(bit % 8)
            #expect(aeadOpen(aead, key: Self.key, nonce: Self.nonce, ciphertext: Self.ciphertext, tag: tag, aad: Self.aad) == nil,
                    "tag bit \(bit)")
        }
        for bit in 0..<(8 * Self.aad.count) {
            var aad = Self.aad
            aad[bit / 8] ^= 1 << UInt8(bit % 8)
            #expect(aeadOpen(aead, key: Self.key, nonce: Self.nonce, ciphertext: Self.ciphertext, tag: Self.tag, aad: aad) == nil,
                    "aad bit \(bit)")
        }
        // Missing or extra AAD, wrong nonce, wrong key.
        #expect(aeadOpen(aead, key: Self.key, nonce: Self.nonce, ciphertext: Self.ciphertext, tag: Self.tag, aad: []) == nil)
        #expect(aeadOpen(aead, key: Self.key, nonce: Self.nonce, ciphertext: Self.ciphertext, tag: Self.tag, aad: Self.aad + [0]) == nil)
        var nonce = Self.nonce
        nonce[11] ^= 0x80
        #expect(aeadOpen(aead, key: Self.key, nonce: nonce, ciphertext: Self.ciphertext, tag: Self.tag, aad: Self.aad) == nil)
        var key = Self.key
        key[31] ^= 0x01
        #expect(aeadOpen(aead, key: key, nonce: Self.nonce, ciphertext: Self.ciphertext, tag: Self.tag, aad: Self.aad) == nil)

        // A failed open leaves the context usable: the same context still seals and opens exactly.
        #expect(hexString(aeadSeal(aead, key: Self.key, nonce: Self.nonce, plaintext: Self.plaintext, aad: Self.aad))
            == hexString(Self.ciphertext + Self.tag))
        #expect(aeadOpen(aead, key: Self.key, nonce: Self.nonce, ciphertext: Self.ciphertext, tag: Self.tag, aad: Self.aad) == Self.plaintext)
    }

    /// The data-message nonce: 4 zero bytes ‖ counter (little endian).
    @Test(arguments: [UInt64(0), 1, 0xFF, 0x0102_0304_0506_0708, 0xFFFF_FFFF, UInt64.max])
    func counterNonceIsZeroPrefixedLittleEndian(counter: UInt64) {
        let aead = ChaCha20Poly1305()
        var littleEndian = counter.littleEndian
        let nonce = [0, 0, 0, 0] + withUnsafeBytes(of: &littleEndian) { Array($0) }
        #expect(nonce.count == 12)
        let message = Array((0..<200).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        let aad = Array("header".utf8)
        let expected = aeadSeal(aead, key: Self.key, nonce: nonce, plaintext: message, aad: aad)

        var buffer = message + [UInt8](repeating: 0, count: 16)
        Self.key.withUnsafeBytes { k in
            aad.withUnsafeBytes { a in
                buffer.withUnsafeMutableBytes { b in
                    aead.seal(key: k.baseAddress!, counter: counter,
                              message: UnsafeMutableRawBufferPointer(rebasing: b[0..<message.count]),
                              tag: b.baseAddress! + message.count, aad: a)
                }
            }
        }
        #expect(hexString(buffer) == hexString(expected))

        // The SecretKey-typed overloads agree, and open by counter round-trips only at that counter.
        let secret = SecretKey(Self.key)
        var viaSecret = message + [UInt8](repeating: 0, count: 16)
        aad.withUnsafeBytes { a in
            viaSecret.withUnsafeMutableBytes { b in
                aead.seal(key: secret, counter: counter, message: UnsafeMutableRawBufferPointer(rebasing: b[0..<message.count]),
                          tag: b.baseAddress! + message.count, aad: a)
            }
        }
        #expect(viaSecret == expected)

        for (tryCounter, shouldOpen) in [(counter, true), (counter &+ 1, false)] {
            var copy = buffer
            let ok = aad.withUnsafeBytes { a in
                copy.withUnsafeMutableBytes { b in
                    aead.open(key: secret, counter: tryCounter, message: UnsafeMutableRawBufferPointer(rebasing: b[0..<message.count]),
                              tag: b.baseAddress! + message.count, aad: a)
                }
            }
            #expect(ok == shouldOpen)
            if shouldOpen { #expect(Array(copy.prefix(message.count)) == message) }
        }
    }

    @Test func emptyMessageAndDefaultAAD() {
        let aead = ChaCha20Poly1305()
        // An empty message (a keepalive) still has a tag; the default AAD is empty.
        var tag = [UInt8](repeating: 0, count: 16)
        Self.key.withUnsafeBytes { k in
            tag.withUnsafeMutableBytes { t in
                aead.seal(key: k.baseAddress!, counter: 5, message: UnsafeMutableRawBufferPointer(start: nil, count: 0), tag: t.baseAddress!)
            }
        }
        let expected = aeadSeal(aead, key: Self.key, nonce: hex("000000000500000000000000"), plaintext: [], aad: [])
        #expect(tag == expected)
        #expect(tag != [UInt8](repeating: 0, count: 16))
        let ok = Self.key.withUnsafeBytes { k in
            tag.withUnsafeBytes { t in
                aead.open(key: k.baseAddress!, counter: 5, message: UnsafeMutableRawBufferPointer(start: nil, count: 0), tag: t.baseAddress!)
            }
        }
        #expect(ok)
    }

    @Test func largeMessagesRoundTrip() {
        let aead = ChaCha20Poly1305()
        for length in [1, 15, 16, 63, 64, 65, 1420, 65535] {
            let message = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 31 + length) }
            let sealed = aeadSeal(aead, key: Self.key, nonce: Self.nonce, plaintext: message, aad: Self.aad)
            #expect(sealed.count == length + 16)
            #expect(Array(sealed.prefix(length)) != message)
            let opened = aeadOpen(aead, key: Self.key, nonce: Self.nonce, ciphertext: Array(sealed.prefix(length)),
                                  tag: Array(sealed.suffix(16)), aad: Self.aad)
            #expect(opened == message, "length \(length)")
        }
    }
}
