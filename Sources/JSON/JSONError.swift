/// Why a text is not JSON, and where: 1-based line and column (the column counts characters,
/// not bytes, so that it matches what an editor shows).
public struct JSONError: Error, Equatable, Sendable, CustomStringConvertible {
    public let line: Int
    public let column: Int
    public let message: String

    public init(line: Int, column: Int, message: String) {
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String { "line \(line), column \(column): \(message)" }
}
