public import Crypto
public import Protocol

/// One peer's runtime figures in a `status` reply: its public key and what `wg show` prints, in
/// a record of fixed size (`size`), so that a reply's length says how many records it holds.
///
/// Layout: public key (32), endpoint family u8 (0 none, 4, 6), address (16, an IPv4 address in
/// the first 4 and zeros after; all zero for none), port u16 (0 for none), last handshake
/// seconds u64 and nanoseconds u32 (< 10⁹), rx bytes u64, tx bytes u64, persistent keepalive u16.
public struct PeerRecord: Sendable, Equatable {
    public var publicKey: PublicKey
    public var status: PeerStatus

    public static let size = 32 + 1 + 16 + 2 + 8 + 4 + 8 + 8 + 2

    public init(publicKey: PublicKey, status: PeerStatus) {
        self.publicKey = publicKey
        self.status = status
    }

    func validate() throws(WireError) {
        guard status.lastHandshake.nanoseconds < 1_000_000_000 else {
            throw WireError("last handshake nanoseconds \(status.lastHandshake.nanoseconds) are a second or more")
        }
    }

    func write(to writer: inout WireWriter) {
        publicKey.bytes.withUnsafeBytes { writer.write(bytes: $0) }
        switch status.endpoint?.address {
        case nil:
            writer.write(UInt8(0))
            writer.write(zeros: 16)
        case .v4(let address):
            writer.write(UInt8(4))
            writer.write(address)
            writer.write(zeros: 12)
        case .v6(let address):
            writer.write(UInt8(6))
            writer.write(address)
        }
        writer.write(status.endpoint?.port ?? 0)
        writer.write(status.lastHandshake.seconds)
        writer.write(status.lastHandshake.nanoseconds)
        writer.write(status.receivedBytes)
        writer.write(status.sentBytes)
        writer.write(status.persistentKeepaliveInterval)
    }

    static func read(from reader: inout WireReader) throws(WireError) -> PeerRecord {
        let key = PublicKey(Bytes32(try reader.bytes(32)))
        let endpoint = try readEndpoint(&reader)
        let handshake = WallTime(seconds: try reader.integer(), nanoseconds: try reader.integer())
        let status = PeerStatus(endpoint: endpoint, lastHandshake: handshake, receivedBytes: try reader.integer(),
                                sentBytes: try reader.integer(), persistentKeepaliveInterval: try reader.integer())
        return PeerRecord(publicKey: key, status: status)
    }

    /// Unused bytes must be zero, so that one record has one encoding.
    private static func readEndpoint(_ reader: inout WireReader) throws(WireError) -> Endpoint? {
        let family = try reader.integer(UInt8.self)
        let address = try reader.bytes(16)
        let port = try reader.integer(UInt16.self)
        switch family {
        case 0:
            guard address.allSatisfy({ $0 == 0 }), port == 0 else { throw WireError("no endpoint, but an address or port") }
            return nil
        case 4:
            guard address[4...].allSatisfy({ $0 == 0 }) else { throw WireError("an IPv4 endpoint with bytes past its address") }
            return Endpoint(address: .v4(IPv4Address(networkOrder: address.baseAddress!)), port: port)
        case 6:
            return Endpoint(address: .v6(IPv6Address(networkOrder: address.baseAddress!)), port: port)
        default:
            throw WireError("endpoint family \(family) is not 0, 4 or 6")
        }
    }
}
