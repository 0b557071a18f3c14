/// A recursive-descent parser over the bytes of one JSON text. Recursion is safe because
/// `maxDepth` bounds it. Positions are offsets; line and column are worked out only for an
/// error (one scan), while the line of each value is tracked as whitespace passes, since a raw
/// newline can occur nowhere else.
struct JSONParser {
    private let bytes: [UInt8]
    private var index = 0
    private var line = 1
    private var depth = 0
    private let maxDepth: Int
    private let recordLines: Bool
    private var path = ""
    private(set) var lines: [String: Int] = [:]

    init(_ bytes: [UInt8], maxDepth: Int, recordLines: Bool) {
        self.bytes = bytes
        self.maxDepth = maxDepth
        self.recordLines = recordLines
    }

    mutating func parseText() throws(JSONError) -> JSONValue {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { throw error("a byte order mark is not allowed") }
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        guard index == bytes.count else { throw error("unexpected \(here) after the value") }
        return value
    }

    // MARK: values

    private mutating func parseValue() throws(JSONError) -> JSONValue {
        if recordLines { lines[path] = line }
        guard let byte = peek else { throw error("unexpected end of input, expected a value") }
        switch byte {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("unexpected \(here), expected a value")
        }
    }

    private mutating func parseObject() throws(JSONError) -> JSONValue {
        try enter()
        var members: [(String, JSONValue)] = []
        var keys = Set<String>()
        skipWhitespace()
        if peek == UInt8(ascii: "}") { return leave(.object(members)) }
        while true {
            guard peek == UInt8(ascii: "\"") else { throw error("expected a string key, found \(here)") }
            let keyStart = index
            let key = try parseString()
            guard keys.insert(key).inserted else { throw error("duplicate key \"\(key)\"", at: keyStart) }
            skipWhitespace()
            guard peek == UInt8(ascii: ":") else { throw error("expected ':' after the key, found \(here)") }
            index += 1
            skipWhitespace()
            let outer = path
            if recordLines { path = outer.isEmpty ? key : outer + "." + key }
            let value = try parseValue()
            path = outer
            members.append((key, value))
            skipWhitespace()
            if peek == UInt8(ascii: "}") { return leave(.object(members)) }
            guard peek == UInt8(ascii: ",") else { throw error("expected ',' or '}' after an object member, found \(here)") }
            index += 1
            skipWhitespace()
            if peek == UInt8(ascii: "}") { throw error("trailing comma before '}'") }
        }
    }

    private mutating func parseArray() throws(JSONError) -> JSONValue {
        try enter()
        var elements: [JSONValue] = []
        skipWhitespace()
        if peek == UInt8(ascii: "]") { return leave(.array(elements)) }
        while true {
            let outer = path
            if recordLines { path = outer + "[\(elements.count)]" }
            elements.append(try parseValue())
            path = outer
            skipWhitespace()
            if peek == UInt8(ascii: "]") { return leave(.array(elements)) }
            guard peek == UInt8(ascii: ",") else { throw error("expected ',' or ']' after an array element, found \(here)") }
            index += 1
            skipWhitespace()
            if peek == UInt8(ascii: "]") { throw error("trailing comma before ']'") }
        }
    }

    private mutating func enter() throws(JSONError) {
        depth += 1
        guard depth <= maxDepth else { throw error("nesting deeper than \(maxDepth) levels") }
        index += 1
    }

    private mutating func leave(_ value: JSONValue) -> JSONValue {
        depth -= 1
        index += 1
        return value
    }

    private mutating func literal(_ word: StaticString) throws(JSONError) {
        let text = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        guard bytes.count - index >= text.count, bytes[index..<index + text.count].elementsEqual(text) else {
            throw error("invalid literal, expected '\(word)'")
        }
        index += text.count
    }

    /// The grammar's number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, kept as text.
    private mutating func parseNumber() throws(JSONError) -> JSONValue {
        let start = index
        if peek == UInt8(ascii: "-") { index += 1 }
        guard isDigit(peek) else { throw error("expected a digit after '-', found \(here)") }
        if peek == UInt8(ascii: "0") {
            index += 1
            if isDigit(peek) { throw error("leading zeros are not allowed in a number", at: start) }
        } else {
            skipDigits()
        }
        if peek == UInt8(ascii: ".") {
            index += 1
            guard isDigit(peek) else { throw error("expected a digit after '.', found \(here)") }
            skipDigits()
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            index += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
            guard isDigit(peek) else { throw error("expected a digit in the exponent, found \(here)") }
            skipDigits()
        }
        return .number(String(decoding: bytes[start..<index], as: UTF8.self))
    }

    // MARK: strings

    /// A string's text, escapes resolved. Runs without escapes are copied straight from the
    /// input once validated; a buffer is only built for a string that has an escape.
    private mutating func parseString() throws(JSONError) -> String {
        let start = index
        index += 1
        var unescaped: [UInt8] = []
        var escaped = false
        var run = index
        while true {
            guard let byte = peek else { throw error("unterminated string", at: start) }
            switch byte {
            case UInt8(ascii: "\""):
                defer { index += 1 }
                guard escaped else { return String(decoding: bytes[run..<index], as: UTF8.self) }
                unescaped += bytes[run..<index]
                return String(decoding: unescaped, as: UTF8.self)
            case UInt8(ascii: "\\"):
                unescaped += bytes[run..<index]
                escaped = true
                try parseEscape(into: &unescaped)
                run = index
            case 0..<0x20:
                throw error("control character \(hexByte(byte)) in a string must be escaped")
            case 0x80...:
                try skipUTF8Sequence()
            default:
                index += 1
            }
        }
    }

    private mutating func parseEscape(into out: inout [UInt8]) throws(JSONError) {
        let start = index
        index += 1
        guard let byte = peek else { throw error("unterminated string") }
        index += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(byte)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            var value = try hex4(escapeStart: start)
            if (0xDC00...0xDFFF).contains(value) {
                throw error("lone low surrogate \\u\(hex(value)) (a surrogate escape must be a pair)", at: start)
            }
            if (0xD800...0xDBFF).contains(value) {
                guard bytes.count - index >= 2, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                    throw error("high surrogate \\u\(hex(value)) is not followed by a low surrogate escape", at: start)
                }
                let lowStart = index
                index += 2
                let low = try hex4(escapeStart: lowStart)
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw error("high surrogate \\u\(hex(value)) is not followed by a low surrogate escape", at: start)
                }
                value = 0x10000 + (value - 0xD800) << 10 + (low - 0xDC00)
            }
            out.append(contentsOf: String(Character(Unicode.Scalar(value)!)).utf8)
        default:
            throw error("invalid escape '\\\(printable(byte))'", at: start)
        }
    }

    private mutating func hex4(escapeStart: Int) throws(JSONError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = peek, let digit = hexValue(byte) else {
                throw error("\\u must be followed by four hex digits", at: escapeStart)
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    /// One UTF-8 sequence, checked as Unicode's table of well-formed sequences has it: the
    /// second byte's range depends on the first, which is what refuses overlong forms, encoded
    /// surrogates and code points past U+10FFFF.
    private mutating func skipUTF8Sequence() throws(JSONError) {
        let lead = bytes[index]
        let (count, second): (Int, ClosedRange<UInt8>)
        switch lead {
        case 0xC2...0xDF: (count, second) = (2, 0x80...0xBF)
        case 0xE0: (count, second) = (3, 0xA0...0xBF)
        case 0xED: (count, second) = (3, 0x80...0x9F)
        case 0xE1...0xEF: (count, second) = (3, 0x80...0xBF)
        case 0xF0: (count, second) = (4, 0x90...0xBF)
        case 0xF1...0xF3: (count, second) = (4, 0x80...0xBF)
        case 0xF4: (count, second) = (4, 0x80...0x8F)
        case 0xC0, 0xC1: throw error("invalid UTF-8: overlong encoding (byte \(hexByte(lead)))")
        case 0x80...0xBF: throw error("invalid UTF-8: unexpected continuation byte \(hexByte(lead))")
        default: throw error("invalid UTF-8: byte \(hexByte(lead)) never occurs in UTF-8")
        }
        for i in 1..<count {
            guard index + i < bytes.count else { throw error("invalid UTF-8: truncated sequence") }
            let byte = bytes[index + i]
            guard (i == 1 ? second : 0x80...0xBF).contains(byte) else {
                let what = i > 1 || !(0x80...0xBF).contains(byte) ? "truncated sequence"
                    : lead == 0xED ? "encoded surrogate" : lead == 0xF4 ? "code point beyond U+10FFFF" : "overlong encoding"
                throw error("invalid UTF-8: \(what)")
            }
        }
        index += count
    }

    // MARK: bytes

    private var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipWhitespace() {
        while let byte = peek {
            switch byte {
            case UInt8(ascii: "\n"): line += 1
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"): break
            default: return
            }
            index += 1
        }
    }

    private mutating func skipDigits() { while isDigit(peek) { index += 1 } }

    private func isDigit(_ byte: UInt8?) -> Bool { byte.map { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) } ?? false }

    private func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    // MARK: errors

    /// What is at the current position, for messages.
    private var here: String {
        guard let byte = peek else { return "end of input" }
        return byte >= 0x20 && byte < 0x7F ? "'\(printable(byte))'" : "byte \(hexByte(byte))"
    }

    private func printable(_ byte: UInt8) -> String { String(decoding: [byte], as: UTF8.self) }
    private func hexByte(_ byte: UInt8) -> String { "0x" + hex(UInt32(byte), digits: 2) }

    private func hex(_ value: UInt32, digits: Int = 4) -> String {
        let text = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }

    /// An error at `offset` (default: here). The column counts characters: bytes that do not
    /// continue a UTF-8 sequence.
    private func error(_ message: String, at offset: Int? = nil) -> JSONError {
        let offset = min(offset ?? index, bytes.count)
        var line = 1, column = 1
        for byte in bytes[..<offset] {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return JSONError(line: line, column: column, message: message)
    }
}
