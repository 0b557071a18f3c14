/// The text of a data plane's log message: at most `maxBytes` of UTF-8, and on receipt no
/// control characters, so that an unprivileged process cannot forge log lines with a newline
/// or rewrite a terminal with an escape sequence.
enum LogText {
    static let maxBytes = 1024

    /// The longest prefix of `text` within `maxBytes`, cut between scalars (the sender's side:
    /// an over-long message is shortened, not refused).
    static func truncated(_ text: String) -> Substring {
        var end = text.unicodeScalars.startIndex
        var bytes = 0
        for index in text.unicodeScalars.indices {
            bytes += UTF8.width(text.unicodeScalars[index])
            guard bytes <= maxBytes else { break }
            end = text.unicodeScalars.index(after: index)
        }
        return text[..<end]
    }

    /// Every control character (C0, DEL, C1) and line or paragraph separator becomes "?": one
    /// byte for one or more, so the text never grows past its bound.
    static func sanitized(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isForbidden) else { return text }
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars { result.append(isForbidden(scalar) ? "?" : scalar) }
        return String(result)
    }

    private static func isForbidden(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .lineSeparator, .paragraphSeparator: true
        default: false
        }
    }
}
