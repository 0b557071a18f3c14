/// Why bytes from the control channel were refused: what was wrong, and where. Never the value
/// of a key.
public struct WireError: Error, Equatable, Sendable, CustomStringConvertible {
    public let reason: String

    public init(_ reason: String) { self.reason = reason }

    public var description: String { reason }
}

/// Fields read in order from a message's bytes, each checked against what is left, so that no
/// decoder reads past its input: integers little-endian, addresses in network order.
///
/// It reads caller memory in place (a key is copied once, from here into its locked slot), so it
/// must not outlive the buffer it was made over.
public struct WireReader {
    private let bytes: UnsafeRawBufferPointer
    public private(set) var offset = 0

    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    public var remaining: Int { bytes.count - offset }

    /// The next `count` bytes, in place.
    public mutating func bytes(_ count: Int) throws(WireError) -> UnsafeRawBufferPointer {
        guard count <= remaining else {
            throw WireError("ends inside a field at byte \(offset): \(count) bytes needed, \(remaining) left")
        }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count])
    }

    public mutating func integer<T: FixedWidthInteger>(_: T.Type = T.self) throws(WireError) -> T {
        let raw = try bytes(T.bitWidth / 8)
        var value: T = 0
        for i in 0..<raw.count { value |= T(truncatingIfNeeded: raw[i]) << (8 * i) }
        return value
    }

    /// A byte that must be 0 or 1: any other value is refused rather than read as true.
    public mutating func bool(_ field: String) throws(WireError) -> Bool {
        switch try integer(UInt8.self) {
        case 0: return false
        case 1: return true
        case let other: throw WireError("\(field) is \(other), not 0 or 1")
        }
    }

    /// Everything was read: trailing bytes are refused, so that one message has one encoding.
    public func expectEnd() throws(WireError) {
        guard remaining == 0 else { throw WireError("\(remaining) bytes past the end at byte \(offset)") }
    }

    public mutating func ipv4() throws(WireError) -> IPv4Address { IPv4Address(networkOrder: try bytes(4).baseAddress!) }

    public mutating func ipv6() throws(WireError) -> IPv6Address { IPv6Address(networkOrder: try bytes(16).baseAddress!) }
}
