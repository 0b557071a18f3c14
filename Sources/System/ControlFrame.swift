/// One message of the control channel as it came off the wire: its type, its payload (exactly
/// the length its header gave) and the descriptors attached to its header.
public struct ControlFrame: ~Copyable, Sendable {
    public let type: UInt16
    public let payload: ZeroingBuffer
    public var descriptors: ReceivedDescriptors

    public init(type: UInt16, payload: consuming ZeroingBuffer, descriptors: consuming ReceivedDescriptors = ReceivedDescriptors()) {
        self.type = type
        self.payload = payload
        self.descriptors = descriptors
    }
}

/// The 8 bytes before every payload: type u16, flags u16 (always 0 in this version), payload
/// length u32, all little-endian.
struct ControlFrameHeader: Equatable {
    static let size = 8
    typealias Bytes = InlineArray<8, UInt8>

    var type: UInt16
    var flags: UInt16 = 0
    var length: UInt32

    init(type: UInt16, length: UInt32) {
        self.type = type
        self.length = length
    }

    init(_ bytes: Bytes) {
        var word: UInt64 = 0
        for i in 0..<Self.size { word |= UInt64(bytes[i]) << (8 * i) }
        type = UInt16(truncatingIfNeeded: word)
        flags = UInt16(truncatingIfNeeded: word >> 16)
        length = UInt32(truncatingIfNeeded: word >> 32)
    }

    var bytes: Bytes {
        let word = UInt64(type) | UInt64(flags) << 16 | UInt64(length) << 32
        var bytes = Bytes(repeating: 0)
        for i in 0..<Self.size { bytes[i] = UInt8(truncatingIfNeeded: word >> (8 * i)) }
        return bytes
    }
}
