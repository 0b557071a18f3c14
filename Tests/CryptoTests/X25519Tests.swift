import Crypto
import Testing

/// X25519 (RFC 7748): the DH through OpenSSL, public keys by our fixed-base multiplication.
@Suite struct X25519Tests {
    // RFC 7748 §6.1.
    static let alicePrivate = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    static let alicePublic = hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
    static let bobPrivate = hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
    static let bobPublic = hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
    static let shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"

    /// §5.2: the two scalar-multiplication test vectors.
    @Test func rfc7748_5_2_vectors() throws {
        let first = try #require(x25519(hex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
                                        hex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c")))
        #expect(hexString(first) == "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552")
        let second = try #require(x25519(hex("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d"),
                                         hex("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493")))
        #expect(hexString(second) == "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957")
    }

    /// §5.2 iterated: k = u = 9; each round k ← X25519(k, u), u ← old k.
    @Test func rfc7748_5_2_iterated() {
        var k = SecretKey([9] + [UInt8](repeating: 0, count: 31))
        var u = PublicKey(Bytes32([9] + [UInt8](repeating: 0, count: 31))!)
        for round in 1...1000 {
            guard let next = X25519.sharedSecret(k, u) else {
                Issue.record("round \(round) gave nil")
                return
            }
            u = PublicKey(Bytes32(k.bytes)!)
            k = next
            if round == 1 {
                #expect(hexString(k.bytes) == "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079")
            }
        }
        #expect(hexString(k.bytes) == "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51")
    }

    /// §6.1: Alice's and Bob's key pairs and their shared secret, both ways.
    @Test func rfc7748_6_1_diffieHellman() {
        let alice = SecretKey(Self.alicePrivate), bob = SecretKey(Self.bobPrivate)
        #expect(hexString(X25519.publicKey(for: alice).bytes.bytes) == hexString(Self.alicePublic))
        #expect(hexString(X25519.publicKey(for: bob).bytes.bytes) == hexString(Self.bobPublic))
        guard let ab = X25519.sharedSecret(alice, PublicKey(Bytes32(Self.bobPublic)!)),
              let ba = X25519.sharedSecret(bob, PublicKey(Bytes32(Self.alicePublic)!)) else {
            Issue.record("DH gave nil")
            return
        }
        #expect(hexString(ab.bytes) == Self.shared)
        let agree = ab.equals(ba)
        #expect(agree)
    }

    @Test func clampSetsAndClearsTheRightBits() {
        var ones = SecretKey([UInt8](repeating: 0xFF, count: 32))
        X25519.clamp(&ones)
        #expect(ones.bytes == [0xF8] + [UInt8](repeating: 0xFF, count: 30) + [0x7F])
        var zeros = SecretKey()
        X25519.clamp(&zeros)
        #expect(zeros.bytes == [0x00] + [UInt8](repeating: 0, count: 30) + [0x40])
        // Clamping does not change the public key: the scalar multiplication clamps anyway.
        var alice = SecretKey(Self.alicePrivate)
        X25519.clamp(&alice)
        #expect(alice.bytes != Self.alicePrivate)
        #expect(X25519.publicKey(for: alice).bytes.bytes == Self.alicePublic)
    }

    /// Low-order points give an all-zero result, which the API refuses.
    @Test func lowOrderPointsGiveNil() {
        let zeroPoint = [UInt8](repeating: 0, count: 32)
        let onePoint = [1] + [UInt8](repeating: 0, count: 31)
        #expect(x25519(Self.alicePrivate, zeroPoint) == nil)
        #expect(x25519(Self.alicePrivate, onePoint) == nil)
        // A point of order 8 (from the curve25519 low-order list).
        #expect(x25519(Self.alicePrivate, hex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")) == nil)
    }
    /// Our fixed-base public key against libcrypto's ladder on the base point (u = 9), for
    /// scalars that a table or digit bug would get wrong: each single bit, runs of ones, the
    /// extremes, and 1,000 from a seeded sequence (so a failure names a scalar one can replay).
    @Test func fixedBasePublicKeysMatchTheLadder() {
        let basePoint = PublicKey(Bytes32([9] + [UInt8](repeating: 0, count: 31))!)
        var scalars: [[UInt8]] = [[UInt8](repeating: 0, count: 32), [UInt8](repeating: 0xFF, count: 32)]
        for bit in 0..<256 {
            var s = [UInt8](repeating: 0, count: 32)
            s[bit / 8] = 1 << UInt8(bit % 8)
            scalars.append(s)
        }
        for value: UInt8 in [0x77, 0x88, 0x08, 0xF0, 0x0F, 0x80] { scalars.append([UInt8](repeating: value, count: 32)) }
        var seed = [UInt8](repeating: 0, count: 32)
        for _ in 0..<1000 {
            var next = [UInt8](repeating: 0, count: 32)
            seed.withUnsafeBytes { s in next.withUnsafeMutableBytes { BLAKE2s.hash(s, into: $0) } }
            seed = next
            scalars.append(next)
        }
        var mismatches: [String] = []
        for scalar in scalars {
            let key = SecretKey(scalar)
            let ours = X25519.publicKey(for: key).bytes.bytes
            guard let ladder = X25519.sharedSecret(key, basePoint) else {
                mismatches.append("\(hexString(scalar)): the ladder gave nil")
                continue
            }
            if ours != ladder.bytes { mismatches.append("\(hexString(scalar)): \(hexString(ours)) ≠ \(hexString(ladder.bytes))") }
        }
        #expect(mismatches.count == 0, "\(mismatches.count) of \(scalars.count): \(mismatches.prefix(3))")
    }

    /// The key object takes our public key as given: a DH with it agrees both ways.
    @Test func keyPairsAgreeBothWays() {
        for _ in 0..<50 {
            let a = SecretKey.random(), b = SecretKey.random()
            guard let keyA = X25519Key(a), let keyB = X25519Key(b),
                  let ab = keyA.sharedSecret(with: keyB.publicKey), let ba = keyB.sharedSecret(with: keyA.publicKey) else {
                Issue.record("a key object or a DH gave nil")
                return
            }
            let agree = ab.equals(ba)
            #expect(agree)
        }
    }
}
