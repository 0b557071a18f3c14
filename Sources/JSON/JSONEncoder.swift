/// The canonical text of a value: two-space indent, one member or element per line, ": "
/// after keys, `[]` and `{}` for empty containers. Non-ASCII text is written as UTF-8, not
/// escaped; only what RFC 8259 requires is escaped ('"', '\' and control characters).
enum JSONEncoder {
    static func write(_ value: JSONValue, indent: Int, into out: inout String) {
        switch value {
        case .null: out.append("null")
        case .bool(let b): out.append(b ? "true" : "false")
        case .number(let text): out.append(text)
        case .string(let s): writeString(s, into: &out)
        case .array(let elements):
            writeContainer(elements, open: "[", close: "]", indent: indent, into: &out) { element, out in
                write(element, indent: indent + 1, into: &out)
            }
        case .object(let members):
            writeContainer(members, open: "{", close: "}", indent: indent, into: &out) { member, out in
                writeString(member.0, into: &out)
                out.append(": ")
                write(member.1, indent: indent + 1, into: &out)
            }
        }
    }

    private static func writeContainer<T>(_ items: [T], open: String, close: String, indent: Int, into out: inout String,
                                          _ writeItem: (T, inout String) -> Void) {
        guard !items.isEmpty else { return out.append(open + close) }
        out.append(open)
        for (i, item) in items.enumerated() {
            out.append(i == 0 ? "\n" : ",\n")
            pad(indent + 1, &out)
            writeItem(item, &out)
        }
        out.append("\n")
        pad(indent, &out)
        out.append(close)
    }

    private static func pad(_ level: Int, _ out: inout String) {
        for _ in 0..<level { out.append("  ") }
    }

    static func writeString(_ s: String, into out: inout String) {
        out.append("\"")
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out.append("\\\"")
            case "\\": out.append("\\\\")
            case "\n": out.append("\\n")
            case "\r": out.append("\\r")
            case "\t": out.append("\\t")
            case "\u{08}": out.append("\\b")
            case "\u{0C}": out.append("\\f")
            case "\u{00}"..."\u{1F}":
                let hex = String(scalar.value, radix: 16)
                out.append("\\u00" + (hex.count == 1 ? "0" : "") + hex)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out.append("\"")
    }
}
