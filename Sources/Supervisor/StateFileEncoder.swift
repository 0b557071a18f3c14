import Crypto
import JSON
import Protocol

/// The state file's canonical form: keys in the schema's order, optional fields written only
/// when set (cpus, preshared_key, endpoint, a keepalive other than 0), so that one
/// configuration has exactly one text.
enum StateFileEncoder {
    static func encode(_ file: StateFile) -> JSONValue {
        .object([
            ("version", .integer(StateFile.version)),
            ("interfaces", .array(file.interfaces.map(encode))),
        ])
    }

    static func encode(_ interface: InterfaceState) -> JSONValue {
        let config = interface.config
        var members: [(String, JSONValue)] = [("name", .string(interface.name))]
        if let key = config.privateKey {
            members.append(("private_key", .string(key.secret.withUnsafeBytes { KeyEncoding.base64($0) })))
        }
        members += [
            ("listen_port", .integer(config.listenPort)),
            ("fwmark", .integer(config.fwmark)),
            ("mtu", .integer(config.mtu)),
            ("addresses", .array(interface.addresses.map { .string($0.description) })),
        ]
        if let cpus = interface.cpus { members.append(("cpus", .array(cpus.map { .integer($0) }))) }
        members.append(("routes", .bool(interface.routes)))
        members.append(("peers", .array(config.peers.map { encode($0, of: interface) })))
        return .object(members)
    }

    static func encode(_ peer: PeerConfig, of interface: InterfaceState) -> JSONValue {
        var members: [(String, JSONValue)] = [("public_key", .string(peer.publicKey.description))]
        if let psk = peer.presharedKey {
            members.append(("preshared_key", .string(psk.secret.withUnsafeBytes { KeyEncoding.base64($0) })))
        }
        if let endpoint = interface.endpoint(of: peer.publicKey) { members.append(("endpoint", .string(endpoint.description))) }
        members.append(("allowed_ips", .array(peer.allowedIPList.map { .string($0.description) })))
        if peer.persistentKeepaliveInterval != 0 {
            members.append(("persistent_keepalive", .integer(peer.persistentKeepaliveInterval)))
        }
        return .object(members)
    }
}
