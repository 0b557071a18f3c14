import Crypto
import StackResidue
import Testing

/// No copy of secret material outlives its use: after each operation, neither the stack it ran on
/// nor the state it leaves holds a run of any secret it touched (keys, messages, intermediates).
@Suite struct SecretResidueTests {
    static func random(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { SystemRandom.fill($0) }
        return bytes
    }

    static func blake2s(_ parts: [UInt8]..., key: [UInt8] = []) -> [UInt8] {
        var state = key.withUnsafeBytes { BLAKE2s(key: $0) }
        for part in parts { part.withUnsafeBytes { state.update($0) } }
        var out = [UInt8](repeating: 0, count: 32)
        out.withUnsafeMutableBytes { state.finalize(into: $0) }
        return out
    }

    /// The compression function's message words and working vector, and the state's block and
    /// chaining value, are cleared once the digest is out.
    @Test(.disabled(if: stackResidueUnavailable, "under a sanitizer (StackResidue.swift)")) func blake2sLeavesNoKeyOrMessageOnTheStack() {
        let key = Self.random(32), message = Self.random(100)
        let expected = Self.blake2s(message, key: key)   // and a warm-up
        var digest = [UInt8](repeating: 0, count: 32)
        let residue = key.withUnsafeBytes { k in
            message.withUnsafeBytes { m in
                digest.withUnsafeMutableBytes { out in stackResidue { BLAKE2s.hash(m, key: k, into: out) } }
            }
        }
        #expect(digest == expected)
        #expect(residue.leaks(["key": key, "message": message, "digest": digest]) == [])
    }

    @Test func blake2sStateHoldsNothingAfterFinalize() {
        let key = Self.random(32), message = Self.random(100)
        var digest = [UInt8](repeating: 0, count: 32)
        var state = key.withUnsafeBytes { BLAKE2s(key: $0) }
        message.withUnsafeBytes { state.update($0) }
        digest.withUnsafeMutableBytes { state.finalize(into: $0) }
        let left = Residue(bytes: withUnsafeBytes(of: &state) { Array($0) })
        #expect(left.leaks(["key": key, "message": message, "digest": digest]) == [])
    }

    /// HMAC written out over the test's own BLAKE2s calls, so that its intermediates have names.
    static func hmac(_ key: [UInt8], _ message: [UInt8]) -> (innerPad: [UInt8], outerPad: [UInt8], inner: [UInt8], mac: [UInt8]) {
        let padded = key + [UInt8](repeating: 0, count: 64 - key.count)
        let innerPad = padded.map { $0 ^ 0x36 }, outerPad = padded.map { $0 ^ 0x5C }
        let inner = blake2s(innerPad, message)
        return (innerPad, outerPad, inner, blake2s(outerPad, inner))
    }

    /// HMAC's pads and inner hash, τ0 and every τi, and the input, none left on the stack.
    @Test(.disabled(if: stackResidueUnavailable, "under a sanitizer (StackResidue.swift)")) func kdfLeavesNoIntermediateOnTheStack() {
        let chainingKey = Self.random(32), input = Self.random(32)
        let (innerPad, outerPad, inner, tau0) = Self.hmac(chainingKey, input)
        let tau1 = Self.hmac(tau0, [1]).mac, tau2 = Self.hmac(tau0, tau1 + [2]).mac, tau3 = Self.hmac(tau0, tau2 + [3]).mac
        var t1 = [UInt8](repeating: 0, count: 32), t2 = t1, t3 = t1
        let residue = chainingKey.withUnsafeBytes { key in
            input.withUnsafeBytes { input in
                t1.withUnsafeMutableBytes { t1 in
                    t2.withUnsafeMutableBytes { t2 in
                        t3.withUnsafeMutableBytes { t3 in
                            stackResidue { KDF.derive(key: key, input: input, t1.baseAddress!, t2.baseAddress!, t3.baseAddress!) }
                        }
                    }
                }
            }
        }
        #expect([t1, t2, t3] == [tau1, tau2, tau3])
        #expect(residue.leaks([
            "key": chainingKey, "input": input, "inner pad": Array(innerPad[0..<32]), "outer pad": Array(outerPad[0..<32]),
            "inner hash": inner, "τ0": tau0, "τ1": tau1, "τ2": tau2, "τ3": tau3,
        ]) == [])
    }

    /// The fresh key goes straight into its locked slot: no copy of it on the stack.
    @Test(.disabled(if: stackResidueUnavailable, "under a sanitizer (StackResidue.swift)")) func generatedPrivateKeyLeavesNoCopy() {
        _ = PrivateKey.generate()   // a warm-up
        var key: PrivateKey?        // (nil: no old key's release to cover the stack)
        let residue = stackResidue { key = PrivateKey.generate() }
        // Clamping changes the first and last bytes; the 30 between are the key as drawn.
        let middle = key!.secret.withUnsafeBytes { Array($0[1..<31]) }
        #expect(residue.leaks(["private key": middle]) == [])
    }

    /// A key decoded from text exists once, in its slot; and the text encoders make no copy of
    /// the key's text besides the string they return.
    @Test(.disabled(if: stackResidueUnavailable, "under a sanitizer (StackResidue.swift)")) func decodedKeysLeaveNoCopy() throws {
        let key = Self.random(32)
        let base64 = key.withUnsafeBytes { KeyEncoding.base64($0) }, hex = key.withUnsafeBytes { KeyEncoding.hex($0) }
        _ = KeyEncoding.secretFromBase64(base64.utf8)   // a warm-up
        var fromBase64: SecretKey?, fromHex: SecretKey?
        let residue = stackResidue {
            fromBase64 = KeyEncoding.secretFromBase64(base64.utf8)
            fromHex = KeyEncoding.secretFromHex(hex.utf8)
        }
        #expect(fromBase64?.bytes == key && fromHex?.bytes == key)
        #expect(residue.leaks(["key": key]) == [])
    }
}
