public import Crypto

/// The cross-platform userspace configuration protocol that `wg` speaks (wireguard.com/xplatform),
/// as text in and text out; the socket around it belongs to the supervisor.
///
/// A `set` is parsed whole into operations (`ConfigChange`) and applied to a copy of the
/// configuration only when every line is valid: a rejected request changes nothing
/// (wireguard-go applies each line as it reads it, so a bad line half-way leaves half a change).
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

/// The lines of one `set=1` request, each turned into the operation it asks for. Every error a
/// request can have is in its text, so a request is checked whole before any of it is applied.
public struct UAPISetParser: Sendable {
    /// After the first `public_key`, keys are peer keys.
    private var inPeerSection = false

    public init() {}

    /// Parses one line (without its newline); nil for a line that asks for nothing
    /// (`protocol_version=1`).
    public mutating func parse(_ line: Substring) throws(UAPIError) -> ConfigOperation? {
        guard let equals = line.firstIndex(of: "=") else { throw .malformed("line without '=': \(line.prefix(64))") }
        let key = line[line.startIndex..<equals]
        let value = line[line.index(after: equals)...]
        if key == "public_key" {
            inPeerSection = true
            return .peer(PublicKey(try hexKey(value, "public_key")))
        }
        return inPeerSection ? try peerOperation(key, value) : try deviceOperation(key, value)
    }

    private func deviceOperation(_ key: Substring, _ value: Substring) throws(UAPIError) -> ConfigOperation {
        switch key {
        case "private_key":
            let key = try secretKey(value, "private_key")
            return .privateKey(key.isZero ? nil : PrivateKey(key))
        case "listen_port":
            return .listenPort(try number(value, UInt16.self, "listen_port"))
        case "fwmark":
            return .fwmark(try number(value, UInt32.self, "fwmark"))
        case "replace_peers":
            try expectTrue(value, "replace_peers")
            return .replacePeers
        default:
            throw .invalid("unknown device key '\(key.prefix(64))'")
        }
    }

    private func peerOperation(_ key: Substring, _ value: Substring) throws(UAPIError) -> ConfigOperation? {
        switch key {
        case "remove":
            try expectTrue(value, "remove")
            return .removePeer
        case "update_only":
            try expectTrue(value, "update_only")
            return .updateOnly
        case "preshared_key":
            let key = try secretKey(value, "preshared_key")
            return .presharedKey(key.isZero ? nil : PresharedKey(key))
        case "endpoint":
            guard let endpoint = Endpoint(value) else { throw .invalid("endpoint '\(value.prefix(64))' is not IP:port or [IPv6]:port") }
            return .endpoint(endpoint)
        case "persistent_keepalive_interval":
            return .persistentKeepaliveInterval(try number(value, UInt16.self, "persistent_keepalive_interval"))
        case "replace_allowed_ips":
            try expectTrue(value, "replace_allowed_ips")
            return .replaceAllowedIPs
        case "allowed_ip":
            let removing = value.first == "-"
            guard let prefix = IPPrefix(removing ? value.dropFirst() : value) else {
                throw .invalid("allowed_ip '\(value.prefix(64))' is not an address/prefix-length")
            }
            return removing ? .removeAllowedIP(prefix) : .addAllowedIP(prefix)
        case "protocol_version":
            guard value == "1" else { throw .invalid("protocol_version must be 1") }
            return nil
        default:
            // Includes the get-only keys (rx_bytes, last_handshake_time_sec, …).
            throw .invalid("unknown peer key '\(key.prefix(64))'")
        }
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

/// One `set=1` request applied line by line to a working copy of a configuration, which the
/// caller swaps in only if every line parsed.
public struct UAPISet: Sendable {
    public private(set) var config: DeviceConfig
    private var parser = UAPISetParser()
    private var editor = ConfigEditor()

    public init(config: DeviceConfig) { self.config = config }

    /// Applies one line (without its newline).
    public mutating func apply(line: Substring) throws(UAPIError) {
        if let operation = try parser.parse(line) { editor.apply(operation, to: &config) }
    }
}

/// The `get=1` reply, in wireguard-go's key order, peers in insertion order (as the kernel
/// lists them). `emit` receives the text in pieces (the device header, then each peer, in pieces
/// of at most about `pieceLength` bytes) so that a reply for 400,000 allowed IPs is never one
/// giant string.
public enum UAPIGet {
    public static let pieceLength = 64 * 1024

    public static func write(config: DeviceConfig, listenPort: UInt16, status: (PublicKey) -> PeerStatus?,
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
            for prefix in peer.allowedIPList {
                text += "allowed_ip=\(prefix)\n"
                if text.utf8.count >= pieceLength {
                    emit(text)
                    text = ""
                    text.reserveCapacity(pieceLength + 64)
                }
            }
            emit(text)
        }
        emit("errno=0\n\n")
    }
}
