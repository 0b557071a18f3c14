import Crypto
import Testing

/// HMAC-BLAKE2s and WireGuard's KDF1/2/3. There are no official vectors; the expected values were
/// produced with Python's standard library (gen script, kept here for reference):
///
///     import hmac, hashlib
///     def H(k, m): return hmac.new(k, m, hashlib.blake2s).digest()
///     def kdf(key, inp):
///         t0 = H(key, inp); t1 = H(t0, b"\x01"); t2 = H(t0, t1 + b"\x02"); t3 = H(t0, t2 + b"\x03")
///         return t1, t2, t3
///
/// with the keys and inputs written below.
@Suite struct KDFTests {
    static func hmac(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: 32)
        key.withUnsafeBytes { k in
            message.withUnsafeBytes { m in
                output.withUnsafeMutableBytes { KDF.hmac(key: k, m, into: $0.baseAddress!) }
            }
        }
        return output
    }

    struct HMACVector: Sendable {
        let key: [UInt8], message: [UInt8], mac: String
    }

    static let hmacVectors: [HMACVector] = [
        // H(b"", b"")
        HMACVector(key: [], message: [], mac: "eaf4bb25938f4d20e72656bbbc7a9bf63c0c18537333c35bdb67db1402661acd"),
        // H(bytes(range(32)), b"abc")
        HMACVector(key: Array(0..<32), message: Array("abc".utf8),
                   mac: "82623be5bc0a391b24dce53e67d028eff92d586de0485ac37822e597d049c74f"),
        // H(bytes(range(64)), bytes(range(100))): a key of exactly one block
        HMACVector(key: Array(0..<64), message: Array(0..<100),
                   mac: "647576eb06d7546ce6db9b3c0c1509a64cc7fae9cb732ee3845e7b486ad26edc"),
        // H(b"\x01", bytes(range(200, 256)) * 3)
        HMACVector(key: [1], message: Array(200...255) + Array(200...255) + Array(200...255),
                   mac: "9fb4e8fdb2996d570f14d90c1b06f3f35c01430150294d49d0179e86962525c2"),
        // H(bytes(range(0x40, 0x60)), bytes(64))
        HMACVector(key: Array(0x40..<0x60), message: [UInt8](repeating: 0, count: 64),
                   mac: "6284a07b76810d3f137c6229e5f83fbda68cc1966f22d90cc5a91396385ccc66"),
    ]

    @Test(arguments: hmacVectors)
    func hmacBLAKE2s(vector: HMACVector) {
        #expect(hexString(Self.hmac(key: vector.key, vector.message)) == vector.mac)
    }

    /// Several parts are hashed as their concatenation.
    @Test func hmacParts() {
        let vector = Self.hmacVectors[2]
        let a = Array(vector.message[..<37]), b = Array(vector.message[37...])
        var output = [UInt8](repeating: 0, count: 32)
        vector.key.withUnsafeBytes { k in
            a.withUnsafeBytes { a in
                b.withUnsafeBytes { b in
                    output.withUnsafeMutableBytes { KDF.hmac(key: k, a, b, into: $0.baseAddress!) }
                }
            }
        }
        #expect(hexString(output) == vector.mac)
    }

    struct KDFVector: Sendable {
        let key: [UInt8], input: [UInt8], t1: String, t2: String, t3: String
    }

    static let kdfVectors: [KDFVector] = [
        // kdf(bytes(range(32)), bytes(range(0x20, 0x40)))
        KDFVector(key: Array(0..<32), input: Array(0x20..<0x40),
                  t1: "6a96444e20e8d4c1cee974416acae1c10b3c92886010e54ed94dafb2c3b80ea0",
                  t2: "57af120b0de7acbe7907ec149c5ae870a2dbb74232b65777ba4123f1f7f888f5",
                  t3: "0926c7caabb6e8d73beda759e6f4f0d324ce5b5000bcf8cd784b26db3049faa9"),
        // kdf(hashlib.blake2s(b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s").digest(), b""):
        // an empty input, as when deriving the transport keys.
        KDFVector(key: hex("60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36"), input: [],
                  t1: "bd968725a9177942a8c2e4253d1dde31cf7b19ec001b4a3a3d141cd9d998d3ba",
                  t2: "aab5462b323780fa615bf80ffe469510239ff361575a663968e686a7ae41d693",
                  t3: "ae1e06e0931da10b9971bab8e282b42307522b38c0f4492cdd1bf44298126887"),
        // kdf(bytes(32), bytes(range(7)))
        KDFVector(key: [UInt8](repeating: 0, count: 32), input: Array(0..<7),
                  t1: "e82c8912d8c09fb23eb9e919f599fe724544c702bb1067f30f2c46301b11ef43",
                  t2: "846a526bb495ad696d323a651aff3be6cdd0cda7af71d83832ba4c303ba217f9",
                  t3: "c72d67398d51f4fe16ccebd8b49974d76bad1cc55c836f6a80e95a6437c15f2d"),
    ]

    @Test(arguments: kdfVectors)
    func kdf1_2_3(vector: KDFVector) {
        var t1 = [UInt8](repeating: 0, count: 32), t2 = t1, t3 = t1
        vector.key.withUnsafeBytes { k in
            vector.input.withUnsafeBytes { i in
                t1.withUnsafeMutableBytes { t1 in
                    t2.withUnsafeMutableBytes { t2 in
                        t3.withUnsafeMutableBytes { t3 in
                            KDF.derive(key: k, input: i, t1.baseAddress!, t2.baseAddress!, t3.baseAddress!)
                        }
                    }
                }
            }
        }
        #expect(hexString(t1) == vector.t1)
        #expect(hexString(t2) == vector.t2)
        #expect(hexString(t3) == vector.t3)

        // KDF1 and KDF2 write only what they are given, and agree with KDF3.
        var only1 = [UInt8](repeating: 0xAA, count: 64)
        vector.key.withUnsafeBytes { k in
            vector.input.withUnsafeBytes { i in
                only1.withUnsafeMutableBytes { KDF.derive(key: k, input: i, $0.baseAddress!) }
            }
        }
        #expect(hexString(only1) == vector.t1 + String(repeating: "aa", count: 32))
        var pair = [UInt8](repeating: 0xAA, count: 96)
        vector.key.withUnsafeBytes { k in
            vector.input.withUnsafeBytes { i in
                pair.withUnsafeMutableBytes { KDF.derive(key: k, input: i, $0.baseAddress!, $0.baseAddress! + 32) }
            }
        }
        #expect(hexString(pair) == vector.t1 + vector.t2 + String(repeating: "aa", count: 32))
    }

    /// ck ← KDF(ck, …): the first output may be the key's own memory.
    @Test(arguments: kdfVectors)
    func outputMayAliasTheKey(vector: KDFVector) {
        // In a SecretKey, as the handshake does it: (ck, k) = KDF2(ck, dh).
        var chainingKey = SecretKey(vector.key)
        var key = SecretKey()
        chainingKey.withUnsafeMutableBytes { ck in
            key.withUnsafeMutableBytes { k in
                vector.input.withUnsafeBytes { i in
                    KDF.derive(key: UnsafeRawBufferPointer(ck), input: i, ck.baseAddress!, k.baseAddress!)
                }
            }
        }
        #expect(hexString(chainingKey.bytes) == vector.t1)
        #expect(hexString(key.bytes) == vector.t2)

        // KDF3 in one array, the key being the first output.
        var buffer = vector.key + [UInt8](repeating: 0, count: 64)
        vector.input.withUnsafeBytes { i in
            buffer.withUnsafeMutableBytes { b in
                KDF.derive(key: UnsafeRawBufferPointer(rebasing: b[0..<32]), input: i, b.baseAddress!, b.baseAddress! + 32, b.baseAddress! + 64)
            }
        }
        #expect(hexString(buffer) == vector.t1 + vector.t2 + vector.t3)

        // HMAC writing over its own key.
        var macKey = vector.key
        macKey.withUnsafeMutableBytes { k in
            vector.input.withUnsafeBytes { i in KDF.hmac(key: UnsafeRawBufferPointer(k), i, into: k.baseAddress!) }
        }
        #expect(macKey == Self.hmac(key: vector.key, vector.input))
    }
}
