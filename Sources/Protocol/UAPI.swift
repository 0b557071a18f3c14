public import Crypto

/// The cross-platform userspace configuration protocol that `wg` speaks (wireguard.com/xplatform),
/// as text in and text out; the socket around it belongs to the supervisor.
///
/// A `set` is applied line by line to a copy of the configuration and swapped in only when the
/// whole request parsed and validated: a rejected request changes nothing (wireguard-go applies
/// each line as it reads it, so a bad line half-way leaves half a change).
public enum UAPIError: Error, Equatable, Sendable {
    /// A value `wg` may not send, or a key it does not know: -EINVAL.
    case invalid(String)
    /// A line that is not `key=value`: -EPROTO.
    case malformed(String)

    /// The negative errno for the reply line, as wg expects it.
    public var errno: Int32 {
        switch self {
        case .invalid: -22
        case .malformed: -71
        }
    }

    public var message: String {
        switch self {
        case .invalid(let m), .malformed(let m): m
        }
    }
}

/// One `set=1` request in progress.
public struct UAPISet: Sendable {
    public private(set) var config: DeviceConfig
    /// The peer that `public_key` selected; nil before the first one (device keys) and after
    /// `remove`.
    private var peer: PublicKey?
    /// Lines for this peer are read and checked but change nothing: the device's own key, a
    /// removed peer, or `update_only` on a peer that does not exist.
    private var ignoringPeer = false
    private var peerIsNew = false
    private var inPeerSection = false

    public init(config: DeviceConfig) { self.config = config }

    /// Applies one line (without its newline).
    public mutating func apply(line: Substring) throws(UAPIError) {
        guard let equals = line.firstIndex(of: "=") else { throw .malformed("line without '=': \(line.prefix(64))") }
        let key = line[line.startIndex..<equals]
        let value = line[line.index(after: equals)...]
        if key == "public_key" {
            try selectPeer(value)
        } else if inPeerSection {
            try applyPeer(key, value)
        } else {
            try applyDevice(key, value)
        }
    }

    private mutating func applyDevice(_ key: Substring, _ value: Substring) throws(UAPIError) {
        switch key {
        case "private_key":
            let key = try secretKey(value, "private_key")
            config.setPrivateKey(key.isZero ? nil : PrivateKey(key))
        case "listen_port":
            config.listenPort = try number(value, UInt16.self, "listen_port")
        case "fwmark":
            config.fwmark = try number(value, UInt32.self, "fwmark")
        case "replace_peers":
            try expectTrue(value, "replace_peers")
            config.removeAllPeers()
        default:
            throw .invalid("unknown device key '\(key.prefix(64))'")
        }
    }

    private mutating func selectPeer(_ value: Substring) throws(UAPIError) {
        inPeerSection = true
        let key = PublicKey(try hexKey(value, "public_key"))
        peerIsNew = config.peer(key) == nil
        // wg sends the device's own key back in some flows; like the kernel, ignore that peer.
        ignoringPeer = !config.addPeer(key)
        peer = key
    }

    private mutating func applyPeer(_ key: Substring, _ value: Substring) throws(UAPIError) {
        switch key {
        case "remove":
            try expectTrue(value, "remove")
            if let peer, !ignoringPeer { config.removePeer(peer) }
            ignoringPeer = true
        case "update_only":
            try expectTrue(value, "update_only")
            if peerIsNew, let peer, !ignoringPeer {
                config.removePeer(peer)
                ignoringPeer = true
            }
        case "preshared_key":
            let key = try secretKey(value, "preshared_key")
            let presharedKey = key.isZero ? nil : PresharedKey(key)
            update { $0.presharedKey = presharedKey }
        case "endpoint":
            guard let endpoint = Endpoint(value) else { throw .invalid("endpoint '\(value.prefix(64))' is not IP:port or [IPv6]:port") }
            update { $0.endpoint = endpoint }
        case "persistent_keepalive_interval":
            let seconds = try number(value, UInt16.self, "persistent_keepalive_interval")
            update { $0.persistentKeepaliveInterval = seconds }
        case "replace_allowed_ips":
            try expectTrue(value, "replace_allowed_ips")
            if let peer, !ignoringPeer { config.removeAllowedIPs(of: peer) }
        case "allowed_ip":
            let removing = value.first == "-"
            guard let prefix = IPPrefix(removing ? value.dropFirst() : value) else {
                throw .invalid("allowed_ip '\(value.prefix(64))' is not an address/prefix-length")
            }
            guard let peer, !ignoringPeer else { return }
            if removing { config.removeAllowedIP(prefix, from: peer) } else { config.addAllowedIP(prefix, to: peer) }
        case "protocol_version":
            guard value == "1" else { throw .invalid("protocol_version must be 1") }
        default:
            // Includes the get-only keys (rx_bytes, last_handshake_time_sec, …).
            throw .invalid("unknown peer key '\(key.prefix(64))'")
        }
    }

    private mutating func update(_ change: (inout PeerConfig) -> Void) {
        guard let peer, !ignoringPeer else { return }
        config.updatePeer(peer, change)
    }

    private func hexKey(_ value: Substring, _ name: String) throws(UAPIError) -> Bytes32 {
        guard let bytes = KeyEncoding.fromHex(value) else { throw .invalid("\(name) is not 64 hex digits") }
        return bytes
    }

    /// A private or preshared key, decoded straight into its slot: it never passes through a
    /// Bytes32, whose copies nothing clears.
    private func secretKey(_ value: Substring, _ name: String) throws(UAPIError) -> SecretKey {
        guard let key = KeyEncoding.secretFromHex(value.utf8) else { throw .invalid("\(name) is not 64 hex digits") }
        return key
    }

    private func expectTrue(_ value: Substring, _ name: String) throws(UAPIError) {
        guard value == "true" else { throw .invalid("\(name) only takes 'true'") }
    }

    /// Plain decimal, as wg writes it: no sign, no spaces, no base prefix, within the type.
    private func number<T: FixedWidthInteger & UnsignedInteger>(_ value: Substring, _: T.Type, _ name: String) throws(UAPIError) -> T {
        guard !value.isEmpty, value.count <= 20, value.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let n = T(value) else {
            throw .invalid("\(name) '\(value.prefix(32))' is not a number from 0 to \(T.max)")
        }
        return n
    }
}

/// The `get=1` reply, in wireguard-go's key order, peers in insertion order (as the kernel
/// lists them). `emit` receives the text in pieces (one device header, then one per peer) so that
/// a reply for 100,000+ allowed IPs is never one giant string.
public enum UAPIGet {
    public static func write(config: DeviceConfig, listenPort: UInt16, status: (PublicKey) -> Peer.Status?,
                             emit: (String) -> Void) {
        var head = ""
        if let key = config.privateKey { head += "private_key=\(key.secret.withUnsafeBytes { KeyEncoding.hex($0) })\n" }
        if listenPort != 0 { head += "listen_port=\(listenPort)\n" }
        if config.fwmark != 0 { head += "fwmark=\(config.fwmark)\n" }
        emit(head)
        for peer in config.peers {
            let now = status(peer.publicKey)
            var text = "public_key=\(KeyEncoding.hex(peer.publicKey.bytes))\n"
            text += "preshared_key=\(peer.presharedKey.map { $0.secret.withUnsafeBytes { KeyEncoding.hex($0) } } ?? KeyEncoding.hex(.zero))\n"
            text += "protocol_version=1\n"
            if let endpoint = now?.endpoint ?? peer.endpoint { text += "endpoint=\(endpoint)\n" }
            let handshake = now?.lastHandshake ?? .zero
            text += "last_handshake_time_sec=\(handshake.seconds)\n"
            text += "last_handshake_time_nsec=\(handshake.nanoseconds)\n"
            text += "tx_bytes=\(now?.sentBytes ?? 0)\n"
            text += "rx_bytes=\(now?.receivedBytes ?? 0)\n"
            text += "persistent_keepalive_interval=\(peer.persistentKeepaliveInterval)\n"
            for prefix in peer.allowedIPs { text += "allowed_ip=\(prefix)\n" }
            emit(text)
        }
        emit("errno=0\n\n")
    }
}
