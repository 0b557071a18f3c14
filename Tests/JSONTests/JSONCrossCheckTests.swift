import Glibc
import Testing
import JSON

/// Our accept/refuse decisions against Python's json module (made as strict, Fixtures/
/// crosscheck.py) on texts that are random values' canonical text with a few random edits:
/// most edits break the text, some in the ways RFC 8259 is subtle about. Skipped without python3.
@Suite("JSON cross-check")
struct JSONCrossCheckTests {
    static let script = String(#filePath.dropLast("JSONCrossCheckTests.swift".count)) + "Fixtures/crosscheck.py"

    @Test(.enabled(if: access("/usr/bin/python3", X_OK) == 0))
    func agreesWithPython() throws {
        var random = SeededGenerator(seed: 8259)
        var corpus: [[UInt8]] = []
        for _ in 0..<3000 {
            var bytes = Array(JSON.encode(JSONEncoderTests.randomValue(depth: 20, &random)).utf8)
            for _ in 0..<Int.random(in: 0...3, using: &random) { Self.mutate(&bytes, &random) }
            corpus.append(bytes)
        }
        let verdicts = try Self.python(corpus)
        try #require(verdicts.count == corpus.count)
        var disagreements = 0
        for (text, python) in zip(corpus, verdicts) {
            let ours = (try? JSON.parse(text)) != nil
            if ours != python {
                disagreements += 1
                Issue.record("ours \(ours), Python \(python): \(String(decoding: text, as: UTF8.self).debugDescription)")
            }
            if disagreements > 5 { break }
        }
        // Both outcomes must be well represented, or the corpus tests nothing.
        #expect(verdicts.filter { $0 }.count > 300 && verdicts.filter { !$0 }.count > 300)
    }

    /// One edit at a random place: a byte deleted, or one of the bytes JSON is strict about
    /// inserted or put in place.
    static func mutate(_ bytes: inout [UInt8], _ random: inout SeededGenerator) {
        let tricky: [[UInt8]] = [[0x2C], [0x5D], [0x7D], [0x22], [0x5C], [0x30], [0x2D], [0x2E], [0x65], [0x0A], [0x09], [0x00],
                                 [0x20], Array("\\ud800".utf8), Array("\\udc00".utf8), Array("\\u00".utf8), [0xC0, 0xAF],
                                 [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xC3], [0x80], [0xFF], Array("NaN".utf8),
                                 Array("//".utf8), Array("\"a\":1,".utf8), [0xEF, 0xBB, 0xBF]]
        let at = Int.random(in: 0...bytes.count, using: &random)
        switch Int.random(in: 0..<3, using: &random) {
        case 0 where at < bytes.count: bytes.remove(at: at)
        case 1 where at < bytes.count: bytes.replaceSubrange(at...at, with: tricky.randomElement(using: &random)!)
        default: bytes.insert(contentsOf: tricky.randomElement(using: &random)!, at: at)
        }
    }

    /// Runs the script over the corpus, one hex line per text, through files (no pipes to
    /// juggle): its verdict for each.
    static func python(_ corpus: [[UInt8]]) throws -> [Bool] {
        var template = Array("/tmp/wgd-jsoncheck-XXXXXX".utf8CString)
        let directory = String(cString: mkdtemp(&template)!)
        defer { _ = system("rm -rf '\(directory)'") }
        let hexDigits = Array("0123456789abcdef".utf8)
        var input: [UInt8] = []
        for text in corpus {
            for byte in text { input += [hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 15)]] }
            input.append(0x0A)
        }
        let fd = open(directory + "/in", O_WRONLY | O_CREAT, 0o600)
        _ = input.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
        let status = system("python3 '\(script)' < '\(directory)/in' > '\(directory)/out'")
        try #require(status == 0, "crosscheck.py failed")
        let out = open(directory + "/out", O_RDONLY)
        defer { close(out) }
        var verdicts: [Bool] = []
        var byte: UInt8 = 0
        while Glibc.read(out, &byte, 1) == 1 {
            if byte == UInt8(ascii: "1") || byte == UInt8(ascii: "0") { verdicts.append(byte == UInt8(ascii: "1")) }
        }
        return verdicts
    }
}
