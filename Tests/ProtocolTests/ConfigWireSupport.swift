import Crypto
@testable import Protocol

/// Random configuration changes and configurations, and the two ways to turn a change into
/// something else: ConfigWire bytes, and the UAPI lines that say the same.
enum ConfigWireSupport {
    static func encode(_ change: ConfigChange) throws(WireError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: try ConfigWire.encodedCount(of: change))
        bytes.withUnsafeMutableBytes { raw in
            var writer = WireWriter(raw)
            ConfigWire.encode(change, to: &writer)
            precondition(writer.isFull)
        }
        return bytes
    }

    static func decode(_ bytes: [UInt8]) throws(WireError) -> ConfigChange {
        var result = Result<ConfigChange, WireError>.failure(WireError("unset"))
        bytes.withUnsafeBytes { raw in
            var reader = WireReader(raw)
            result = Result { () throws(WireError) in try ConfigWire.decode(&reader) }
        }
        return try result.get()
    }

    // MARK: as UAPI text

    static func hex(_ bytes: UnsafeRawBufferPointer) -> String { KeyEncoding.hex(bytes) }

    /// The `set` line that asks for `operation`, as wg would write it.
    static func uapiLine(_ operation: ConfigOperation) -> String {
        let zero = String(repeating: "0", count: 64)
        switch operation {
        case .privateKey(let key): return "private_key=" + (key.map { $0.secret.withUnsafeBytes(hex) } ?? zero)
        case .listenPort(let port): return "listen_port=\(port)"
        case .fwmark(let mark): return "fwmark=\(mark)"
        case .replacePeers: return "replace_peers=true"
        case .peer(let key): return "public_key=" + KeyEncoding.hex(key.bytes)
        case .removePeer: return "remove=true"
        case .updateOnly: return "update_only=true"
        case .presharedKey(let key): return "preshared_key=" + (key.map { $0.secret.withUnsafeBytes(hex) } ?? zero)
        case .endpoint(let endpoint): return "endpoint=\(endpoint)"
        case .persistentKeepaliveInterval(let seconds): return "persistent_keepalive_interval=\(seconds)"
        case .replaceAllowedIPs: return "replace_allowed_ips=true"
        case .addAllowedIP(let prefix): return "allowed_ip=\(prefix)"
        case .removeAllowedIP(let prefix): return "allowed_ip=-\(prefix)"
        }
    }

    /// What UAPISetParser makes of `change` written as lines: it must take every one of them.
    static func reparsed(_ change: ConfigChange) throws(UAPIError) -> ConfigChange {
        var parser = UAPISetParser()
        var result = ConfigChange()
        for operation in change {
            if let parsed = try parser.parse(Substring(uapiLine(operation))) { result.append(parsed) }
        }
        return result
    }

    // MARK: random values

    static func bytes(_ count: Int, _ random: inout FastRandom) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) } }

    /// A few keys over and over, so that changes and configurations share peers.
    static func publicKey(_ random: inout FastRandom) -> PublicKey {
        var bytes = [UInt8](repeating: 0, count: 32)
        bytes[0] = UInt8.random(in: 0..<6, using: &random)
        if Int.random(in: 0..<20, using: &random) == 0 { bytes = Self.bytes(32, &random) }
        return PublicKey(bytes.withUnsafeBytes { Bytes32($0) })
    }

    static func address(v4: Bool, _ random: inout FastRandom) -> IPAddress {
        v4 ? .v4(IPv4Address(value: UInt32.random(in: 0...UInt32.max, using: &random)))
            : .v6(IPv6Address(high: UInt64.random(in: 0...UInt64.max, using: &random), low: UInt64.random(in: 0...UInt64.max, using: &random)))
    }

    /// Prefixes from a small pool (so that peers contend for them) and now and then any prefix.
    static func prefix(_ random: inout FastRandom) -> IPPrefix {
        let v4 = Bool.random(using: &random)
        if Int.random(in: 0..<4, using: &random) == 0 {
            return IPPrefix(address: address(v4: v4, &random), length: Int.random(in: 0...(v4 ? 32 : 128), using: &random))!
        }
        let n = UInt32.random(in: 0..<8, using: &random)
        return v4 ? IPPrefix(address: .v4(IPv4Address(value: 0x0A00_0000 | n << 8)), length: 24)!
            : IPPrefix(address: .v6(IPv6Address(high: 0xFD00_0000_0000_0000 | UInt64(n) << 16, low: 0)), length: 64)!
    }

    static func endpoint(_ random: inout FastRandom) -> Endpoint {
        Endpoint(address: address(v4: Bool.random(using: &random), &random), port: UInt16.random(in: 0...UInt16.max, using: &random))
    }

    static func deviceOperation(_ random: inout FastRandom) -> ConfigOperation {
        switch Int.random(in: 0..<5, using: &random) {
        case 0: .privateKey(Bool.random(using: &random) ? PrivateKey.generate() : nil)
        case 1: .listenPort(UInt16.random(in: 0...UInt16.max, using: &random))
        case 2: .fwmark(UInt32.random(in: 0...UInt32.max, using: &random))
        default: .replacePeers
        }
    }

    static func peerOperation(_ random: inout FastRandom) -> ConfigOperation {
        switch Int.random(in: 0..<16, using: &random) {
        case 0: .removePeer
        case 1: .updateOnly
        case 2: .presharedKey(Bool.random(using: &random) ? PresharedKey.generate() : nil)
        case 3: .endpoint(endpoint(&random))
        case 4: .persistentKeepaliveInterval(UInt16.random(in: 0...UInt16.max, using: &random))
        case 5: .replaceAllowedIPs
        case 6, 7: .removeAllowedIP(prefix(&random))
        default: .addAllowedIP(prefix(&random))
        }
    }

    /// A change in the parser's order: some device operations, then peers with theirs.
    static func change(_ random: inout FastRandom, peers: ClosedRange<Int> = 0...4) -> ConfigChange {
        var change = ConfigChange()
        for _ in 0..<Int.random(in: 0...3, using: &random) { change.append(deviceOperation(&random)) }
        for _ in 0..<Int.random(in: peers, using: &random) {
            change.append(.peer(publicKey(&random)))
            for _ in 0..<Int.random(in: 0...6, using: &random) { change.append(peerOperation(&random)) }
        }
        return change
    }

    /// A configuration as a change would leave it, with mtu and addresses of its own.
    static func config(_ random: inout FastRandom) -> DeviceConfig {
        var config = DeviceConfig()
        change(&random, peers: 0...6).apply(to: &config)
        config.mtu = Int.random(in: 1280...9000, using: &random)
        config.addresses = (0..<Int.random(in: 0...2, using: &random)).map { _ in prefix(&random) }
        return config
    }
}
