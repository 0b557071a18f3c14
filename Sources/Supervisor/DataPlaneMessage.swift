import Protocol
public import System

/// What a data plane tells the supervisor. Untrusted: it comes from an unprivileged process,
/// so every field is checked, counts against lengths before anything is reserved.
public enum DataPlaneMessage: ControlMessage, Equatable {
    /// Started: the TUN is open and the workers run.
    case ready
    /// The outcome of `configure(id:)`: errno 0 for success, else a positive errno (as
    /// `Errno.code`; the UAPI reply's `errno=` is its negation).
    case applied(id: UInt64, errno: Int32)
    /// The answer to `status(id:)`: every peer's figures, in the configuration's order.
    case status(id: UInt64, peers: [PeerRecord])
    /// A line for the supervisor's log; `.error` or `.verbose`. The text is cut to
    /// `LogText.maxBytes` when sent and its control characters are replaced when received.
    case log(LogLevel, String)
    /// The TUN device went away (`ip link del`).
    case interfaceGone

    enum Kind: UInt16 {
        case ready = 0x101, applied, status, log, interfaceGone
    }

    /// An interface's peers at most (`ConfigBounds`): a status frame is 332 KB at most.
    public static let maxPeers = ConfigBounds.maxPeers
    /// The largest errno Linux has (MAX_ERRNO).
    public static let errnoRange: ClosedRange<Int32> = 0...4095

    public static func limit(_ type: UInt16) -> Int? {
        switch Kind(rawValue: type) {
        case .ready, .interfaceGone: 0
        case .applied: 12
        case .status: 12 + maxPeers * PeerRecord.size
        case .log: 1 + LogText.maxBytes
        case nil: nil
        }
    }

    var kind: Kind {
        switch self {
        case .ready: .ready
        case .applied: .applied
        case .status: .status
        case .log: .log
        case .interfaceGone: .interfaceGone
        }
    }

    public var type: UInt16 { kind.rawValue }

    public var descriptorCount: Int { 0 }

    func validate() throws(WireError) {
        switch self {
        case .applied(_, let errno):
            guard Self.errnoRange.contains(errno) else { throw WireError("errno \(errno) is not in \(Self.errnoRange)") }
        case .status(_, let peers):
            guard peers.count <= Self.maxPeers else { throw WireError("\(peers.count) peers, over \(Self.maxPeers)") }
            for peer in peers { try peer.validate() }
        case .log(let level, _):
            guard level != .silent else { throw WireError("a log message at level silent") }
        case .ready, .interfaceGone: break
        }
    }

    public func encodedPayload() throws(ControlError) -> ZeroingBuffer {
        do throws(WireError) {
            try validate()
        } catch {
            throw ControlCoding.refusing("\(kind)", error)
        }
        return payload()
    }

    private func payload() -> ZeroingBuffer {
        switch self {
        case .ready, .interfaceGone: return ZeroingBuffer(count: 0)
        case .applied(let id, let errno):
            return ControlCoding.payload(count: 12) { writer in
                writer.write(id)
                writer.write(errno)
            }
        case .status(let id, let peers):
            return ControlCoding.payload(count: 12 + peers.count * PeerRecord.size) { writer in
                writer.write(id)
                writer.write(UInt32(peers.count))
                for peer in peers { peer.write(to: &writer) }
            }
        case .log(let level, let text):
            let utf8 = LogText.truncated(text).utf8
            return ControlCoding.payload(count: 1 + utf8.count) { writer in
                writer.write(UInt8(level.rawValue))
                for byte in utf8 { writer.write(byte) }
            }
        }
    }

    public static func decode(from frame: borrowing ControlFrame) throws(ControlError) -> DataPlaneMessage {
        try ControlCoding.decode(frame, "data plane", validate: { (m: DataPlaneMessage) throws(WireError) in try m.validate() }, read: read)
    }

    private static func read(_ kind: Kind, _ reader: inout WireReader) throws(WireError) -> DataPlaneMessage {
        switch kind {
        case .ready: return .ready
        case .interfaceGone: return .interfaceGone
        case .applied: return .applied(id: try reader.integer(), errno: try reader.integer())
        case .status: return try readStatus(&reader)
        case .log:
            let level = try reader.integer(UInt8.self)
            guard let logLevel = LogLevel(rawValue: Int(level)) else { throw WireError("log level \(level) is not 1 or 2") }
            guard let text = String(validating: try reader.bytes(reader.remaining), as: UTF8.self) else {
                throw WireError("the text is not UTF-8")
            }
            return .log(logLevel, LogText.sanitized(text))
        }
    }

    /// The count must match the length exactly before a record is read or room reserved.
    private static func readStatus(_ reader: inout WireReader) throws(WireError) -> DataPlaneMessage {
        let id = try reader.integer(UInt64.self)
        let count = Int(try reader.integer(UInt32.self))
        guard count <= maxPeers else { throw WireError("\(count) peers, over \(maxPeers)") }
        guard count * PeerRecord.size == reader.remaining else {
            throw WireError("\(count) peer records in \(reader.remaining) bytes (\(PeerRecord.size) each)")
        }
        var peers: [PeerRecord] = []
        peers.reserveCapacity(count)
        for _ in 0..<count { peers.append(try PeerRecord.read(from: &reader)) }
        return .status(id: id, peers: peers)
    }
}
