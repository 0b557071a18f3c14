import Testing
import Crypto
import StackResidue
@testable import Protocol

/// Keys from `wg` leave no copy on the stack they were decoded on.
@Suite struct SecretResidueTests {
    static func random(_ count: Int = 32) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { SystemRandom.fill($0) }
        return bytes
    }

    static func bytes(_ key: borrowing SecretKey) -> [UInt8] { key.withUnsafeBytes { Array($0) } }

    /// The 30 bytes that clamping leaves as they were.
    static func unclamped(_ key: [UInt8]) -> [UInt8] { Array(key[1..<31]) }

    @Test func uapiPrivateKeyLeavesNoCopy() throws {
        let key = Self.random()
        let line = "private_key=\(hexString(key))"
        var request = UAPISet(config: DeviceConfig())
        try request.apply(line: "private_key=\(hexString(Self.random()))"[...])   // a warm-up
        let residue = try stackResidue { try request.apply(line: line[...]) }
        #expect(request.config.privateKey.map { Self.bytes($0.secret) }.map(Self.unclamped) == Self.unclamped(key))
        #expect(residue.leaks(["private key": Self.unclamped(key)]) == [])
    }

    @Test func uapiPresharedKeyLeavesNoCopy() throws {
        let key = Self.random()
        let peer = PrivateKey.generate().publicKey
        var request = UAPISet(config: DeviceConfig())
        try request.apply(line: "public_key=\(KeyEncoding.hex(peer.bytes))"[...])
        try request.apply(line: "preshared_key=\(hexString(Self.random()))"[...])   // a warm-up
        let line = "preshared_key=\(hexString(key))"
        let residue = try stackResidue { try request.apply(line: line[...]) }
        #expect(request.config.peer(peer)?.presharedKey.map { Self.bytes($0.secret) } == key)
        #expect(residue.leaks(["preshared key": key]) == [])
    }
}
