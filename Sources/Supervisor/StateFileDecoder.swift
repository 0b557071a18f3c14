import Crypto
import JSON
import Protocol
import System

/// The state file's schema, version 1, read and validated whole: a file is taken entirely or
/// refused with the first problem, by path and line. Beyond types and ranges it refuses what
/// would otherwise be silently resolved one way: unknown keys, two interfaces of one name or
/// port, a peer listed twice, an allowed IP given to two peers or twice to one, a peer that is
/// the interface itself.
struct StateFileDecoder {
    let fields: StateFileFields

    static let topKeys = ["version", "interfaces"]
    static let interfaceKeys = ["name", "private_key", "listen_port", "fwmark", "mtu", "addresses", "cpus", "routes", "peers"]
    static let peerKeys = ["public_key", "preshared_key", "endpoint", "allowed_ips", "persistent_keepalive"]
    /// IPv4's minimum (RFC 791) to the largest a UDP datagram can carry.
    static let mtuRange = 68...65_535
    /// CPU numbers as the kernel's default CONFIG_NR_CPUS bound has them (and `--cpus`).
    static let cpuRange: ClosedRange<Int32> = 0...4095

    func decode() throws(StateFileError) -> StateFile {
        let top = fields.document.value
        // The version first: a newer file may have keys this version does not know.
        if case .object(let members) = top, let version = members.first(where: { $0.0 == "version" })?.1,
           version != .integer(StateFile.version) {
            throw fields.error("version", "version \(StateFileFields.shown(version)) is not supported (this wgd reads version \(StateFile.version))")
        }
        let object = try fields.object(top, "", keys: Self.topKeys)
        _ = try object.required("version")
        let list = try object.required("interfaces")
        var file = StateFile()
        var names: [String: Int] = [:], ports: [UInt16: Int] = [:]
        for (i, element) in try fields.array(list.value, list.path).enumerated() {
            let path = StateFileFields.element(list.path, i)
            let interface = try decodeInterface(element, path)
            if let other = names[interface.name] {
                throw fields.error(StateFileFields.member(path, "name"), "interface \"\(interface.name)\" is also interfaces[\(other)]")
            }
            names[interface.name] = i
            let port = interface.config.listenPort
            if port != 0, let other = ports[port] {
                throw fields.error(StateFileFields.member(path, "listen_port"), "port \(port) is also the port of interfaces[\(other)]")
            }
            ports[port] = i
            file.interfaces.append(interface)
        }
        return file
    }

    private func decodeInterface(_ value: JSONValue, _ path: String) throws(StateFileError) -> InterfaceState {
        let object = try fields.object(value, path, keys: Self.interfaceKeys)
        let name = try object.required("name")
        var interface = InterfaceState(name: try fields.string(name.value, name.path))
        guard InterfaceName.isValid(interface.name) else {
            throw fields.error(name.path, "\(StateFileFields.shown(name.value)) is not an interface name (1 to 15 bytes, no '/', ':' or white space)")
        }
        if let key = object.optional("private_key") {
            interface.config.setPrivateKey(try privateKey(key.value, key.path))
        }
        let port = try object.required("listen_port")
        interface.config.listenPort = try fields.integer(port.value, port.path, UInt16.min...UInt16.max)
        let fwmark = try object.required("fwmark")
        interface.config.fwmark = try fields.integer(fwmark.value, fwmark.path, UInt32.min...UInt32.max)
        let mtu = try object.required("mtu")
        interface.config.mtu = try fields.integer(mtu.value, mtu.path, Self.mtuRange)
        let addresses = try object.required("addresses")
        interface.addresses = try decodeAddresses(addresses.value, addresses.path)
        if let cpus = object.optional("cpus") { interface.cpus = try decodeCPUs(cpus.value, cpus.path) }
        if let routes = object.optional("routes") { interface.routes = try fields.bool(routes.value, routes.path) }
        let peers = try object.required("peers")
        var peerIndex: [PublicKey: Int] = [:]
        // Allowed IPs need no such check: 4 MiB of text holds fewer than 400,000 of them.
        let peerList = try fields.array(peers.value, peers.path)
        guard peerList.count <= ConfigBounds.maxPeers else {
            throw fields.error(peers.path, "\(peerList.count) peers; an interface has at most \(ConfigBounds.maxPeers)")
        }
        for (i, element) in peerList.enumerated() {
            try decodePeer(element, StateFileFields.element(peers.path, i), into: &interface, index: &peerIndex)
        }
        return interface
    }

    private func decodePeer(_ value: JSONValue, _ path: String, into interface: inout InterfaceState,
                            index: inout [PublicKey: Int]) throws(StateFileError) {
        let object = try fields.object(value, path, keys: Self.peerKeys)
        let keyField = try object.required("public_key")
        let text = try fields.string(keyField.value, keyField.path)
        guard let bytes = KeyEncoding.fromBase64(text) else {
            throw fields.error(keyField.path, "\"\(text)\" is not a key (44 characters of base64, 32 bytes)")
        }
        let key = PublicKey(bytes)
        if let other = index[key] {
            throw fields.error(keyField.path, "peer \(key) is listed twice (also peers[\(other)])")
        }
        guard interface.config.addPeer(key) else {
            throw fields.error(keyField.path, "peer \(key) is the interface's own public key")
        }
        index[key] = index.count
        if let psk = object.optional("preshared_key") {
            let secret = try presharedKey(psk.value, psk.path)
            interface.config.updatePeer(key) { $0.presharedKey = secret }
        }
        if let endpoint = object.optional("endpoint") {
            let text = try fields.string(endpoint.value, endpoint.path)
            guard let parsed = ConfiguredEndpoint(text) else {
                throw fields.error(endpoint.path, "\"\(text)\" is not an endpoint (IPv4:port, [IPv6]:port or host:port, port 1 to 65535)")
            }
            interface.setEndpoint(parsed, of: key)
        }
        if let keepalive = object.optional("persistent_keepalive") {
            let seconds = try fields.integer(keepalive.value, keepalive.path, UInt16.min...UInt16.max)
            interface.config.updatePeer(key) { $0.persistentKeepaliveInterval = seconds }
        }
        let allowed = try object.required("allowed_ips")
        for (i, element) in try fields.array(allowed.value, allowed.path).enumerated() {
            let itemPath = StateFileFields.element(allowed.path, i)
            let text = try fields.string(element, itemPath)
            guard let prefix = IPPrefix(text) else {
                throw fields.error(itemPath, "\"\(text)\" is not an address/prefix-length")
            }
            if let owner = interface.config.owner(of: prefix) {
                let whose = owner == key ? "is listed twice for this peer" : "already belongs to peer \(owner)"
                throw fields.error(itemPath, "\(prefix) \(whose)")
            }
            interface.config.addAllowedIP(prefix, to: key)
        }
    }

    private func decodeAddresses(_ value: JSONValue, _ path: String) throws(StateFileError) -> [InterfaceAddress] {
        var addresses: [InterfaceAddress] = []
        for (i, element) in try fields.array(value, path).enumerated() {
            let itemPath = StateFileFields.element(path, i)
            let text = try fields.string(element, itemPath)
            guard let address = InterfaceAddress(text) else {
                throw fields.error(itemPath, "\"\(text)\" is not an address/prefix-length")
            }
            guard !addresses.contains(where: { $0.address == address.address }) else {
                throw fields.error(itemPath, "\(address.address) is listed twice")
            }
            addresses.append(address)
        }
        return addresses
    }

    private func decodeCPUs(_ value: JSONValue, _ path: String) throws(StateFileError) -> [Int32] {
        var cpus: [Int32] = []
        for (i, element) in try fields.array(value, path).enumerated() {
            let itemPath = StateFileFields.element(path, i)
            let cpu = try fields.integer(element, itemPath, Self.cpuRange)
            guard !cpus.contains(cpu) else { throw fields.error(itemPath, "CPU \(cpu) is listed twice") }
            cpus.append(cpu)
        }
        guard !cpus.isEmpty else { throw fields.error(path, "no CPUs (leave \"cpus\" out for all of them)") }
        return cpus
    }

    // Secrets are decoded from the string's bytes straight into their slot; messages never
    // repeat a secret's text.

    private func privateKey(_ value: JSONValue, _ path: String) throws(StateFileError) -> PrivateKey {
        let text = try fields.string(value, path)
        guard let secret = KeyEncoding.secretFromBase64(text.utf8) else {
            throw fields.error(path, "not a key (44 characters of base64, 32 bytes)")
        }
        return PrivateKey(secret)
    }

    private func presharedKey(_ value: JSONValue, _ path: String) throws(StateFileError) -> PresharedKey {
        let text = try fields.string(value, path)
        guard let secret = KeyEncoding.secretFromBase64(text.utf8) else {
            throw fields.error(path, "not a key (44 characters of base64, 32 bytes)")
        }
        return PresharedKey(secret)
    }
}
