import Protocol
public import System

/// A message of the control channel, either direction: the frame type it travels as, the
/// descriptors that travel with it, its payload, and its strict decoding.
///
/// Every field is checked both ways by the same rule (`validate`): what one side refuses to
/// decode, the other refuses to send, so a refusal on receipt means a bug or a hostile peer.
public protocol ControlMessage: Sendable {
    /// The frame type.
    var type: UInt16 { get }
    /// How many descriptors travel with the frame (exactly: more or fewer are refused).
    var descriptorCount: Int { get }
    /// The payload, in a buffer that is cleared when dropped; `.protocolViolation` for a value
    /// the receiver would refuse.
    func encodedPayload() throws(ControlError) -> ZeroingBuffer
    /// The message a frame carries, checked whole: the frame's descriptors are left in it, to be
    /// taken by the caller (or closed with it).
    static func decode(from frame: borrowing ControlFrame) throws(ControlError) -> Self
    /// The longest payload of a frame type, nil for a type this direction does not send: what
    /// `ControlSocket.receive(limit:)` takes.
    static func limit(_ type: UInt16) -> Int?
}

extension ControlMessage {
    /// Sends the message with `descriptors` (which the caller keeps: the kernel passes copies).
    /// The payload buffer, keys and all, is cleared once the frame is written.
    public func encode(to socket: ControlSocket, descriptors: [Int32] = []) throws(ControlError) {
        guard descriptors.count == descriptorCount else {
            throw .protocolViolation("refusing to send type \(type) with \(descriptors.count) descriptors; it takes \(descriptorCount)")
        }
        let payload = try encodedPayload()
        try payload.withUnsafeBytes { bytes throws(ControlError) in try socket.send(type: type, payload: bytes, descriptors: descriptors) }
    }

    /// The next frame from `socket`, bounded by this direction's limits; decode it with
    /// `decode(from:)` and take its descriptors from it.
    public static func receive(from socket: ControlSocket) throws(ControlError) -> ControlFrame {
        try socket.receive(limit: limit)
    }
}

/// What the two directions' codecs share.
enum ControlCoding {
    /// A payload of exactly `count` bytes, as `body` writes it.
    static func payload(count: Int, _ body: (inout WireWriter) -> Void) -> ZeroingBuffer {
        var buffer = ZeroingBuffer(count: count)
        buffer.withUnsafeMutableBytes { bytes in
            var writer = WireWriter(bytes)
            body(&writer)
            precondition(writer.isFull, "a control message wrote less than it sized")
        }
        return buffer
    }

    /// Reads a frame's payload to its very end with `read` (given the frame's kind of message of
    /// this `direction`), then checks the message's rules and its descriptor count.
    static func decode<M: ControlMessage, Kind: RawRepresentable<UInt16>>(
        _ frame: borrowing ControlFrame, _ direction: String, validate: (M) throws(WireError) -> Void,
        read: (Kind, inout WireReader) throws(WireError) -> M
    ) throws(ControlError) -> M {
        guard let kind = Kind(rawValue: frame.type) else { throw .protocolViolation("unknown \(direction) message type \(frame.type)") }
        let name = "\(kind)"
        let limit = M.limit(frame.type) ?? 0
        guard frame.payload.count <= limit else {
            throw .protocolViolation("\(name) of \(frame.payload.count) bytes; it has at most \(limit)")
        }
        let message: M
        do throws(WireError) {
            message = try frame.payload.withUnsafeBytes { bytes throws(WireError) -> M in
                var reader = WireReader(bytes)
                let message = try read(kind, &reader)
                try reader.expectEnd()
                return message
            }
            try validate(message)
        } catch {
            throw .protocolViolation("\(name): \(error.reason)")
        }
        guard frame.descriptors.count == message.descriptorCount else {
            throw .protocolViolation("\(name) came with \(frame.descriptors.count) descriptors; it takes \(message.descriptorCount)")
        }
        return message
    }

    /// The error for a message that fails its own rules before it is sent.
    static func refusing(_ name: String, _ error: WireError) -> ControlError {
        .protocolViolation("refusing to send \(name): \(error.reason)")
    }
}
