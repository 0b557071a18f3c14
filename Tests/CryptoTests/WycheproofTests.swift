import Crypto
import Testing

/// Project Wycheproof vectors (Vectors/wycheproof, see Vectors/README.md).
@Suite struct WycheproofTests {
    struct Counts: Equatable, CustomStringConvertible {
        var valid = 0, invalid = 0, skipped = 0
        var description: String { "valid \(valid), invalid \(invalid), skipped \(skipped)" }
    }

    /// Runs every AEAD case whose nonce has `nonceLength` bytes: a valid case must seal to exactly
    /// ct ‖ tag and open; an invalid one must not open. Cases with another nonce length are
    /// skipped (the API takes only this length) and must all be invalid ones.
    static func runAEAD(file: String, nonceLength: Int,
                        seal: (borrowing ChaCha20Poly1305, [UInt8], [UInt8], [UInt8], [UInt8]) -> [UInt8],
                        open: (borrowing ChaCha20Poly1305, [UInt8], [UInt8], [UInt8], [UInt8], [UInt8]) -> [UInt8]?) throws -> Counts {
        let aead = ChaCha20Poly1305()
        var counts = Counts()
        for test in try wycheproofCases(file) {
            let key = try test.bytes("key"), iv = try test.bytes("iv"), aad = try test.bytes("aad")
            let msg = try test.bytes("msg"), ct = try test.bytes("ct"), tag = try test.bytes("tag")
            guard iv.count == nonceLength else {
                #expect(test.result == "invalid", "tcId \(test.id): skipped a \(test.result) case")
                #expect(test.group["ivSize"] as? Int != nonceLength * 8)
                counts.skipped += 1
                continue
            }
            #expect(key.count == 32 && tag.count == 16, "tcId \(test.id)")
            switch test.result {
            case "valid":
                counts.valid += 1
                #expect(hexString(seal(aead, key, iv, msg, aad)) == hexString(ct + tag), "tcId \(test.id): seal")
                #expect(open(aead, key, iv, ct, tag, aad) == msg, "tcId \(test.id): open")
            case "invalid":
                counts.invalid += 1
                #expect(open(aead, key, iv, ct, tag, aad) == nil, "tcId \(test.id): opened an invalid case")
            default:
                Issue.record("tcId \(test.id): unexpected result \(test.result)")
            }
        }
        return counts
    }

    @Test func chacha20Poly1305() throws {
        let counts = try Self.runAEAD(
            file: "wycheproof/chacha20_poly1305_test.json", nonceLength: ChaCha20Poly1305.nonceLength,
            seal: { aeadSeal($0, key: $1, nonce: $2, plaintext: $3, aad: $4) },
            open: { aeadOpen($0, key: $1, nonce: $2, ciphertext: $3, tag: $4, aad: $5) })
        #expect(counts.valid > 0 && counts.invalid > 0)
        // As of the vendored commit (dac1dd4729fd): 325 cases, 9 of them with a nonce that is not 12 bytes.
        #expect(counts == Counts(valid: 256, invalid: 60, skipped: 9), "\(counts)")
    }

    @Test func xchacha20Poly1305() throws {
        let counts = try Self.runAEAD(
            file: "wycheproof/xchacha20_poly1305_test.json", nonceLength: XChaCha20Poly1305.nonceLength,
            seal: { xaeadSeal($0, key: $1, nonce: $2, plaintext: $3, aad: $4) },
            open: { xaeadOpen($0, key: $1, nonce: $2, ciphertext: $3, tag: $4, aad: $5) })
        #expect(counts.valid > 0 && counts.invalid > 0)
        // 315 cases, 9 of them with a nonce that is not 24 bytes.
        #expect(counts == Counts(valid: 246, invalid: 60, skipped: 9), "\(counts)")
    }

    /// Every case: an all-zero expected secret (a low-order public key) must give nil, since
    /// WireGuard refuses those; any other must give exactly the expected bytes, whether the case is
    /// `valid` or `acceptable` (non-canonical or twist points, which X25519 handles as RFC 7748
    /// says). An `invalid` case, if any appears, must not give its expected output.
    @Test func x25519() throws {
        var valid = 0, acceptable = 0, invalid = 0, refused = 0
        for test in try wycheproofCases("wycheproof/x25519_test.json") {
            let privateKey = try test.bytes("private"), publicKey = try test.bytes("public"), shared = try test.bytes("shared")
            #expect(privateKey.count == 32 && publicKey.count == 32 && shared.count == 32, "tcId \(test.id)")
            guard privateKey.count == 32, let point = Bytes32(publicKey) else { continue }
            let secret = SecretKey(privateKey)
            let result: [UInt8]?
            if let out = X25519.sharedSecret(secret, PublicKey(point)) { result = out.bytes } else { result = nil }
            switch test.result {
            case "valid": valid += 1
            case "acceptable": acceptable += 1
            case "invalid":
                invalid += 1
                #expect(result != shared, "tcId \(test.id): invalid case gave the expected output")
                continue
            default: Issue.record("tcId \(test.id): unexpected result \(test.result)")
            }
            if shared.allSatisfy({ $0 == 0 }) {
                refused += 1
                #expect(result == nil, "tcId \(test.id): all-zero secret not refused")
            } else {
                #expect(result.map(hexString) == hexString(shared), "tcId \(test.id) (\(test.result))")
            }
        }
        #expect(valid > 0 && acceptable > 0 && refused > 0)
        // As of the vendored commit: 518 cases, 264 valid and 254 acceptable, 31 of them low order.
        #expect(valid == 264 && acceptable == 254 && invalid == 0 && refused == 31,
                "valid \(valid), acceptable \(acceptable), invalid \(invalid), low order \(refused)")
    }
}
