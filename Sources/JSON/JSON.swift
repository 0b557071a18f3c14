/// A strict JSON codec (RFC 8259), written for the state file: no Foundation (it would double the
/// binary), and nothing accepted that another reader might take differently.
/// - Input is bounded in size and nesting depth before it can cost memory or stack.
/// - Text must be valid UTF-8: no overlong forms, no encoded surrogates, nothing past U+10FFFF;
///   escapes must pair their surrogates.
/// - No trailing commas, comments, leading zeros, NaN or Infinity, byte order mark, or anything
///   after the value.
/// - Duplicate object keys are refused: of two "private_key" members, readers disagree on which
///   wins, so none may. Keys are compared as Swift compares strings (canonical equivalence), so
///   two spellings of "é" are duplicates too: a reader that normalizes would merge them.
/// - Output is canonical: two-space indent, members in the value's order, a trailing newline,
///   so that the file diffs line by line.
public enum JSON {
    /// Bounds on what `parse` accepts.
    public struct Limits: Sendable {
        public var maxBytes: Int
        public var maxDepth: Int

        /// 4 MiB and 32 levels: the state file of 2,000 peers (a PSK,
        /// an endpoint and four allowed IPs each) takes 0.84 MB and 6 levels.
        public init(maxBytes: Int = 4 << 20, maxDepth: Int = 32) {
            self.maxBytes = maxBytes
            self.maxDepth = maxDepth
        }
    }

    /// Parses one JSON text.
    public static func parse(_ bytes: [UInt8], limits: Limits = Limits()) throws(JSONError) -> JSONValue {
        try document(bytes, limits: limits, recordLines: false).value
    }

    /// Parses one JSON text and notes the line each value starts on, by path, so that a schema
    /// can say where a wrong value is.
    public static func parseDocument(_ bytes: [UInt8], limits: Limits = Limits()) throws(JSONError) -> JSONDocument {
        try document(bytes, limits: limits, recordLines: true)
    }

    /// Canonical pretty text ending in a newline.
    public static func encode(_ value: JSONValue) -> String {
        var out = ""
        JSONEncoder.write(value, indent: 0, into: &out)
        out.append("\n")
        return out
    }

    private static func document(_ bytes: [UInt8], limits: Limits, recordLines: Bool) throws(JSONError) -> JSONDocument {
        guard bytes.count <= limits.maxBytes else {
            throw JSONError(line: 1, column: 1, message: "input is \(bytes.count) bytes, more than the limit of \(limits.maxBytes)")
        }
        var parser = JSONParser(bytes, maxDepth: limits.maxDepth, recordLines: recordLines)
        let value = try parser.parseText()
        return JSONDocument(value: value, lines: parser.lines)
    }
}

/// A parsed text and where its values are. Paths are written as the schema names fields:
/// "" for the top, then `.key` for members (no dot first) and `[i]` for elements, e.g.
/// "interfaces[0].peers[3].allowed_ips[1]".
public struct JSONDocument: Sendable {
    public let value: JSONValue
    public let lines: [String: Int]

    /// The line the value at `path` starts on, if there is one.
    public func line(of path: String) -> Int? { lines[path] }
}
