public import Protocol
public import System

/// What the supervisor tells a data plane, the data plane's only input of configuration.
public enum SupervisorMessage: ControlMessage, Equatable {
    /// Run the interface; the TUN descriptor travels with it.
    case start(StartOptions)
    /// The UDP sockets the supervisor bound on `port`: IPv4, and IPv6 when `hasV6`, as the
    /// frame's descriptors in that order.
    case sockets(port: UInt16, hasV6: Bool)
    /// Apply `change` (one `set`, or `ConfigChange(replacing:)`) all or nothing; answered by
    /// `applied(id:)` with the same id.
    case configure(id: UInt64, change: ConfigChange)
    case mtu(UInt32)
    /// Answered by `DataPlaneMessage.status` with the same id.
    case status(id: UInt64)
    /// Close the UDP sockets now (the interface is going away).
    case releaseSockets
    case stop

    enum Kind: UInt16 {
        case start = 1, sockets, configure, mtu, status, releaseSockets, stop
    }

    /// A configure frame's payload at most: room for 400,000 allowed IPs many times over.
    public static let maxConfigureBytes = 64 << 20

    public static func limit(_ type: UInt16) -> Int? {
        switch Kind(rawValue: type) {
        case .start: StartOptions.maxEncodedCount
        case .sockets: 3
        case .configure: maxConfigureBytes
        case .mtu: 4
        case .status: 8
        case .releaseSockets, .stop: 0
        case nil: nil
        }
    }

    var kind: Kind {
        switch self {
        case .start: .start
        case .sockets: .sockets
        case .configure: .configure
        case .mtu: .mtu
        case .status: .status
        case .releaseSockets: .releaseSockets
        case .stop: .stop
        }
    }

    public var type: UInt16 { kind.rawValue }

    public var descriptorCount: Int {
        switch self {
        case .start: 1
        case .sockets(_, let hasV6): hasV6 ? 2 : 1
        default: 0
        }
    }

    func validate() throws(WireError) {
        switch self {
        case .start(let options): try options.validate()
        case .sockets(let port, _): guard port != 0 else { throw WireError("port 0: the sockets are bound, their port is known") }
        case .mtu(let mtu): try StartOptions.check(Int(mtu), StateFileDecoder.mtuRange, "MTU")
        case .configure, .status, .releaseSockets, .stop: break  // configure's rules are ConfigWire's
        }
    }

    public func encodedPayload() throws(ControlError) -> ZeroingBuffer {
        do throws(WireError) {
            try validate()
            return try payload()
        } catch {
            throw ControlCoding.refusing("\(kind)", error)
        }
    }

    private func payload() throws(WireError) -> ZeroingBuffer {
        switch self {
        case .start(let options):
            return ControlCoding.payload(count: options.encodedCount) { options.write(to: &$0) }
        case .sockets(let port, let hasV6):
            return ControlCoding.payload(count: 3) { writer in
                writer.write(port)
                writer.write(UInt8(hasV6 ? 1 : 0))
            }
        case .configure(let id, let change):
            let count = 8 + (try ConfigWire.encodedCount(of: change))
            guard count <= Self.maxConfigureBytes else { throw WireError("\(count) bytes, over \(Self.maxConfigureBytes)") }
            return ControlCoding.payload(count: count) { writer in
                writer.write(id)
                ConfigWire.encode(change, to: &writer)
            }
        case .mtu(let mtu): return ControlCoding.payload(count: 4) { $0.write(mtu) }
        case .status(let id): return ControlCoding.payload(count: 8) { $0.write(id) }
        case .releaseSockets, .stop: return ZeroingBuffer(count: 0)
        }
    }

    public static func decode(from frame: borrowing ControlFrame) throws(ControlError) -> SupervisorMessage {
        try ControlCoding.decode(frame, "supervisor", validate: { (m: SupervisorMessage) throws(WireError) in try m.validate() }, read: read)
    }

    private static func read(_ kind: Kind, _ reader: inout WireReader) throws(WireError) -> SupervisorMessage {
        switch kind {
        case .start: return .start(try StartOptions.read(from: &reader))
        case .sockets: return .sockets(port: try reader.integer(), hasV6: try reader.bool("hasV6"))
        case .configure:
            let id = try reader.integer(UInt64.self)
            return .configure(id: id, change: try ConfigWire.decode(&reader))
        case .mtu: return .mtu(try reader.integer())
        case .status: return .status(id: try reader.integer())
        case .releaseSockets: return .releaseSockets
        case .stop: return .stop
        }
    }
}
