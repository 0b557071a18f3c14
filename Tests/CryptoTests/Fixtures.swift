import Crypto
import Foundation
import Testing

// Helpers shared by the crypto tests: hex literals, the vector files under Vectors/ (found next to
// this source file, so the tests never depend on the working directory), and byte-array wrappers
// around the pointer-based Crypto API.

/// Bytes from a hex literal (whitespace ignored). A malformed literal is a bug in the test itself.
func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.utf8.filter { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\n") })
    precondition(digits.count % 2 == 0, "odd-length hex literal")
    func value(_ c: UInt8) -> UInt8 {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: preconditionFailure("bad hex digit in test literal")
        }
    }
    return stride(from: 0, to: digits.count, by: 2).map { value(digits[$0]) << 4 | value(digits[$0 + 1]) }
}

/// Lowercase hex of some bytes: compared as strings so that a failure prints readable values.
func hexString(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

/// The bytes of `Vectors/<name>`.
func fixture(_ name: String) throws -> Data {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Vectors").appendingPathComponent(name)
    return try Data(contentsOf: url)
}

/// A JSON object from `Vectors/<name>`.
func jsonFixture(_ name: String) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: fixture(name))
    return try #require(object as? [String: Any], "\(name) is not a JSON object")
}

/// One Wycheproof test case: the whole `tests[]` entry, plus its group's fields.
struct WycheproofCase {
    let fields: [String: Any]
    let group: [String: Any]

    var id: Int { fields["tcId"] as? Int ?? -1 }
    var result: String { fields["result"] as? String ?? "" }
    func bytes(_ key: String) throws -> [UInt8] {
        hex(try #require(fields[key] as? String, "tcId \(id) has no \(key)"))
    }
}

/// Every case of a Wycheproof file (`testGroups[].tests[]`), checked against `numberOfTests`.
func wycheproofCases(_ name: String) throws -> [WycheproofCase] {
    let root = try jsonFixture(name)
    let groups = try #require(root["testGroups"] as? [[String: Any]], "\(name): no testGroups")
    var cases: [WycheproofCase] = []
    for group in groups {
        let tests = try #require(group["tests"] as? [[String: Any]], "\(name): a group has no tests")
        cases += tests.map { WycheproofCase(fields: $0, group: group) }
    }
    #expect(cases.count == root["numberOfTests"] as? Int, "\(name): case count differs from numberOfTests")
    return cases
}

// MARK: - The Crypto API over byte arrays

extension Bytes32 {
    /// From a 64-digit hex literal.
    init(hex text: String) {
        self.init(hex(text))!
    }
}

extension SecretKey {
    init(_ bytes: [UInt8]) {
        precondition(bytes.count == SecretKey.count)
        self.init()
        withUnsafeMutableBytes { $0.copyBytes(from: bytes) }
    }

    var bytes: [UInt8] { withUnsafeBytes { Array($0) } }
}

/// ChaCha20-Poly1305 with an explicit 12-byte nonce: returns ciphertext ‖ tag.
func aeadSeal(_ aead: borrowing ChaCha20Poly1305, key: [UInt8], nonce: [UInt8], plaintext: [UInt8], aad: [UInt8]) -> [UInt8] {
    precondition(key.count == 32 && nonce.count == 12)
    var buffer = plaintext + [UInt8](repeating: 0, count: ChaCha20Poly1305.tagLength)
    buffer.withUnsafeMutableBytes { out in
        let message = UnsafeMutableRawBufferPointer(rebasing: out[0..<plaintext.count])
        key.withUnsafeBytes { k in
            nonce.withUnsafeBytes { n in
                aad.withUnsafeBytes { a in
                    aead.seal(key: k.baseAddress!, nonce: n.baseAddress!, message: message,
                              tag: out.baseAddress! + plaintext.count, aad: a)
                }
            }
        }
    }
    return buffer
}

/// ChaCha20-Poly1305 open with an explicit 12-byte nonce: the plaintext, or nil.
func aeadOpen(_ aead: borrowing ChaCha20Poly1305, key: [UInt8], nonce: [UInt8], ciphertext: [UInt8],
              tag: [UInt8], aad: [UInt8]) -> [UInt8]? {
    precondition(key.count == 32 && nonce.count == 12 && tag.count == ChaCha20Poly1305.tagLength)
    var message = ciphertext
    let ok = message.withUnsafeMutableBytes { m in
        key.withUnsafeBytes { k in
            nonce.withUnsafeBytes { n in
                tag.withUnsafeBytes { t in
                    aad.withUnsafeBytes { a in
                        aead.open(key: k.baseAddress!, nonce: n.baseAddress!, message: m, tag: t.baseAddress!, aad: a)
                    }
                }
            }
        }
    }
    return ok ? message : nil
}

/// XChaCha20-Poly1305 with a 24-byte nonce: returns ciphertext ‖ tag.
func xaeadSeal(_ aead: borrowing ChaCha20Poly1305, key: [UInt8], nonce: [UInt8], plaintext: [UInt8], aad: [UInt8]) -> [UInt8] {
    precondition(key.count == 32 && nonce.count == XChaCha20Poly1305.nonceLength)
    var buffer = plaintext + [UInt8](repeating: 0, count: ChaCha20Poly1305.tagLength)
    buffer.withUnsafeMutableBytes { out in
        let message = UnsafeMutableRawBufferPointer(rebasing: out[0..<plaintext.count])
        key.withUnsafeBytes { k in
            nonce.withUnsafeBytes { n in
                aad.withUnsafeBytes { a in
                    XChaCha20Poly1305.seal(key: k.baseAddress!, nonce: n.baseAddress!, message: message,
                                           tag: out.baseAddress! + plaintext.count, aad: a, using: aead)
                }
            }
        }
    }
    return buffer
}

/// XChaCha20-Poly1305 open with a 24-byte nonce: the plaintext, or nil.
func xaeadOpen(_ aead: borrowing ChaCha20Poly1305, key: [UInt8], nonce: [UInt8], ciphertext: [UInt8],
               tag: [UInt8], aad: [UInt8]) -> [UInt8]? {
    precondition(key.count == 32 && nonce.count == XChaCha20Poly1305.nonceLength && tag.count == ChaCha20Poly1305.tagLength)
    var message = ciphertext
    let ok = message.withUnsafeMutableBytes { m in
        key.withUnsafeBytes { k in
            nonce.withUnsafeBytes { n in
                tag.withUnsafeBytes { t in
                    aad.withUnsafeBytes { a in
                        XChaCha20Poly1305.open(key: k.baseAddress!, nonce: n.baseAddress!, message: m,
                                               tag: t.baseAddress!, aad: a, using: aead)
                    }
                }
            }
        }
    }
    return ok ? message : nil
}

/// BLAKE2s of `input` in one update.
func blake2s(_ input: [UInt8], key: [UInt8] = [], outputLength: Int = 32) -> [UInt8] {
    var output = [UInt8](repeating: 0, count: outputLength)
    key.withUnsafeBytes { k in
        input.withUnsafeBytes { i in
            output.withUnsafeMutableBytes { BLAKE2s.hash(i, outputLength: outputLength, key: k, into: $0) }
        }
    }
    return output
}

/// X25519 over hex literals: the shared secret's bytes, or nil.
func x25519(_ scalar: [UInt8], _ point: [UInt8]) -> [UInt8]? {
    let secret = SecretKey(scalar)
    guard let shared = X25519.sharedSecret(secret, PublicKey(Bytes32(point)!)) else { return nil }
    return shared.bytes
}
