/// Thirty-two public bytes held inline (no heap): public keys, hashes, MAC keys derived from them.
///
/// Four words rather than an array so that a value is a plain 32-byte struct that hashes and
/// compares fast; the bytes are the words' memory, in order.
///
/// Never a secret: a copyable value is copied wherever the compiler likes (moves, returns, spills,
/// the temporary `withUnsafeBytes` reads from) and no clear reaches those copies. Secrets are
/// `SecretKey`s, and secret intermediates `Zeroize.withScratch` memory.
public struct Bytes32: Hashable, Sendable {
    @usableFromInline var words: (UInt64, UInt64, UInt64, UInt64)

    public static let count = 32
    public static let zero = Bytes32()

    public init() { words = (0, 0, 0, 0) }

    /// Copies exactly 32 bytes.
    public init(_ bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count == 32, "Bytes32 needs 32 bytes")
        words = (0, 0, 0, 0)
        Swift.withUnsafeMutableBytes(of: &words) { $0.copyMemory(from: bytes) }
    }

    public init?(_ bytes: some Collection<UInt8>) {
        guard bytes.count == 32 else { return nil }
        words = (0, 0, 0, 0)
        Swift.withUnsafeMutableBytes(of: &words) { out in
            for (i, b) in bytes.enumerated() { out[i] = b }
        }
    }

    /// The bytes of a copy: a non-mutating method has no address of its own to give.
    @inlinable
    public func withUnsafeBytes<R: ~Copyable, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        var copy = words
        return try Swift.withUnsafeBytes(of: &copy, body)
    }

    @inlinable
    public mutating func withUnsafeMutableBytes<R: ~Copyable, E: Error>(_ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try Swift.withUnsafeMutableBytes(of: &words, body)
    }

    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    public var isZero: Bool { words.0 | words.1 | words.2 | words.3 == 0 }

    public static func == (a: Bytes32, b: Bytes32) -> Bool {
        a.words.0 == b.words.0 && a.words.1 == b.words.1 && a.words.2 == b.words.2 && a.words.3 == b.words.3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0); hasher.combine(words.1); hasher.combine(words.2); hasher.combine(words.3)
    }
}
