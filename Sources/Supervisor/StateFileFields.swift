import JSON

/// Reading JSON values against the schema, each error naming the field's path and line. The
/// one place that turns "the wrong kind of value" into a message, so every field says it alike.
struct StateFileFields {
    let document: JSONDocument

    func error(_ path: String, _ message: String) -> StateFileError {
        .invalid(path: path, message: message, line: document.line(of: path))
    }

    static func member(_ path: String, _ key: String) -> String { path.isEmpty ? key : path + "." + key }
    static func element(_ path: String, _ index: Int) -> String { path + "[\(index)]" }

    /// The value as it appears in the file, for messages: strings quoted, containers by kind.
    static func shown(_ value: JSONValue) -> String {
        switch value {
        case .number(let text): text
        case .string(let text): "\"" + text + "\""
        case .bool(let b): b ? "true" : "false"
        case .null: "null"
        case .array, .object: value.kind
        }
    }

    func object(_ value: JSONValue, _ path: String, keys: [String]) throws(StateFileError) -> ObjectFields {
        guard case .object(let members) = value else { throw error(path, "expected an object, got \(value.kind)") }
        for (key, _) in members where !keys.contains(key) {
            throw error(Self.member(path, key), "unknown key \"\(key)\" (known here: \(keys.joined(separator: ", ")))")
        }
        return ObjectFields(fields: self, path: path, members: members)
    }

    func array(_ value: JSONValue, _ path: String) throws(StateFileError) -> [JSONValue] {
        guard case .array(let elements) = value else { throw error(path, "expected an array, got \(value.kind)") }
        return elements
    }

    func string(_ value: JSONValue, _ path: String) throws(StateFileError) -> String {
        guard case .string(let text) = value else { throw error(path, "expected a string, got \(value.kind)") }
        return text
    }

    func bool(_ value: JSONValue, _ path: String) throws(StateFileError) -> Bool {
        guard case .bool(let b) = value else { throw error(path, "expected true or false, got \(Self.shown(value))") }
        return b
    }

    func integer<T: FixedWidthInteger>(_ value: JSONValue, _ path: String, _ range: ClosedRange<T>) throws(StateFileError) -> T {
        guard let n = value.integer(as: T.self), range.contains(n) else {
            throw error(path, "expected an integer from \(range.lowerBound) to \(range.upperBound), got \(Self.shown(value))")
        }
        return n
    }
}

/// One object's members, each looked up by key. Unknown keys were refused when it was made, so
/// a typo is an error rather than a setting silently left at its default.
struct ObjectFields {
    let fields: StateFileFields
    let path: String
    let members: [(String, JSONValue)]

    func optional(_ key: String) -> (value: JSONValue, path: String)? {
        members.first { $0.0 == key }.map { ($0.1, StateFileFields.member(path, key)) }
    }

    func required(_ key: String) throws(StateFileError) -> (value: JSONValue, path: String) {
        guard let found = optional(key) else { throw fields.error(path, "missing key \"\(key)\"") }
        return found
    }
}
