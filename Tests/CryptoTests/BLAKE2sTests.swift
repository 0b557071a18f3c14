import Crypto
import Foundation
import Testing

/// BLAKE2s (RFC 7693), the pure-Swift hash.
@Suite struct BLAKE2sTests {
    struct KAT {
        let input: [UInt8]
        let key: [UInt8]
        let output: String
    }

    /// Vectors/blake2/blake2s-kat.json: a JSON array of {hash, in, key, out} (hex); inputs of
    /// 0…255 bytes (00 01 02 …), unkeyed and with the key 00…1f.
    static func kats() throws -> [KAT] {
        let root = try JSONSerialization.jsonObject(with: fixture("blake2/blake2s-kat.json"))
        let entries = try #require(root as? [[String: String]], "blake2s-kat.json is not an array of string maps")
        return try entries.map { entry in
            #expect(entry["hash"] == "blake2s")
            return KAT(input: hex(try #require(entry["in"])), key: hex(try #require(entry["key"])),
                       output: try #require(entry["out"]))
        }
    }

    /// Hashes `chunks` through successive `update` calls.
    static func incremental(_ chunks: [ArraySlice<UInt8>], key: [UInt8] = [], outputLength: Int = 32) -> [UInt8] {
        var state = key.withUnsafeBytes { BLAKE2s(outputLength: outputLength, key: $0) }
        for chunk in chunks { chunk.withUnsafeBytes { state.update($0) } }
        var output = [UInt8](repeating: 0, count: outputLength)
        output.withUnsafeMutableBytes { state.finalize(into: $0) }
        return output
    }

    /// RFC 7693 Appendix B.
    @Test func rfc7693AppendixB() {
        #expect(hexString(blake2s(Array("abc".utf8))) == "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982")
    }

    @Test func everyKnownAnswer() throws {
        let kats = try Self.kats()
        #expect(kats.count == 512)
        #expect(kats.filter { $0.key.isEmpty }.count == 256)
        #expect(kats.filter { $0.key.count == 32 }.count == 256)
        for (i, kat) in kats.enumerated() {
            #expect(hexString(blake2s(kat.input, key: kat.key)) == kat.output,
                    "entry \(i): \(kat.input.count) bytes, key \(kat.key.count) bytes")
        }
    }

    /// The final block is compressed only in finalize: splitting the input anywhere (around the
    /// 64-byte block boundaries in particular) must not change the hash.
    @Test func incrementalUpdatesSplitAnywhere() throws {
        let kats = try Self.kats()
        let chosen = kats.filter { [0, 1, 63, 64, 65, 127, 128, 129, 255].contains($0.input.count) }
        #expect(chosen.count == 18)
        for kat in chosen {
            let input = kat.input
            for split in 0...input.count {
                #expect(hexString(Self.incremental([input[..<split], input[split...]], key: kat.key)) == kat.output,
                        "\(input.count) bytes split at \(split), key \(kat.key.count) bytes")
            }
            // One byte at a time, and with empty updates in between (which must not compress).
            #expect(hexString(Self.incremental(input.indices.map { input[$0...$0] }, key: kat.key)) == kat.output)
            let withEmpties = input.indices.flatMap { [input[$0...$0], input[$0..<$0]] } + [input[0..<0]]
            #expect(hexString(Self.incremental(withEmpties, key: kat.key)) == kat.output)
            // Three parts: 64-byte-aligned middle.
            if input.count >= 129 {
                #expect(hexString(Self.incremental([input[..<1], input[1..<65], input[65..<129], input[129...]], key: kat.key)) == kat.output)
            }
        }
    }

    /// The one-shot hash over several parts is the hash of their concatenation.
    @Test func oneShotParts() throws {
        let kat = try #require(try Self.kats().first { $0.input.count == 200 && $0.key.count == 32 })
        let a = Array(kat.input[..<10]), b = Array(kat.input[10..<150]), c = Array(kat.input[150...])
        var output = [UInt8](repeating: 0, count: 32)
        a.withUnsafeBytes { a in
            b.withUnsafeBytes { b in
                c.withUnsafeBytes { c in
                    kat.key.withUnsafeBytes { key in
                        output.withUnsafeMutableBytes { BLAKE2s.hash(a, b, c, key: key, into: $0) }
                    }
                }
            }
        }
        #expect(hexString(output) == kat.output)
    }

    /// Keys shorter than 32 bytes (the KAT file has only 32-byte keys). Values from Python:
    /// hashlib.blake2s(data, key=key, digest_size=n).hexdigest().
    @Test func shortKeys() {
        #expect(hexString(blake2s(Array("abc".utf8), key: [1])) == "cf4ef70bd09e3929fbe666696b3db1827a4f13370ac1c4ffc128e17aeaf23843")
        let key16 = (0..<16).map { UInt8($0) }, block = (0..<64).map { UInt8($0) }
        #expect(hexString(blake2s(block, key: key16)) == "02ba5ce93a26f31312dd2226e48e522df956817d30e797fc3dd232f6bfb5d6a2")
        #expect(hexString(blake2s(block, key: key16, outputLength: 16)) == "dd55c51c98f8ab96ed272882941f0b6a")
        // A keyed hash of nothing is the key block alone, compressed as the final block.
        #expect(hexString(blake2s([], key: (0..<32).map { UInt8($0) }, outputLength: 16)) == "9536f9b267655743dee97b8a670f9f53")
    }

    /// 16-byte outputs (WireGuard's mac1/mac2 are keyed BLAKE2s-128). The output length is a
    /// parameter of the hash, so these are not prefixes of the 32-byte hashes. Values from
    /// Python: hashlib.blake2s(data, key=key, digest_size=16).hexdigest().
    @Test func outputLength16() {
        #expect(hexString(blake2s([], outputLength: 16)) == "64550d6ffe2c0a01a14aba1eade0200c")
        #expect(hexString(blake2s(Array("abc".utf8), outputLength: 16)) == "aa4938119b1dc7b87cbad0ffd200d0ae")
        let key = (0..<32).map { UInt8($0) }, input = (0..<100).map { UInt8($0) }
        #expect(hexString(blake2s(input, key: key, outputLength: 16)) == "0b67d33f8b859c3157fbabd9e6e47ed0")
        for split in [0, 1, 36, 63, 64, 65, 99, 100] {
            #expect(hexString(Self.incremental([input[..<split], input[split...]], key: key, outputLength: 16))
                == "0b67d33f8b859c3157fbabd9e6e47ed0")
        }
        // finalize writes only outputLength bytes.
        var output = [UInt8](repeating: 0xEE, count: 32)
        Array("abc".utf8).withUnsafeBytes { input in
            output.withUnsafeMutableBytes { BLAKE2s.hash(input, outputLength: 16, into: $0) }
        }
        #expect(hexString(output) == "aa4938119b1dc7b87cbad0ffd200d0ae" + String(repeating: "ee", count: 16))
    }
}
