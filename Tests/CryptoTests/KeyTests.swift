import Crypto
import Foundation
import Testing

/// Key text encodings, the key types, secret storage and constant-time helpers.
@Suite struct KeyEncodingTests {
    // RFC 7748 §6.1 Alice's public key, in the three spellings.
    static let aliceHex = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    static let aliceBase64 = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="
    static let zeroBase64 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

    @Test func knownKeys() {
        let alice = Bytes32(hex: Self.aliceHex)
        #expect(KeyEncoding.base64(alice) == Self.aliceBase64)
        #expect(KeyEncoding.hex(alice) == Self.aliceHex)
        #expect(KeyEncoding.fromBase64(Self.aliceBase64) == alice)
        #expect(KeyEncoding.fromHex(Self.aliceHex) == alice)
        #expect(KeyEncoding.fromHex(Self.aliceHex.uppercased()) == alice)
        #expect(PublicKey(alice).description == Self.aliceBase64)

        #expect(KeyEncoding.base64(Bytes32.zero) == Self.zeroBase64)
        #expect(KeyEncoding.fromBase64(Self.zeroBase64) == Bytes32.zero)
        #expect(KeyEncoding.hex(Bytes32.zero) == String(repeating: "0", count: 64))
        let ones = Bytes32([UInt8](repeating: 0xFF, count: 32))!
        #expect(KeyEncoding.base64(ones) == String(repeating: "/", count: 42) + "8=")
        #expect(KeyEncoding.hex(ones) == String(repeating: "f", count: 64))
        // The last symbol carries 4 bits: "E" (000100) ends the key with 0x01.
        #expect(KeyEncoding.fromBase64(String(repeating: "A", count: 42) + "E=") == Bytes32([UInt8](repeating: 0, count: 31) + [1]))
    }

    /// RFC 4648 §10 for the general encoder (lengths that are not multiples of 3).
    @Test func base64OfArbitraryLengths() {
        let cases = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
        for (text, encoded) in cases {
            #expect(Array(text.utf8).withUnsafeBytes { KeyEncoding.base64($0) } == encoded)
        }
        #expect([UInt8]([0x00, 0x7F, 0x80, 0xFF]).withUnsafeBytes { KeyEncoding.hex($0) } == "007f80ff")
    }

    @Test func randomRoundTrips() {
        for _ in 0..<200 {
            var key = Bytes32()
            key.withUnsafeMutableBytes { SystemRandom.fill($0) }
            let base64 = KeyEncoding.base64(key), hex = KeyEncoding.hex(key)
            #expect(base64 == Data(key.bytes).base64EncodedString())
            #expect(hex == hexString(key.bytes))
            #expect(KeyEncoding.fromBase64(base64) == key)
            #expect(KeyEncoding.fromHex(hex) == key)
            #expect(KeyEncoding.fromHex(hex.uppercased()) == key)
            #expect(KeyEncoding.fromBase64(Substring(base64)) == key)
            #expect(KeyEncoding.secretFromBase64(base64.utf8)?.bytes == key.bytes)
            #expect(KeyEncoding.secretFromHex(hex.utf8)?.bytes == key.bytes)
            #expect(KeyEncoding.secretFromHex(Substring(hex.uppercased()).utf8)?.bytes == key.bytes)
        }
    }

    @Test(arguments: [
        "",
        String(repeating: "A", count: 43),                       // too short, no padding
        String(repeating: "A", count: 44),                       // right length, no '='
        String(repeating: "A", count: 43) + "==",               // too long
        String(repeating: "A", count: 42) + "==",               // a 31-byte key
        String(repeating: "A", count: 40) + "AAA=" + "A",
        String(repeating: "A", count: 42) + "B=",               // unused low bits set: non-canonical
        String(repeating: "A", count: 42) + "D=",
        String(repeating: "A", count: 42) + "/=",
        String(repeating: "A", count: 42) + "*=",               // not base64
        "AAAAAAAAAAAAAAAAAAAAA-AAAAAAAAAAAAAAAAAAAAA=",         // URL-safe alphabet
        "AAAAAAAAAAAAAAAAAAAAA_AAAAAAAAAAAAAAAAAAAAA=",
        "AAAAAAAAAAAAAAAAAAAAA AAAAAAAAAAAAAAAAAAAAA=",
        "AAAAAAAAAAAAAAAAAAAA=AAAAAAAAAAAAAAAAAAAAAA=",         // '=' inside
        " hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=",        // surrounding space
        "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n",
        "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmé",          // 44 UTF-8 bytes, not ASCII
    ])
    func base64Rejects(text: String) {
        #expect(KeyEncoding.fromBase64(text) == nil)
        #expect(KeyEncoding.secretFromBase64(text.utf8)?.bytes == nil)
    }

    @Test(arguments: [
        "",
        String(repeating: "0", count: 63),
        String(repeating: "0", count: 65),
        String(repeating: "0", count: 62) + "0g",
        "x" + String(repeating: "0", count: 63),
        "0x" + String(repeating: "0", count: 64),
        String(repeating: "0", count: 63) + " ",
        String(repeating: "0", count: 62) + "é",
    ])
    func hexRejects(text: String) {
        #expect(KeyEncoding.fromHex(text) == nil)
        #expect(KeyEncoding.secretFromHex(text.utf8)?.bytes == nil)
    }
}

@Suite struct KeyTypeTests {
    /// Hex and base64 spellings of `bytes`, which must not appear in a description.
    static func spellings(_ bytes: [UInt8]) -> [String] {
        let key = Bytes32(bytes)!
        return [KeyEncoding.hex(key), KeyEncoding.hex(key).uppercased(), KeyEncoding.base64(key),
                String(KeyEncoding.base64(key).prefix(16)), String(KeyEncoding.hex(key).prefix(16))]
    }

    @Test func privateKeyIsClampedAndDerivesThePublicKey() {
        let alice = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
        let key = alice.withUnsafeBytes { PrivateKey(copying: $0) }
        var clamped = alice
        clamped[0] &= 248
        clamped[31] = clamped[31] & 127 | 64
        #expect(key.secret.bytes == clamped)
        #expect(key.secret.bytes != alice)
        #expect(hexString(key.publicKey.bytes.bytes) == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
        #expect(key.isZero == false)

        let ones = [UInt8](repeating: 0xFF, count: 32).withUnsafeBytes { PrivateKey(copying: $0) }
        #expect(ones.secret.bytes == [0xF8] + [UInt8](repeating: 0xFF, count: 30) + [0x7F])

        let generated = PrivateKey.generate()
        let bytes = generated.secret.bytes
        #expect(bytes[0] & 7 == 0 && bytes[31] & 0x80 == 0 && bytes[31] & 0x40 != 0)
        #expect(generated.publicKey == X25519.publicKey(for: generated.secret))
        #expect(generated != PrivateKey.generate())
    }

    @Test func descriptionsAreRedacted() {
        let raw = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
        let privateKey = raw.withUnsafeBytes { PrivateKey(copying: $0) }
        let presharedKey = raw.withUnsafeBytes { PresharedKey(copying: $0) }
        let texts = [String(describing: privateKey), "\(privateKey)", String(reflecting: privateKey),
                     String(describing: presharedKey), "\(presharedKey)", String(reflecting: presharedKey),
                     String(describing: [privateKey]), String(describing: Optional(presharedKey))]
        for text in texts {
            #expect(text.contains("redacted"), "\(text)")
            for spelling in Self.spellings(raw) + Self.spellings(privateKey.secret.bytes) {
                #expect(!text.contains(spelling), "\(text) leaks the key")
            }
        }
        // The public key is meant to be shown.
        #expect(privateKey.publicKey.description == "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=")
    }

    @Test func equalityIsByValue() {
        let a = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
        var b = a
        b[31] ^= 0x01
        var sameAfterClamping = a
        sameAfterClamping[0] ^= 0x07   // bits the clamp clears
        func privateKey(_ bytes: [UInt8]) -> PrivateKey { bytes.withUnsafeBytes { PrivateKey(copying: $0) } }
        func presharedKey(_ bytes: [UInt8]) -> PresharedKey { bytes.withUnsafeBytes { PresharedKey(copying: $0) } }

        #expect(privateKey(a) == privateKey(a))
        #expect(privateKey(a) != privateKey(b))
        #expect(privateKey(a) == privateKey(sameAfterClamping))
        #expect(presharedKey(a) == presharedKey(a))
        #expect(presharedKey(a) != presharedKey(b))
        #expect(presharedKey(a) != presharedKey(sameAfterClamping))   // not clamped
        #expect(presharedKey(a).secret.bytes == a)
        #expect(presharedKey([UInt8](repeating: 0, count: 32)).isZero)
        #expect(!presharedKey(a).isZero)
        let generated = PresharedKey.generate()
        #expect(!generated.isZero && generated != PresharedKey.generate())
        #expect(PublicKey(Bytes32(a)!) == PublicKey(Bytes32(a)!))
        #expect(PublicKey(Bytes32(a)!) != PublicKey(Bytes32(b)!))
        #expect(Set([PublicKey(Bytes32(a)!), PublicKey(Bytes32(a)!), PublicKey(Bytes32(b)!)]).count == 2)
    }
}

@Suite struct SecretKeyTests {
    @Test func basics() {
        let pattern = (0..<32).map { UInt8($0 + 1) }
        var key = SecretKey(pattern)
        #expect(key.bytes == pattern)
        #expect(key.isZero == false)
        let fresh = SecretKey()
        #expect(fresh.isZero && fresh.bytes == [UInt8](repeating: 0, count: 32))

        var copy = key.duplicate()
        var equal = copy.equals(key)
        #expect(equal)
        copy.withUnsafeMutableBytes { $0[31] ^= 0x80 }
        equal = copy.equals(key)
        #expect(!equal)
        #expect(key.bytes == pattern)   // the duplicate is independent
        copy.clear()
        #expect(copy.isZero && key.bytes == pattern)

        key.clear()
        #expect(key.isZero == true)
        #expect(key.bytes == [UInt8](repeating: 0, count: 32))
        equal = key.equals(fresh)
        #expect(equal)

        // A single nonzero byte anywhere makes it nonzero.
        for i in [0, 17, 31] {
            var k = SecretKey()
            k.withUnsafeMutableBytes { $0[i] = 1 }
            #expect(k.isZero == false, "byte \(i)")
        }
    }

    @Test func randomKeysDiffer() {
        let a = SecretKey.random(), b = SecretKey.random()
        #expect(!a.isZero && !b.isZero)
        let same = a.equals(b)
        #expect(!same)
        #expect(a.bytes != b.bytes)
    }

    /// Keys live in 32-byte slots of the secret arena: thousands of keys come and go without
    /// growing it, and a slot is zeroed before it is handed out again. (Other tests run in
    /// parallel and take slots too, so the bound on distinct addresses is loose.)
    /// A noncopyable key cannot be an Array element; this holds one per element.
    final class Holder {
        var key: SecretKey
        init(_ key: consuming SecretKey) { self.key = key }
    }

    /// Keys live in 32-byte slots of the secret arena: thousands of keys come and go without
    /// growing it, and a slot is zeroed before it is handed out again. (Other tests run in
    /// parallel and take slots too, so the bound on distinct addresses is loose.)
    @Test func arenaReusesSlots() {
        let batch = 1500
        var addresses = Set<UInt>()
        for round in 0..<20 {
            var holders: [Holder] = []
            for i in 0..<batch {
                let holder = Holder(SecretKey())
                if !holder.key.isZero { Issue.record("round \(round): slot \(i) came back dirty") }
                holder.key.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: UInt8(truncatingIfNeeded: i | 1)) }
                holders.append(holder)
            }
            let keys = holders.map { $0.key.withUnsafeBytes { UInt(bitPattern: $0.baseAddress) } }
            #expect(Set(keys).count == batch)
            #expect(keys.allSatisfy { $0 % 32 == 0 })
            // Every key is intact after all the later allocations: no two live keys share a slot.
            for (i, holder) in holders.enumerated() where holder.key.bytes != [UInt8](repeating: UInt8(truncatingIfNeeded: i | 1), count: 32) {
                Issue.record("round \(round): key \(i) was overwritten")
            }
            addresses.formUnion(keys)
        }
        // 20 × 1500 allocations, but the slots are reused: without reuse there would be 30,000
        // distinct addresses; with it, a few chunks' worth (plus whatever concurrently running
        // tests hold, hence the generous bound).
        #expect(addresses.count < 10 * batch, "\(addresses.count) distinct slots")

        // Plain churn: many short-lived keys.
        var dirty = 0
        for i in 0..<10_000 {
            var key = SecretKey()
            if !key.isZero { dirty += 1 }
            key.withUnsafeMutableBytes { $0[i % 32] = 0xFF }
        }
        #expect(dirty == 0)
    }
}

@Suite struct ConstantTimeTests {
    static func equals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.withUnsafeBytes { a in b.withUnsafeBytes { b in ConstantTime.equals(a, b) } }
    }

    static func isZero(_ a: [UInt8]) -> Bool { a.withUnsafeBytes { ConstantTime.isZero($0) } }

    @Test func equalsTruthTable() {
        let a: [UInt8] = Array(0..<32)
        #expect(Self.equals(a, a))
        #expect(Self.equals([], []))
        #expect(!Self.equals([], [0]))
        #expect(!Self.equals([0], []))
        #expect(!Self.equals(a, Array(a.dropLast())))      // prefix, different length
        #expect(!Self.equals(a, a + [0]))
        for i in [0, 15, 31] {
            var b = a
            b[i] ^= 0x01
            #expect(!Self.equals(a, b), "differs at \(i)")
            b[i] ^= 0x81
            #expect(!Self.equals(a, b), "differs at \(i)")
        }
        #expect(Self.equals([0xFF], [0xFF]))
        #expect(!Self.equals([0x7F], [0xFF]))
    }

    @Test func isZeroTruthTable() {
        #expect(Self.isZero([]))
        #expect(Self.isZero([0]))
        #expect(Self.isZero([UInt8](repeating: 0, count: 1000)))
        #expect(!Self.isZero([1]))
        #expect(!Self.isZero([0x80]))
        #expect(!Self.isZero([UInt8](repeating: 0, count: 999) + [1]))
        #expect(!Self.isZero([1] + [UInt8](repeating: 0, count: 999)))
        #expect(Bytes32.zero.isZero)
        #expect(!Bytes32([UInt8](repeating: 0, count: 31) + [1])!.isZero)
    }

    @Test func zeroize() {
        var buffer = [UInt8](repeating: 0xAB, count: 100)
        buffer.withUnsafeMutableBytes { Zeroize.clear(UnsafeMutableRawBufferPointer(rebasing: $0[10..<90])) }
        #expect(buffer == [UInt8](repeating: 0xAB, count: 10) + [UInt8](repeating: 0, count: 80) + [UInt8](repeating: 0xAB, count: 10))
        Zeroize.clear(UnsafeMutableRawBufferPointer(start: nil, count: 0))   // no-op, no crash
        var value = (UInt64.max, UInt32.max)
        Zeroize.clear(&value)
        #expect(value.0 == 0 && value.1 == 0)
        var key = Bytes32([UInt8](repeating: 7, count: 32))!
        Zeroize.clear(&key)
        #expect(key.isZero == true)
    }

    @Test func systemRandom() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        buffer.withUnsafeMutableBytes { SystemRandom.fill($0) }
        #expect(Set(buffer).count > 200)   // 4096 random bytes hit nearly all 256 values
        SystemRandom.fill(UnsafeMutableRawBufferPointer(start: nil, count: 0))
        #expect(SystemRandom.uint64() != SystemRandom.uint64())
        var generator = SystemRandomGenerator()
        let picks = (0..<64).map { _ in Int.random(in: 0..<1_000_000, using: &generator) }
        #expect(Set(picks).count > 60)
    }
}
