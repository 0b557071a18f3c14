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
    /// In the order they were added; each prefix belongs to this peer only. Read in place from
    /// the configuration this value came from.
    public fileprivate(set) var allowedIPList = AllowedIPList()

    public init(publicKey: PublicKey) { self.publicKey = publicKey }

    /// The allowed IPs as an array: a copy, where `allowedIPList` reads them in place.
    public var allowedIPs: [IPPrefix] { Array(allowedIPList) }
}

/// A peer's allowed IPs in the order they were added, read from the configuration's trie. Holding
/// one shares the trie's pages (nothing is copied), and walking it allocates nothing.
public struct AllowedIPList: Sequence, Sendable, Equatable {
    private let trie: PrefixTrie
    private let owner: Int32

    /// No prefixes.
    public init() { self.init(PrefixTrie(), owner: -1) }

    init(_ trie: PrefixTrie, owner: Int32) {
        self.trie = trie
        self.owner = owner
    }

    public var count: Int { owner < 0 ? 0 : trie.prefixCount(owner: owner) }
    public var underestimatedCount: Int { count }

    public func makeIterator() -> Iterator { Iterator(trie: trie, node: owner < 0 ? -1 : trie.first(owner: owner)) }

    public struct Iterator: IteratorProtocol {
        let trie: PrefixTrie
        var node: Int32

        public mutating func next() -> IPPrefix? {
            guard node >= 0 else { return nil }
            defer { node = trie.next(after: node) }
            return trie.prefix(at: node)
        }
    }

    public static func == (a: AllowedIPList, b: AllowedIPList) -> Bool { a.count == b.count && a.elementsEqual(b) }
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
///
/// Allowed IPs live in one `PrefixTrie`, which records who owns each prefix and each peer's
/// prefixes in order, and which the device then routes by: one copy of each prefix (tens of
/// bytes), and a copy of the configuration shares the trie's pages until it writes to one.
public struct DeviceConfig: Sendable, Equatable {
    public private(set) var privateKey: PrivateKey?
    public var listenPort: UInt16 = 0
    public var fwmark: UInt32 = 0
    public var mtu: Int = WireGuard.defaultMTU
    /// The interface's own addresses (the router's side of the tunnel), for the state file.
    public var addresses: [IPPrefix] = []
    /// Peers in insertion order, kept without their prefix lists (which would share the trie's
    /// pages and make every change to them a copy), and each peer's owner slot in the trie.
    private var entries: [(peer: PeerConfig, slot: Int32)] = []
    private var peerIndex: [PublicKey: Int] = [:]
    /// Every peer's allowed IPs, owners being slots; the device routes by this trie.
    private(set) var allowedIPsTrie = PrefixTrie()
    /// The peer of each owner slot of the trie; nil for a free slot (listed in `freeSlots`).
    private(set) var slotOwners: [PublicKey?] = []
    private var freeSlots: [Int32] = []

    public init() {}

    public var publicKey: PublicKey? { privateKey?.publicKey }

    /// The peers in insertion order, each with its allowed IPs.
    public var peers: [PeerConfig] { entries.map(withAllowedIPs) }

    public var peerCount: Int { entries.count }

    /// The peers' public keys in insertion order, without building their prefix lists.
    public var peerKeys: [PublicKey] { entries.map(\.peer.publicKey) }

    public func peer(_ key: PublicKey) -> PeerConfig? { peerIndex[key].map { withAllowedIPs(entries[$0]) } }

    /// Sets (or with nil removes) the private key. A peer with the new public key is removed:
    /// a device cannot be its own peer.
    public mutating func setPrivateKey(_ key: PrivateKey?) {
        privateKey = key
        if let own = key?.publicKey { removePeer(own) }
    }

    /// Adds a peer if it is new (at the end); returns false, changing nothing, for the device's
    /// own public key, which the UAPI silently ignores.
    @discardableResult
    public mutating func addPeer(_ key: PublicKey) -> Bool {
        if key == publicKey { return false }
        if peerIndex[key] == nil {
            let slot = freeSlots.popLast() ?? newSlot()
            slotOwners[Int(slot)] = key
            peerIndex[key] = entries.count
            entries.append((PeerConfig(publicKey: key), slot))
        }
        return true
    }

    public mutating func removePeer(_ key: PublicKey) {
        guard let index = peerIndex[key] else { return }
        let slot = entries[index].slot
        allowedIPsTrie.removeAll(owner: slot)
        slotOwners[Int(slot)] = nil
        freeSlots.append(slot)
        entries.remove(at: index)
        peerIndex[key] = nil
        for i in index..<entries.count { peerIndex[entries[i].peer.publicKey] = i }
    }

    public mutating func removeAllPeers() {
        entries = []
        peerIndex = [:]
        allowedIPsTrie = PrefixTrie()
        slotOwners = []
        freeSlots = []
    }

    /// Edits a peer's plain fields (key, endpoint, keepalive); allowed IPs have their own methods.
    public mutating func updatePeer(_ key: PublicKey, _ change: (inout PeerConfig) -> Void) {
        guard let index = peerIndex[key] else { return }
        var peer = withAllowedIPs(entries[index])
        change(&peer)
        precondition(peer.publicKey == key, "a peer's public key is its identity")
        peer.allowedIPList = AllowedIPList()
        entries[index].peer = peer
    }

    /// Gives `prefix` to peer `key`, taking it from whichever peer had it. A prefix the peer has
    /// already keeps its place in the peer's list.
    public mutating func addAllowedIP(_ prefix: IPPrefix, to key: PublicKey) {
        guard let slot = slot(of: key), allowedIPsTrie.owner(of: prefix) != slot else { return }
        _ = allowedIPsTrie.insert(prefix, owner: slot)
    }

    /// Removes `prefix` from peer `key` if that peer has it.
    public mutating func removeAllowedIP(_ prefix: IPPrefix, from key: PublicKey) {
        guard let slot = slot(of: key) else { return }
        _ = allowedIPsTrie.remove(prefix, owner: slot)
    }

    public mutating func removeAllowedIPs(of key: PublicKey) {
        guard let slot = slot(of: key) else { return }
        allowedIPsTrie.removeAll(owner: slot)
    }

    /// Which peer owns `prefix`, if any.
    public func owner(of prefix: IPPrefix) -> PublicKey? {
        let slot = allowedIPsTrie.owner(of: prefix)
        return slot >= 0 ? slotOwners[Int(slot)] : nil
    }

    public static func == (a: DeviceConfig, b: DeviceConfig) -> Bool {
        a.privateKey == b.privateKey && a.listenPort == b.listenPort && a.fwmark == b.fwmark && a.mtu == b.mtu
            && a.addresses == b.addresses && a.peers == b.peers
    }

    private func slot(of key: PublicKey) -> Int32? { peerIndex[key].map { entries[$0].slot } }

    private mutating func newSlot() -> Int32 {
        slotOwners.append(nil)
        return allowedIPsTrie.addOwner()
    }

    private func withAllowedIPs(_ entry: (peer: PeerConfig, slot: Int32)) -> PeerConfig {
        var peer = entry.peer
        peer.allowedIPList = AllowedIPList(allowedIPsTrie, owner: entry.slot)
        return peer
    }
}
