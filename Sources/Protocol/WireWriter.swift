/// Fields written in order into caller memory sized beforehand: integers little-endian,
/// addresses in network order. Writing in place lets a key go straight from its locked slot into
/// the buffer that carries it (and that its owner clears); running past the end is a sizing bug.
public struct WireWriter {
    private let bytes: UnsafeMutableRawBufferPointer
    public private(set) var offset = 0

    public init(_ bytes: UnsafeMutableRawBufferPointer) { self.bytes = bytes }

    /// Every byte written.
    public var isFull: Bool { offset == bytes.count }

    public mutating func write(bytes source: UnsafeRawBufferPointer) {
        let end = offset + source.count
        precondition(end <= bytes.count, "a wire encoder wrote more than it sized")
        UnsafeMutableRawBufferPointer(rebasing: bytes[offset..<end]).copyMemory(from: source)
        offset = end
    }

    public mutating func write<T: FixedWidthInteger>(_ value: T) {
        let size = T.bitWidth / 8
        precondition(offset + size <= bytes.count, "a wire encoder wrote more than it sized")
        for i in 0..<size { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
        offset += size
    }

    public mutating func write(zeros count: Int) {
        precondition(offset + count <= bytes.count, "a wire encoder wrote more than it sized")
        UnsafeMutableRawBufferPointer(rebasing: bytes[offset..<offset + count]).initializeMemory(as: UInt8.self, repeating: 0)
        offset += count
    }

    public mutating func write(_ address: IPv4Address) { address.withUnsafeBytes { write(bytes: $0) } }

    public mutating func write(_ address: IPv6Address) { address.withUnsafeBytes { write(bytes: $0) } }
}
