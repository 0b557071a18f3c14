import Crypto

/// The payloads of `ConfigWire`'s operations, one function each way.
extension ConfigWire {
    static func writePayload(of operation: ConfigOperation, to writer: inout WireWriter) {
        switch operation {
        case .privateKey(let key):
            // Straight from the slot into the writer: no copy on the way.
            if let key { key.secret.withUnsafeBytes { writer.write(bytes: $0) } } else { writer.write(zeros: SecretKey.count) }
        case .listenPort(let port): writer.write(port)
        case .fwmark(let mark): writer.write(mark)
        case .peer(let key): key.bytes.withUnsafeBytes { writer.write(bytes: $0) }
        case .presharedKey(let key):
            if let key { key.secret.withUnsafeBytes { writer.write(bytes: $0) } } else { writer.write(zeros: SecretKey.count) }
        case .endpoint(let endpoint):
            endpoint.address.withUnsafeBytes { writer.write(bytes: $0) }
            writer.write(endpoint.port)
        case .persistentKeepaliveInterval(let seconds): writer.write(seconds)
        case .addAllowedIP(let prefix), .removeAllowedIP(let prefix):
            prefix.address.withUnsafeBytes { writer.write(bytes: $0) }
            writer.write(prefix.length)
        case .replacePeers, .removePeer, .updateOnly, .replaceAllowedIPs: break
        }
    }

    static func readPayload(of tag: Tag, from reader: inout WireReader) throws(WireError) -> ConfigOperation {
        switch tag {
        case .privateKey: return .privateKey(try privateKey(&reader))
        case .listenPort: return .listenPort(try reader.integer())
        case .fwmark: return .fwmark(try reader.integer())
        case .replacePeers: return .replacePeers
        case .peer: return .peer(PublicKey(Bytes32(try reader.bytes(32))))
        case .removePeer: return .removePeer
        case .updateOnly: return .updateOnly
        case .presharedKey: return .presharedKey(try presharedKey(&reader))
        case .endpointV4: return .endpoint(Endpoint(address: .v4(try reader.ipv4()), port: try reader.integer()))
        case .endpointV6: return .endpoint(Endpoint(address: .v6(try reader.ipv6()), port: try reader.integer()))
        case .persistentKeepalive: return .persistentKeepaliveInterval(try reader.integer())
        case .replaceAllowedIPs: return .replaceAllowedIPs
        case .addV4: return .addAllowedIP(try prefix(.v4(try reader.ipv4()), &reader))
        case .addV6: return .addAllowedIP(try prefix(.v6(try reader.ipv6()), &reader))
        case .removeV4: return .removeAllowedIP(try prefix(.v4(try reader.ipv4()), &reader))
        case .removeV6: return .removeAllowedIP(try prefix(.v6(try reader.ipv6()), &reader))
        }
    }

    /// All zero is none, as for `private_key=`; any other key must be clamped, the only form
    /// the parser hands on, so that one key has one encoding.
    private static func privateKey(_ reader: inout WireReader) throws(WireError) -> PrivateKey? {
        let bytes = try reader.bytes(SecretKey.count)
        if ConstantTime.isZero(bytes) { return nil }
        guard bytes[0] & 0x07 == 0, bytes[31] & 0xC0 == 0x40 else { throw WireError("the private key is not clamped") }
        return PrivateKey(copying: bytes)
    }

    private static func presharedKey(_ reader: inout WireReader) throws(WireError) -> PresharedKey? {
        let bytes = try reader.bytes(SecretKey.count)
        return ConstantTime.isZero(bytes) ? nil : PresharedKey(copying: bytes)
    }

    /// The length after the address; host bits must already be clear.
    private static func prefix(_ address: IPAddress, _ reader: inout WireReader) throws(WireError) -> IPPrefix {
        let length = try reader.integer(UInt8.self)
        guard let prefix = IPPrefix(address: address, length: Int(length)) else {
            throw WireError("prefix length \(length) is longer than the address")
        }
        guard prefix.address == address else { throw WireError("\(address)/\(length) has host bits set") }
        return prefix
    }
}
