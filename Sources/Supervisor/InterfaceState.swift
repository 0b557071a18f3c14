public import Crypto
public import Protocol

/// One interface as the state file describes it: the WireGuard configuration the data plane
/// applies, and what only the supervisor acts on (the name, its addresses and routes, the CPUs
/// for its workers, endpoints by host name).
public struct InterfaceState: Sendable, Equatable {
    public var name: String
    /// Keys, port, fwmark, MTU, peers. Its `addresses` stay empty: an IPPrefix clears host bits,
    /// which an interface address needs; `addresses` below keeps them.
    public var config = DeviceConfig()
    public var addresses: [InterfaceAddress] = []
    /// The workers' CPUs; nil: every CPU the process may use.
    public var cpus: [Int32]?
    /// Whether to install a route for each peer's allowed IPs (wg-quick's `Table = auto`).
    public var routes = false
    /// Endpoints given by host name, by peer. Such a peer's `config` endpoint is the address the
    /// supervisor resolved (runtime, not persisted), or nil until then.
    public private(set) var hostEndpoints: [PublicKey: ConfiguredEndpoint] = [:]

    public init(name: String) { self.name = name }

    /// Removes a peer with its endpoint by host name, if it had one.
    public mutating func removePeer(_ peer: PublicKey) {
        hostEndpoints[peer] = nil
        config.removePeer(peer)
    }

    /// The endpoint the file gives for a peer: its host name if it has one, else its address.
    public func endpoint(of peer: PublicKey) -> ConfiguredEndpoint? {
        if let host = hostEndpoints[peer] { return host }
        return config.peer(peer)?.endpoint.map { .address($0) }
    }

    /// Sets a peer's endpoint (the peer must exist): an address goes to the configuration, a
    /// host name waits for the supervisor to resolve it.
    public mutating func setEndpoint(_ endpoint: ConfiguredEndpoint?, of peer: PublicKey) {
        switch endpoint {
        case .address(let address)?:
            hostEndpoints[peer] = nil
            config.updatePeer(peer) { $0.endpoint = address }
        case .host?:
            hostEndpoints[peer] = endpoint
            config.updatePeer(peer) { $0.endpoint = nil }
        case nil:
            hostEndpoints[peer] = nil
            config.updatePeer(peer) { $0.endpoint = nil }
        }
    }
}

extension InterfaceState {
    /// Takes the configuration a `wg set` left. A peer keeps its endpoint by host name unless the
    /// request changed that peer's endpoint (or removed the peer): `wg setconf` and `syncconf`
    /// echo back the address in use, and that must not turn a dynamic-DNS peer into a fixed one.
    public mutating func take(_ new: DeviceConfig) {
        let old = config
        config = new
        for peer in hostEndpoints.keys {
            guard let now = new.peer(peer) else {
                hostEndpoints[peer] = nil
                continue
            }
            if now.endpoint != old.peer(peer)?.endpoint { hostEndpoints[peer] = nil }
        }
    }

    /// After a reload: a peer whose host name did not change keeps the address it was resolved
    /// to, rather than losing its endpoint until the resolver runs again.
    public mutating func keepResolved(from running: InterfaceState) {
        for (peer, host) in hostEndpoints where running.hostEndpoints[peer] == host {
            guard let address = running.config.peer(peer)?.endpoint else { continue }
            config.updatePeer(peer) { $0.endpoint = address }
        }
    }

    /// The supervisor resolved a peer's host name: its address goes to the configuration (the
    /// file keeps the name). False if the peer has no host name (any more).
    public mutating func resolved(_ peer: PublicKey, to endpoint: Endpoint) -> Bool {
        guard hostEndpoints[peer] != nil else { return false }
        config.updatePeer(peer) { $0.endpoint = endpoint }
        return true
    }

    /// The peers whose endpoint is a host name, with it.
    public var hostNamedPeers: [(PublicKey, ConfiguredEndpoint)] { hostEndpoints.map { ($0.key, $0.value) } }
}
