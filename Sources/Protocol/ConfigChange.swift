public import Crypto

/// What one line of a `set` asks for, parsed and checked. Whether a line is valid never depends
/// on the configuration it will change, so a whole request can be parsed before anything is
/// locked, and applying it afterwards cannot fail.
public enum ConfigOperation: Sendable, Equatable {
    case privateKey(PrivateKey?)
    case listenPort(UInt16)
    case fwmark(UInt32)
    case replacePeers
    /// `public_key=`: selects the peer (creating it) that the lines after it are about. Boxed, so
    /// that a key's 32 bytes do not make every operation (mostly allowed IPs) that large.
    indirect case peer(PublicKey)
    case removePeer
    case updateOnly
    case presharedKey(PresharedKey?)
    case endpoint(Endpoint)
    case persistentKeepaliveInterval(UInt16)
    case replaceAllowedIPs
    case addAllowedIP(IPPrefix)
    case removeAllowedIP(IPPrefix)
}

/// A whole `set` request as operations in the order they came. Large requests are mostly
/// allowed IPs (the kernel's selftest sends 130,560), so the list is kept in fixed-size chunks:
/// it never holds two copies of itself while growing, as one array would.
public struct ConfigChange: Sendable, Equatable, Sequence {
    private static let chunkSize = 4096
    private var chunks: [ContiguousArray<ConfigOperation>] = []
    public private(set) var count = 0

    public init() {}

    public mutating func append(_ operation: ConfigOperation) {
        if count % Self.chunkSize == 0 {
            chunks.append([])
            chunks[chunks.count - 1].reserveCapacity(Self.chunkSize)
        }
        chunks[chunks.count - 1].append(operation)
        count += 1
    }

    /// The operations that make any configuration equal to `config` in everything operations
    /// reach (all but `mtu` and `addresses`, which no `set` line carries): the whole
    /// configuration as one change, for a data plane that starts, restarts or reloads.
    public init(replacing config: DeviceConfig) {
        append(.replacePeers)
        append(.privateKey(config.privateKey))
        append(.listenPort(config.listenPort))
        append(.fwmark(config.fwmark))
        for peer in config.peers {
            append(.peer(peer.publicKey))
            append(.presharedKey(peer.presharedKey))
            if let endpoint = peer.endpoint { append(.endpoint(endpoint)) }
            append(.persistentKeepaliveInterval(peer.persistentKeepaliveInterval))
            append(.replaceAllowedIPs)
            for prefix in peer.allowedIPList { append(.addAllowedIP(prefix)) }
        }
    }

    /// Applies every operation to `config`, in order.
    public func apply(to config: inout DeviceConfig) {
        var editor = ConfigEditor()
        for operation in self { editor.apply(operation, to: &config) }
    }

    public var underestimatedCount: Int { count }

    public func makeIterator() -> Iterator { Iterator(chunks: chunks) }

    /// The operations in order, chunk by chunk.
    public struct Iterator: IteratorProtocol {
        let chunks: [ContiguousArray<ConfigOperation>]
        var chunk = 0
        var index = 0

        public mutating func next() -> ConfigOperation? {
            while chunk < chunks.count {
                if index < chunks[chunk].count {
                    defer { index += 1 }
                    return chunks[chunk][index]
                }
                chunk += 1
                index = 0
            }
            return nil
        }
    }

    public static func == (a: ConfigChange, b: ConfigChange) -> Bool { a.count == b.count && a.elementsEqual(b) }
}

/// Applies operations one after another, remembering which peer the last `public_key` chose.
struct ConfigEditor: Sendable {
    /// The selected peer; nil before the first one (device keys) and after `remove`.
    private var peer: PublicKey?
    /// Lines for this peer change nothing: the device's own key, a removed peer, or
    /// `update_only` on a peer that did not exist.
    private var ignoringPeer = false
    private var peerIsNew = false

    mutating func apply(_ operation: ConfigOperation, to config: inout DeviceConfig) {
        switch operation {
        case .privateKey(let key): config.setPrivateKey(key)
        case .listenPort(let port): config.listenPort = port
        case .fwmark(let mark): config.fwmark = mark
        case .replacePeers: config.removeAllPeers()
        case .peer(let key): select(key, in: &config)
        default: applyToPeer(operation, in: &config)
        }
    }

    private mutating func select(_ key: PublicKey, in config: inout DeviceConfig) {
        peerIsNew = config.peer(key) == nil
        // wg sends the device's own key back in some flows; like the kernel, ignore that peer.
        ignoringPeer = !config.addPeer(key)
        peer = key
    }

    private mutating func applyToPeer(_ operation: ConfigOperation, in config: inout DeviceConfig) {
        guard let peer, !ignoringPeer else { return }
        switch operation {
        case .removePeer:
            config.removePeer(peer)
            ignoringPeer = true
        case .updateOnly:
            guard peerIsNew else { return }
            config.removePeer(peer)
            ignoringPeer = true
        case .presharedKey(let key): config.updatePeer(peer) { $0.presharedKey = key }
        case .endpoint(let endpoint): config.updatePeer(peer) { $0.endpoint = endpoint }
        case .persistentKeepaliveInterval(let seconds): config.updatePeer(peer) { $0.persistentKeepaliveInterval = seconds }
        case .replaceAllowedIPs: config.removeAllowedIPs(of: peer)
        case .addAllowedIP(let prefix): config.addAllowedIP(prefix, to: peer)
        case .removeAllowedIP(let prefix): config.removeAllowedIP(prefix, from: peer)
        case .privateKey, .listenPort, .fwmark, .replacePeers, .peer: break  // device-level: handled above
        }
    }
}
