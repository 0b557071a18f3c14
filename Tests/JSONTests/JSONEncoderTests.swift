import Testing
import JSON

/// SplitMix64, so that a failing randomized case names a seed that reproduces it.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("JSON encoder")
struct JSONEncoderTests {
    @Test func canonicalLayout() {
        let value = JSONValue.object([
            ("version", .integer(1)),
            ("name", .string("wg0")),
            ("list", .array([.number("1"), .bool(true), .null])),
            ("empty", .array([])),
            ("nested", .object([("none", .object([]))])),
        ])
        #expect(JSON.encode(value) == """
        {
          "version": 1,
          "name": "wg0",
          "list": [
            1,
            true,
            null
          ],
          "empty": [],
          "nested": {
            "none": {}
          }
        }

        """)
        #expect(JSON.encode(.array([])) == "[]\n")
        #expect(JSON.encode(.string("x")) == "\"x\"\n")
    }

    @Test func escapesOnlyWhatItMust() {
        let value = JSONValue.string("\" \\ / \u{08} \u{0C} \n \r \t \u{00} \u{1F} \u{7F} é 😀")
        #expect(JSON.encode(value) == #""\" \\ / \b \f \n \r \t \u0000 \u001f "# + "\u{7F} é 😀\"\n")
    }

    @Test func canonicalTextRoundTrips() throws {
        let text = """
        {
          "a": [
            {
              "b": "c\\n",
              "d": -1.5e3
            },
            []
          ],
          "e": false
        }

        """
        #expect(JSON.encode(try JSON.parse(Array(text.utf8))) == text)
    }

    /// Random values (every kind, strings with escapes, non-ASCII and surrogate pairs, nesting up
    /// to the limit) come back equal from their own text.
    @Test(arguments: 0..<20)
    func randomRoundTrip(seed: UInt64) throws {
        var random = SeededGenerator(seed: seed)
        for _ in 0..<50 {
            let value = Self.randomValue(depth: 0, &random)
            let text = JSON.encode(value)
            let parsed = try JSON.parse(Array(text.utf8))
            #expect(parsed == value, "seed \(seed)")
            #expect(JSON.encode(parsed) == text, "seed \(seed)")
        }
    }

    static func randomValue(depth: Int, _ random: inout SeededGenerator) -> JSONValue {
        let kinds = depth >= 31 ? 4 : 6
        switch Int.random(in: 0..<kinds, using: &random) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &random))
        case 2: return .number(randomNumber(&random))
        case 3: return .string(randomString(&random))
        case 4:
            return .array((0..<Int.random(in: 0...4, using: &random)).map { _ in randomValue(depth: depth + 1, &random) })
        default:
            var members: [(String, JSONValue)] = []
            for i in 0..<Int.random(in: 0...4, using: &random) {
                // Keys must be distinct: a prefix of the index makes them so.
                members.append(("\(i)" + randomString(&random), randomValue(depth: depth + 1, &random)))
            }
            return .object(members)
        }
    }

    static func randomNumber(_ random: inout SeededGenerator) -> String {
        var text = Bool.random(using: &random) ? "-" : ""
        text += Bool.random(using: &random) ? "0" : String(UInt64.random(in: 1...UInt64.max, using: &random))
        if Bool.random(using: &random) { text += "." + String(UInt32.random(in: 0...999_999, using: &random)) }
        if Bool.random(using: &random) { text += ["e", "E", "e+", "e-"].randomElement(using: &random)! + String(Int.random(in: 0...400, using: &random)) }
        return text
    }

    static func randomString(_ random: inout SeededGenerator) -> String {
        let pool: [Unicode.Scalar] = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u{00}", "\u{1F}", "\u{7F}", "é", "\u{7FF}",
                                      "\u{800}", "€", "\u{FFFF}", "😀", "\u{10FFFF}"]
        var s = String.UnicodeScalarView()
        for _ in 0..<Int.random(in: 0...12, using: &random) { s.append(pool.randomElement(using: &random)!) }
        return String(s)
    }
}
