import Testing
import Crypto
import StackResidue
@testable import Protocol

/// Keys from `wg`, and the cookies that prove a source address, leave no copy on the stack they
/// were handled on.
@Suite struct SecretResidueTests {
    static func random(_ count: Int = 32) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { SystemRandom.fill($0) }
        return bytes
    }

    static func bytes(_ key: borrowing SecretKey) -> [UInt8] { key.withUnsafeBytes { Array($0) } }

    /// The 30 bytes that clamping leaves as they were.
    static func unclamped(_ key: [UInt8]) -> [UInt8] { Array(key[1..<31]) }

    @Test(.disabled(if: stackResidueUnavailable, "under a sanitizer (StackResidue.swift)")) func uapiPrivateKeyLeavesNoCopy() throws {
        let key = Self.random()
        let line = "private_key=\(hexString(key))"
        var request = UAPISet(config: DeviceConfig())
        try request.apply(line: "private_key=\(hexString(Self.random()))"[...])   // a warm-up
        let residue = try stackResidue { try request.apply(line: line[...]) }
        #expect(request.config.privateKey.map { Self.bytes($0.secret) }.map(Self.unclamped) == Self.unclamped(key))
        #expect(residue.leaks(["private key": Self.unclamped(key)]) == [])
    }

    @Test(.disabled(if: stackResidueUnavailable, "under a sanitizer (StackResidue.swift)")) func uapiPresharedKeyLeavesNoCopy() throws {
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

    /// Checking mac2 and answering with a cookie reply make the source's cookie in scratch and in
    /// the reply (where it is encrypted in place): no copy of it stays behind.
    @Test(.disabled(if: stackResidueUnavailable, "under a sanitizer (StackResidue.swift)")) func cookiesLeaveNoCopy() throws {
        let responder = PrivateKey.generate().publicKey
        var checker = CookieChecker(publicKey: responder)
        let secret = Self.random()
        secret.withUnsafeBytes { checker.setSecret($0, now: .zero) }
        let source = Endpoint("192.0.2.1:51820")!
        // keyed-BLAKE2s-128(secret, address ‖ port big endian), computed here; mac2 made with it
        // below proves it is the checker's cookie.
        var cookie = [UInt8](repeating: 0, count: 16)
        let message: [UInt8] = [192, 0, 2, 1, 0xCA, 0x6C]
        secret.withUnsafeBytes { key in
            message.withUnsafeBytes { m in cookie.withUnsafeMutableBytes { BLAKE2s.hash(m, outputLength: 16, key: key, into: $0) } }
        }
        var packet = Self.random(InitiationLayout.length)
        var maker = CookieMaker(remoteStatic: responder)
        packet.withUnsafeMutableBytes { packet in
            maker.addMACs(to: packet, now: .zero)
            let mac2 = packet.count - 16
            cookie.withUnsafeBytes { key in
                BLAKE2s.hash(UnsafeRawBufferPointer(rebasing: packet[0..<mac2]), outputLength: 16, key: key,
                             into: UnsafeMutableRawBufferPointer(rebasing: packet[mac2...]))
            }
        }
        let aead = ChaCha20Poly1305()
        let nonce = Self.random(XChaCha20Poly1305.nonceLength)
        var reply = [UInt8](repeating: 0, count: CookieReplyLayout.length)
        func checkAndReply() -> MACState {
            packet.withUnsafeBytes { packet in
                let state = checker.validate(packet, source: source, checkCookie: true, now: .zero)
                reply.withUnsafeMutableBytes { out in
                    nonce.withUnsafeBytes { checker.createReply(into: out, for: packet, source: source, nonce: $0, now: .zero, using: aead) }
                }
                return state
            }
        }
        #expect(checkAndReply() == .validCookie)   // and a warm-up
        var state = MACState.invalid
        let residue = stackResidue { state = checkAndReply() }
        #expect(state == .validCookie)
        #expect(residue.leaks(["cookie": cookie]) == [])
    }
}
