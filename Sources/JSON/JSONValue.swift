/// A JSON value as RFC 8259 defines it, kept as written where that matters:
/// - a number keeps its text, so a schema asks for exactly the type it needs (`integer(as:)`)
///   and no value passes through a Double on the way;
/// - an object keeps its members in order (the encoder writes them back in that order, which is
///   how a schema gets its canonical key order). Duplicate keys never get this far: the parser
///   refuses them.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    /// An integer literal, for schemas: decimal digits only (a fraction, an exponent or a sign
    /// other than a leading "-" of a signed type is refused), and within the type's range.
    public func integer<T: FixedWidthInteger>(as _: T.Type) -> T? {
        guard case .number(let text) = self else { return nil }
        var digits = Substring(text)
        let negative = digits.first == "-"
        if negative {
            guard T.isSigned else { return nil }
            digits = digits.dropFirst()
        }
        guard !digits.isEmpty, digits.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
        // T(_:radix:) reads the sign itself; the digits were checked above so that "+1" or
        // " 1" never pass through it.
        return T(text, radix: 10)
    }

    /// A number from an integer, written as the canonical decimal text.
    public static func integer(_ value: some BinaryInteger) -> JSONValue { .number(String(value)) }

    /// What kind of value this is, for error messages ("expected a string, got an array").
    public var kind: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case (.bool(let x), .bool(let y)): x == y
        case (.number(let x), .number(let y)): x == y
        case (.string(let x), .string(let y)): x == y
        case (.array(let x), .array(let y)): x == y
        case (.object(let x), .object(let y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }
}
