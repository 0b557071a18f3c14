import Testing
import JSON

@Suite("JSON parser")
struct JSONParserTests {
    static func parse(_ text: String, limits: JSON.Limits = JSON.Limits()) throws(JSONError) -> JSONValue {
        try JSON.parse(Array(text.utf8), limits: limits)
    }

    /// The parse error of `bytes`, which must not parse.
    static func failure(_ bytes: [UInt8], limits: JSON.Limits = JSON.Limits()) -> JSONError? {
        do {
            _ = try JSON.parse(bytes, limits: limits)
            return nil
        } catch {
            return error
        }
    }

    // MARK: RFC 8259's own examples (section 13)

    @Test func rfcObjectExample() throws {
        let text = """
        {
          "Image": {
            "Width":  800,
            "Height": 600,
            "Title":  "View from 15th Floor",
            "Thumbnail": {
              "Url":    "http://www.example.com/image/481989943",
              "Height": 125,
              "Width":  100
            },
            "Animated" : false,
            "IDs": [116, 943, 234, 38793]
          }
        }
        """
        let value = try Self.parse(text)
        guard case .object(let top) = value, top.count == 1, top[0].0 == "Image", case .object(let image) = top[0].1 else {
            Issue.record("not the expected shape: \(value)")
            return
        }
        #expect(image.map(\.0) == ["Width", "Height", "Title", "Thumbnail", "Animated", "IDs"])
        #expect(image[0].1.integer(as: UInt16.self) == 800)
        #expect(image[2].1 == .string("View from 15th Floor"))
        #expect(image[4].1 == .bool(false))
        #expect(image[5].1 == .array([.number("116"), .number("943"), .number("234"), .number("38793")]))
    }

    @Test func rfcArrayExample() throws {
        let text = """
        [
          {
             "precision": "zip",
             "Latitude":  37.7668,
             "Longitude": -122.3959,
             "Address":   "",
             "City":      "SAN FRANCISCO",
             "State":     "CA",
             "Zip":       "94107",
             "Country":   "US"
          },
          {
             "precision": "zip",
             "Latitude":  37.371991,
             "Longitude": -122.026020,
             "Address":   "",
             "City":      "SUNNYVALE",
             "State":     "CA",
             "Zip":       "94085",
             "Country":   "US"
          }
        ]
        """
        guard case .array(let places) = try Self.parse(text), places.count == 2, case .object(let second) = places[1] else {
            Issue.record("not an array of two objects")
            return
        }
        // A number keeps its text: trailing zeros and all.
        #expect(second[2].1 == .number("-122.026020"))
        #expect(second[2].1.integer(as: Int32.self) == nil)
    }

    @Test func rfcScalarTexts() throws {
        #expect(try Self.parse("\"Hello world!\"") == .string("Hello world!"))
        #expect(try Self.parse("42") == .number("42"))
        #expect(try Self.parse("true") == .bool(true))
        #expect(try Self.parse(" \t\r\n null \n") == .null)
    }

    // MARK: strings and numbers

    @Test func everyEscape() throws {
        let value = try Self.parse(#""\" \\ \/ \b \f \n \r \t \u0041 \u00e9 \u20AC \ud83d\ude00 \u0000""#)
        #expect(value == .string("\" \\ / \u{08} \u{0C} \n \r \t A é € 😀 \u{00}"))
    }

    @Test func validUTF8IsKept() throws {
        // Two-, three- and four-byte forms, at the edges of their ranges.
        let text = "\"\u{80}\u{7FF}\u{800}\u{D7FF}\u{E000}\u{FFFF}\u{10000}\u{10FFFF}\""
        #expect(try Self.parse(text) == .string("\u{80}\u{7FF}\u{800}\u{D7FF}\u{E000}\u{FFFF}\u{10000}\u{10FFFF}"))
    }

    @Test func numbersKeepTheirText() throws {
        for text in ["0", "-0", "1", "-1", "10", "0.5", "-0.0", "1e10", "1E+2", "1e-2", "123.456e-789", "18446744073709551616"] {
            #expect(try Self.parse(text) == .number(text))
        }
    }

    @Test func integersAreExact() {
        #expect(JSONValue.number("65535").integer(as: UInt16.self) == 65535)
        #expect(JSONValue.number("65536").integer(as: UInt16.self) == nil)
        #expect(JSONValue.number("4294967295").integer(as: UInt32.self) == 4_294_967_295)
        #expect(JSONValue.number("4294967296").integer(as: UInt32.self) == nil)
        #expect(JSONValue.number("-1").integer(as: UInt16.self) == nil)
        #expect(JSONValue.number("-0").integer(as: UInt16.self) == nil)
        #expect(JSONValue.number("-5").integer(as: Int32.self) == -5)
        #expect(JSONValue.number("1.0").integer(as: UInt16.self) == nil)
        #expect(JSONValue.number("1e2").integer(as: UInt16.self) == nil)
        #expect(JSONValue.string("1").integer(as: UInt16.self) == nil)
        #expect(JSONValue.integer(UInt32.max) == .number("4294967295"))
    }

    @Test func membersKeepTheirOrder() throws {
        let value = try Self.parse(#"{"b": 1, "a": 2, "c": {"z": [], "y": {}}}"#)
        #expect(value == .object([("b", .number("1")), ("a", .number("2")), ("c", .object([("z", .array([])), ("y", .object([]))]))]))
        #expect(value != .object([("a", .number("2")), ("b", .number("1")), ("c", .object([("z", .array([])), ("y", .object([]))]))]))
    }

    // MARK: refusals, each at its line and column

    struct Invalid: CustomTestStringConvertible, Sendable {
        let bytes: [UInt8]
        let line: Int
        let column: Int
        let message: String

        init(_ text: String, _ line: Int, _ column: Int, _ message: String) {
            self.init(bytes: Array(text.utf8), line, column, message)
        }

        init(bytes: [UInt8], _ line: Int, _ column: Int, _ message: String) {
            self.bytes = bytes
            self.line = line
            self.column = column
            self.message = message
        }

        var testDescription: String { String(decoding: bytes, as: UTF8.self).debugDescription }
    }

    static let invalid: [Invalid] = [
        Invalid("", 1, 1, "unexpected end of input"),
        Invalid("   ", 1, 4, "unexpected end of input"),
        Invalid("[1,]", 1, 4, "trailing comma"),
        Invalid(#"{"a":1,}"#, 1, 8, "trailing comma"),
        Invalid("[01]", 1, 2, "leading zeros"),
        Invalid("-01", 1, 1, "leading zeros"),
        Invalid("[NaN]", 1, 2, "expected a value"),
        Invalid("[Infinity]", 1, 2, "expected a value"),
        Invalid("[-Infinity]", 1, 3, "expected a digit after '-'"),
        Invalid("+1", 1, 1, "expected a value"),
        Invalid(".5", 1, 1, "expected a value"),
        Invalid("1.", 1, 3, "expected a digit after '.'"),
        Invalid("1.e5", 1, 3, "expected a digit after '.'"),
        Invalid("1e", 1, 3, "exponent"),
        Invalid("1e+", 1, 4, "exponent"),
        Invalid("0x10", 1, 2, "after the value"),
        Invalid("// comment\n1", 1, 1, "expected a value"),
        Invalid("[1 /* comment */]", 1, 4, "expected ',' or ']'"),
        Invalid(#"{"a":1,"a":2}"#, 1, 8, "duplicate key \"a\""),
        Invalid("{\"private_key\": \"x\",\n \"private_key\": \"y\"}", 2, 2, "duplicate key \"private_key\""),
        Invalid(#""\ud800""#, 1, 2, "high surrogate \\uD800 is not followed"),
        Invalid(#""\udc00""#, 1, 2, "lone low surrogate \\uDC00"),
        Invalid(#""\ud800\u0041""#, 1, 2, "high surrogate"),
        Invalid(#""\ud800\n""#, 1, 2, "high surrogate"),
        Invalid(#""\x""#, 1, 2, "invalid escape '\\x'"),
        Invalid(#""\u12""#, 1, 2, "four hex digits"),
        Invalid(#""\U0041""#, 1, 2, "invalid escape"),
        Invalid("\"a\tb\"", 1, 3, "control character 0x09"),
        Invalid("\"a\nb\"", 1, 3, "control character 0x0A"),
        Invalid("\"abc", 1, 1, "unterminated string"),
        Invalid("'a'", 1, 1, "expected a value"),
        Invalid("[1 2]", 1, 4, "expected ',' or ']'"),
        Invalid("[1", 1, 3, "expected ',' or ']'"),
        Invalid("{1:2}", 1, 2, "expected a string key"),
        Invalid(#"{"a" 1}"#, 1, 6, "expected ':'"),
        Invalid(#"{"a":}"#, 1, 6, "expected a value"),
        Invalid("{a:1}", 1, 2, "expected a string key"),
        Invalid("tru", 1, 1, "invalid literal, expected 'true'"),
        Invalid("True", 1, 1, "expected a value"),
        Invalid("nul", 1, 1, "expected 'null'"),
        Invalid("1 2", 1, 3, "after the value"),
        Invalid("{}}", 1, 3, "after the value"),
        Invalid("{\n  \"a\": [1,\n    2,,\n  ]\n}", 3, 7, "unexpected ',', expected a value"),
        Invalid("[\"é\", x]", 1, 7, "unexpected 'x'"),
        Invalid(bytes: [0xEF, 0xBB, 0xBF, 0x31], 1, 1, "byte order mark"),
        Invalid(bytes: [0x22, 0xC0, 0xAF, 0x22], 1, 2, "overlong"),
        Invalid(bytes: [0x22, 0xC1, 0xBF, 0x22], 1, 2, "overlong"),
        Invalid(bytes: [0x22, 0xE0, 0x80, 0xAF, 0x22], 1, 2, "overlong"),
        Invalid(bytes: [0x22, 0xF0, 0x80, 0x80, 0xAF, 0x22], 1, 2, "overlong"),
        Invalid(bytes: [0x22, 0xED, 0xA0, 0x80, 0x22], 1, 2, "encoded surrogate"),
        Invalid(bytes: [0x22, 0xED, 0xBF, 0xBF, 0x22], 1, 2, "encoded surrogate"),
        Invalid(bytes: [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], 1, 2, "beyond U+10FFFF"),
        Invalid(bytes: [0x22, 0xF5, 0x80, 0x80, 0x80, 0x22], 1, 2, "never occurs"),
        Invalid(bytes: [0x22, 0xFF, 0x22], 1, 2, "never occurs"),
        Invalid(bytes: [0x22, 0x80, 0x22], 1, 2, "continuation byte"),
        Invalid(bytes: [0x22, 0x61, 0xC3, 0x22], 1, 3, "truncated"),
        Invalid(bytes: [0x22, 0xE2, 0x82, 0x22], 1, 2, "truncated"),
        Invalid(bytes: [0x22, 0xE2, 0x82], 1, 2, "truncated"),
        Invalid(bytes: [0x5B, 0xC3, 0xA9, 0x5D], 1, 2, "unexpected byte 0xC3"),
        Invalid(bytes: [0x31, 0x00], 1, 2, "unexpected byte 0x00"),
    ]

    @Test(arguments: invalid)
    func refused(_ case: Invalid) {
        guard let error = Self.failure(`case`.bytes) else {
            Issue.record("accepted")
            return
        }
        #expect(error.line == `case`.line, "\(error)")
        #expect(error.column == `case`.column, "\(error)")
        #expect(error.message.contains(`case`.message), "\(error)")
    }

    // MARK: bounds

    @Test func depthIsBounded() throws {
        let deepest = String(repeating: "[", count: 32) + String(repeating: "]", count: 32)
        #expect(try Self.parse(deepest) != .null)
        let tooDeep = String(repeating: "[", count: 33) + String(repeating: "]", count: 33)
        let error = Self.failure(Array(tooDeep.utf8))
        #expect(error == JSONError(line: 1, column: 33, message: "nesting deeper than 32 levels"))
        // Objects count as arrays do; and a much deeper text fails the same way, not on the stack.
        let objects = String(repeating: #"{"a":"#, count: 33) + "1" + String(repeating: "}", count: 33)
        #expect(Self.failure(Array(objects.utf8))?.message == "nesting deeper than 32 levels")
        #expect(Self.failure(Array(repeating: UInt8(ascii: "["), count: 1_000_000))?.column == 33)
        #expect(Self.failure(Array("[[[]]]".utf8), limits: JSON.Limits(maxDepth: 2))?.column == 3)
    }

    @Test func sizeIsBounded() throws {
        var text = Array(repeating: UInt8(ascii: " "), count: 4 << 20)
        text[0] = UInt8(ascii: "1")
        #expect(try JSON.parse(text) == .number("1"))
        text.append(UInt8(ascii: " "))
        #expect(Self.failure(text)?.message == "input is 4194305 bytes, more than the limit of 4194304")
        #expect(Self.failure(Array("[1]".utf8), limits: JSON.Limits(maxBytes: 2)) != nil)
    }

    // MARK: lines by path

    @Test func documentRecordsLinesByPath() throws {
        let text = """
        {
          "version": 1,
          "interfaces": [
            {
              "name": "wg0",
              "peers": [
                {}, {"allowed_ips": ["a",
                   "b"]}
              ]
            }
          ]
        }
        """
        let document = try JSON.parseDocument(Array(text.utf8))
        #expect(document.line(of: "") == 1)
        #expect(document.line(of: "version") == 2)
        #expect(document.line(of: "interfaces[0]") == 4)
        #expect(document.line(of: "interfaces[0].name") == 5)
        #expect(document.line(of: "interfaces[0].peers[0]") == 7)
        #expect(document.line(of: "interfaces[0].peers[1].allowed_ips[1]") == 8)
        #expect(document.line(of: "interfaces[1]") == nil)
    }
}
