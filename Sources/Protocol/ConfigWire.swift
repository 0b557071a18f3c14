/// `ConfigChange` in binary, for the control channel: the operations of one `set` (or of a whole
/// configuration, `ConfigChange(replacing:)`) in order, each a tag byte and a payload whose size
/// the tag fixes. Integers are little-endian, addresses in network order.
///
/// | tag | operation | payload |
/// |---|---|---|
/// | 1 | private key | 32 bytes, all zero for none (as `private_key=` takes it) |
/// | 2 | listen port | u16 |
/// | 3 | fwmark | u32 |
/// | 4 | replace peers | — |
/// | 5 | peer | 32-byte public key |
/// | 6 | remove peer | — |
/// | 7 | update only | — |
/// | 8 | preshared key | 32 bytes, all zero for none |
/// | 9, 10 | endpoint IPv4, IPv6 | 4 or 16 address bytes, u16 port |
/// | 11 | persistent keepalive | u16 seconds |
/// | 12 | replace allowed IPs | — |
/// | 13, 14 | add allowed IP IPv4, IPv6 | 4 or 16 address bytes, u8 prefix length |
/// | 15, 16 | remove allowed IP IPv4, IPv6 | the same |
///
/// Decoding accepts exactly what `UAPISetParser` can produce, each in one encoding: device
/// operations only before the first peer, peer operations only after it; a private key clamped
/// (the parser clamps what it takes); prefix lengths within the family and no host bits (the
/// parser clears them). So encode(decode(bytes)) == bytes for every input decode accepts.
public enum ConfigWire {
    enum Tag: UInt8 {
        case privateKey = 1, listenPort, fwmark, replacePeers, peer, removePeer, updateOnly, presharedKey
        case endpointV4, endpointV6, persistentKeepalive, replaceAllowedIPs
        case addV4, addV6, removeV4, removeV6
    }

    /// The bytes `encode` will write; throws for a change the parser could not have produced (a
    /// device operation after a peer's, a peer operation before any peer), which decode refuses.
    public static func encodedCount(of change: ConfigChange) throws(WireError) -> Int {
        var sections = ConfigSections()
        var total = 0
        for operation in change {
            try sections.check(operation)
            total += 1 + payloadSize(of: tag(of: operation))
        }
        return total
    }

    /// Writes every operation; the writer must have room for `encodedCount(of:)` bytes. Keys go
    /// from their slots straight into the writer's buffer: its owner must clear it after use.
    public static func encode(_ change: ConfigChange, to writer: inout WireWriter) {
        for operation in change {
            writer.write(tag(of: operation).rawValue)
            writePayload(of: operation, to: &writer)
        }
    }

    /// Reads operations to the end of `reader`.
    public static func decode(_ reader: inout WireReader) throws(WireError) -> ConfigChange {
        var change = ConfigChange()
        var sections = ConfigSections()
        while reader.remaining > 0 {
            let at = reader.offset
            let byte = try reader.integer(UInt8.self)
            guard let tag = Tag(rawValue: byte) else { throw WireError("unknown operation \(byte) at byte \(at)") }
            let operation: ConfigOperation
            do throws(WireError) {
                operation = try readPayload(of: tag, from: &reader)
                try sections.check(operation)
            } catch {
                throw WireError("operation \(tag) at byte \(at): \(error.reason)")
            }
            change.append(operation)
        }
        return change
    }

    static func payloadSize(of tag: Tag) -> Int {
        switch tag {
        case .privateKey, .peer, .presharedKey: 32
        case .listenPort, .persistentKeepalive: 2
        case .fwmark: 4
        case .replacePeers, .removePeer, .updateOnly, .replaceAllowedIPs: 0
        case .endpointV4: 4 + 2
        case .endpointV6: 16 + 2
        case .addV4, .removeV4: 4 + 1
        case .addV6, .removeV6: 16 + 1
        }
    }

    static func tag(of operation: ConfigOperation) -> Tag {
        switch operation {
        case .privateKey: .privateKey
        case .listenPort: .listenPort
        case .fwmark: .fwmark
        case .replacePeers: .replacePeers
        case .peer: .peer
        case .removePeer: .removePeer
        case .updateOnly: .updateOnly
        case .presharedKey: .presharedKey
        case .endpoint(let endpoint): endpoint.address.isV4 ? .endpointV4 : .endpointV6
        case .persistentKeepaliveInterval: .persistentKeepalive
        case .replaceAllowedIPs: .replaceAllowedIPs
        case .addAllowedIP(let prefix): prefix.address.isV4 ? .addV4 : .addV6
        case .removeAllowedIP(let prefix): prefix.address.isV4 ? .removeV4 : .removeV6
        }
    }
}

/// The parser's one ordering rule: device keys come before the first `public_key`, peer keys
/// after it.
struct ConfigSections {
    private var inPeers = false

    mutating func check(_ operation: ConfigOperation) throws(WireError) {
        switch operation {
        case .peer: inPeers = true
        case .privateKey, .listenPort, .fwmark, .replacePeers:
            guard !inPeers else { throw WireError("a device setting after the first peer") }
        case .removePeer, .updateOnly, .presharedKey, .endpoint, .persistentKeepaliveInterval, .replaceAllowedIPs,
             .addAllowedIP, .removeAllowedIP:
            guard inPeers else { throw WireError("a peer setting before any peer") }
        }
    }
}
