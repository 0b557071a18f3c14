/// Wire formats (whitepaper §5.4; the kernel's messages.h). All integers little endian; the type is
/// a 32-bit word whose upper three bytes must be zero.
public enum MessageType: UInt32, Sendable {
    case initiation = 1
    case response = 2
    case cookieReply = 3
    case data = 4
}

/// Field offsets of a handshake initiation (148 bytes).
public enum InitiationLayout {
    public static let length = 148
    public static let sender = 4
    public static let ephemeral = 8
    public static let encryptedStatic = 40       // 32 + 16 tag
    public static let encryptedTimestamp = 88    // 12 + 16 tag
    public static let mac1 = 116
    public static let mac2 = 132
}

/// Field offsets of a handshake response (92 bytes).
public enum ResponseLayout {
    public static let length = 92
    public static let sender = 4
    public static let receiver = 8
    public static let ephemeral = 12
    public static let encryptedNothing = 44      // 0 + 16 tag
    public static let mac1 = 60
    public static let mac2 = 76
}

/// Field offsets of a cookie reply (64 bytes).
public enum CookieReplyLayout {
    public static let length = 64
    public static let receiver = 4
    public static let nonce = 8                  // 24
    public static let encryptedCookie = 32       // 16 + 16 tag
}

/// Field offsets of a transport data message: header, then the AEAD of the padded packet.
public enum DataLayout {
    public static let receiver = 4
    public static let counter = 8
    public static let headerLength = 16
    public static let tagLength = 16
    /// Header and tag with nothing between: a keepalive.
    public static let minimumLength = headerLength + tagLength
}

public enum MessageMAC {
    public static let length = 16
}

public enum Messages {
    /// The type of `packet` if its length is right for that type: handshake messages exactly,
    /// data at least a keepalive. Anything else is not WireGuard and is dropped by the caller.
    public static func classify(_ packet: UnsafeRawBufferPointer) -> MessageType? {
        guard packet.count >= 4,
              let type = MessageType(rawValue: UInt32(littleEndian: packet.loadUnaligned(as: UInt32.self))) else { return nil }
        switch type {
        case .initiation: return packet.count == InitiationLayout.length ? type : nil
        case .response: return packet.count == ResponseLayout.length ? type : nil
        case .cookieReply: return packet.count == CookieReplyLayout.length ? type : nil
        case .data: return packet.count >= DataLayout.minimumLength ? type : nil
        }
    }

    static func writeType(_ type: MessageType, to packet: UnsafeMutableRawBufferPointer) {
        packet.storeBytes(of: type.rawValue.littleEndian, as: UInt32.self)
    }

    static func load32(_ packet: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
        UInt32(littleEndian: packet.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    static func store32(_ value: UInt32, _ packet: UnsafeMutableRawBufferPointer, _ offset: Int) {
        packet.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt32.self)
    }

    /// The receiver index of a response, cookie reply or data message: the key into the index table.
    public static func receiverIndex(_ packet: UnsafeRawBufferPointer, type: MessageType) -> UInt32 {
        switch type {
        case .initiation: 0
        case .response: load32(packet, ResponseLayout.receiver)
        case .cookieReply: load32(packet, CookieReplyLayout.receiver)
        case .data: load32(packet, DataLayout.receiver)
        }
    }
}
