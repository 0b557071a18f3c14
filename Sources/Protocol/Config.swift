public import Crypto

/// A peer as configured: what `wg showconf` prints and the state file keeps. Runtime figures
/// (handshake time, byte counts, roamed endpoint) live in the data plane, not here.
public struct PeerConfig: Sendable, Equatable {
    public var publicKey: PublicKey
    public var presharedKey: PresharedKey?
    /// Assigning it, even the value it already has, is an event: `wg set … endpoint E` must pull
    /// back a peer that roamed away from E, and the path to E needs a fresh source address.
    public var endpoint: Endpoint? { didSet { endpointAssignments.count &+= 1 } }
    /// Counts the assignments to `endpoint`, so that `Device.apply` sees one that kept the value.
    public private(set) var endpointAssignments = AssignmentCount()
    /// Seconds; 0 = off.
    public var persistentKeepaliveInterval: UInt16 = 0
    /// In the order they were added; each prefix belongs to this peer only.
    public fileprivate(set) var allowedIPs: [IPPrefix] = []

    public init(publicKey: PublicKey) { self.publicKey = publicKey }
}

/// How often a setting was assigned. It records events, not configuration, so every two counts
/// are equal: a config that was only told again what it held still equals the one before (the
/// state file need not be rewritten); `Device.apply` compares `count` itself.
public struct AssignmentCount: Sendable, Equatable {
    public internal(set) var count: UInt64 = 0
    public static func == (_: AssignmentCount, _: AssignmentCount) -> Bool { true }
}

/// The whole configuration of one interface. Every change goes through the mutating methods,
/// which keep the invariants the kernel keeps:
/// - peers are unique by public key and listed in insertion order;
/// - a prefix belongs to at most one peer: adding it to another moves it;
/// - no peer has the device's own public key.
/// A change is made on a copy and swapped in whole, so a rejected request changes nothing.
public struct DeviceConfig: Sendable, Equatable {
    public private(set) var privateKey: PrivateKey?
    public var listenPort: UInt16 = 0
    public var fwmark: UInt32 = 0
    public var mtu: Int = WireGuard.defaultMTU
    /// The interface's own addresses (the router's side of the tunnel), for the state file.
    public var addresses: [IPPrefix] = []
    public private(set) var peers: [PeerConfig] = []
    private var peerIndex: [PublicKey: Int] = [:]
    private var prefixOwner: [IPPrefix: PublicKey] = [:]

    public init() {}

    public var publicKey: PublicKey? { privateKey?.publicKey }

    /// Sets (or with nil removes) the private key. A peer with the new public key is removed:
    /// a device cannot be its own peer.
    public mutating func setPrivateKey(_ key: PrivateKey?) {
        privateKey = key
        if let own = key?.publicKey { removePeer(own) }
    }

    public func peer(_ key: PublicKey) -> PeerConfig? { peerIndex[key].map { peers[$0] } }

    /// Adds a peer if it is new (at the end); returns false, changing nothing, for the device's
    /// own public key, which the UAPI silently ignores.
    @discardableResult
    public mutating func addPeer(_ key: PublicKey) -> Bool {
        if key == publicKey { return false }
        if peerIndex[key] == nil {
            peerIndex[key] = peers.count
            peers.append(PeerConfig(publicKey: key))
        }
        return true
    }

    public mutating func removePeer(_ key: PublicKey) {
        guard let index = peerIndex[key] else { return }
        for prefix in peers[index].allowedIPs { prefixOwner[prefix] = nil }
        peers.remove(at: index)
        peerIndex[key] = nil
        for i in index..<peers.count { peerIndex[peers[i].publicKey] = i }
    }

    public mutating func removeAllPeers() {
        peers = []
        peerIndex = [:]
        prefixOwner = [:]
    }

    /// Edits a peer's plain fields (key, endpoint, keepalive); allowed IPs have their own methods.
    public mutating func updatePeer(_ key: PublicKey, _ change: (inout PeerConfig) -> Void) {
        guard let index = peerIndex[key] else { return }
        change(&peers[index])
        precondition(peers[index].publicKey == key, "a peer's public key is its identity")
    }

    /// Gives `prefix` to peer `key`, taking it from whichever peer had it.
    public mutating func addAllowedIP(_ prefix: IPPrefix, to key: PublicKey) {
        guard let index = peerIndex[key] else { return }
        if let owner = prefixOwner[prefix] {
            if owner == key { return }
            peers[peerIndex[owner]!].allowedIPs.removeAll { $0 == prefix }
        }
        prefixOwner[prefix] = key
        peers[index].allowedIPs.append(prefix)
    }

    /// Removes `prefix` from peer `key` if that peer has it.
    public mutating func removeAllowedIP(_ prefix: IPPrefix, from key: PublicKey) {
        guard let index = peerIndex[key], prefixOwner[prefix] == key else { return }
        prefixOwner[prefix] = nil
        peers[index].allowedIPs.removeAll { $0 == prefix }
    }

    public mutating func removeAllowedIPs(of key: PublicKey) {
        guard let index = peerIndex[key] else { return }
        for prefix in peers[index].allowedIPs { prefixOwner[prefix] = nil }
        peers[index].allowedIPs = []
    }

    /// Which peer owns `prefix`, if any.
    public func owner(of prefix: IPPrefix) -> PublicKey? { prefixOwner[prefix] }

    public static func == (a: DeviceConfig, b: DeviceConfig) -> Bool {
        a.privateKey == b.privateKey && a.listenPort == b.listenPort && a.fwmark == b.fwmark && a.mtu == b.mtu
            && a.addresses == b.addresses && a.peers == b.peers
    }
}
