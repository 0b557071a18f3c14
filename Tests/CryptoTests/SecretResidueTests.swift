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
    @Test func blake2sLeavesNoKeyOrMessageOnTheStack() {
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
}
