/// The allowed-IPs table: which peer an inner packet's address belongs to (cryptokey routing).
///
/// A `PrefixTrie` (the kernel's allowedips.c in shape) whose owner slots map to peers. It is
/// built either prefix by prefix (`insert`, `remove`) or, as the device does, by taking over a
/// configuration's own trie (`install`): then the configuration's record of who owns what is the
/// routing table itself, one copy of it in memory, and applying a change costs nothing per prefix.
///
/// Not thread-safe: the caller serializes all access (a write while a lookup runs is a race).
public final class AllowedIPs<Peer: AnyObject> {
    // Unchecked: these are private, no method of ours holds an access to them across a call that
    // could touch them again, and dynamic exclusivity checks were a third of a small table's lookup.
    @exclusivity(unchecked) private var trie = PrefixTrie()
    /// Peers by owner slot; the table keeps them alive while they own a prefix, which is also what
    /// keeps their ObjectIdentifiers from being reused under us. Typed AnyObject so that the
    /// per-packet read is concrete code even when nothing specializes this class for `Peer`.
    @exclusivity(unchecked) private var peers: ContiguousArray<AnyObject?> = []
    private var slots: [ObjectIdentifier: Int32] = [:]
    private var freeSlots: [Int32] = []

    /// An empty table.
    public init() {}

    /// Adds `prefix` for `peer`; a prefix owned by another peer moves to `peer` (as the kernel does).
    public func insert(_ prefix: IPPrefix, for peer: Peer) {
        let owner = slot(for: peer)
        // allowedips.c's add() answers an exact match by setting the peer and list_move_tail()ing
        // the node, also when the peer is unchanged: re-adding a prefix makes it the peer's newest.
        let previous = trie.insert(prefix, owner: owner)
        if previous >= 0 && previous != owner { releaseIfEmpty(previous) }
    }

    /// Removes `prefix` only if `peer` owns it. Returns whether it did.
    @discardableResult
    public func remove(_ prefix: IPPrefix, for peer: Peer) -> Bool {
        guard let owner = slots[ObjectIdentifier(peer)] else { return false }
        guard trie.remove(prefix, owner: owner) else { return false }
        releaseIfEmpty(owner)
        return true
    }

    /// Removes every prefix `peer` owns.
    public func removeAll(for peer: Peer) {
        guard let owner = slots[ObjectIdentifier(peer)] else { return }
        trie.removeAll(owner: owner)
        releaseIfEmpty(owner)
    }

    /// The peer owning the longest prefix that contains `address`.
    public func lookup(_ address: IPAddress) -> Peer? {
        switch address {
        case .v4(let a): lookup(v4: a)
        case .v6(let a): lookup(v6: a)
        }
    }

    /// The peer for an IPv4 address; per packet, so it never allocates.
    public func lookup(v4 address: IPv4Address) -> Peer? {
        peer(at: trie.lookup(UInt128(address.value) << 96, bits: 32))
    }

    /// The peer for an IPv6 address; per packet, so it never allocates.
    public func lookup(v6 address: IPv6Address) -> Peer? {
        peer(at: trie.lookup(UInt128(address.high) << 64 | UInt128(address.low), bits: 128))
    }

    /// The prefixes `peer` owns, in the order they were added (a prefix that moved to this peer counts as added when it moved).
    public func prefixes(for peer: Peer) -> [IPPrefix] {
        guard let owner = slots[ObjectIdentifier(peer)] else { return [] }
        return trie.prefixes(owner: owner)
    }

    /// Prefixes in the table, both families.
    public var count: Int { trie.prefixCount }

    /// Empties the table and lets go of every peer.
    public func removeAll() {
        let released = peers   // peers' deinits run after the accesses below, not inside them
        trie = PrefixTrie()
        peers = []
        slots = [:]
        freeSlots = []
        withExtendedLifetime(released) {}
    }

    // MARK: A configuration's trie

    /// Routes by `trie` from now on, `owners[slot]` being the peer of each of its owner slots (nil:
    /// route nowhere). The trie is shared with the configuration it came from, not copied. Returns
    /// the trie the table held before, for the caller to let go of outside its lock.
    func install(_ trie: PrefixTrie, owners: [Peer?]) -> PrefixTrie {
        precondition(owners.count == trie.ownerCount, "a peer (or nil) for every owner slot")
        let old = self.trie
        let released = peers   // peers' deinits run after the accesses below, not inside them
        self.trie = trie
        peers = ContiguousArray(owners.map { $0 as AnyObject? })
        slots = [:]
        freeSlots = []
        for (slot, peer) in owners.enumerated() {
            if let peer {
                slots[ObjectIdentifier(peer)] = Int32(slot)
            } else if trie.prefixCount(owner: Int32(slot)) == 0 {
                freeSlots.append(Int32(slot))
            }
        }
        withExtendedLifetime(released) {}
        return old
    }

    /// Stops routing to `peer` at once without touching the trie, which may be shared with a
    /// configuration: its prefixes route nowhere until the next `install`.
    func forget(_ peer: Peer) {
        guard let owner = slots.removeValue(forKey: ObjectIdentifier(peer)) else { return }
        withExtendedLifetime(peer) { peers[Int(owner)] = nil }
    }

    /// Trie nodes in use, prefixes and branch points together: what the table's memory follows.
    package var nodeCount: Int { trie.nodeCount }

    /// Trie node storage reserved, in nodes (whole pages), including freed nodes awaiting reuse.
    package var nodeCapacity: Int { trie.nodeCapacity }

    @inline(__always)
    private func peer(at owner: Int32) -> Peer? {
        guard owner >= 0, let peer = peers[Int(owner)] else { return nil }
        return unsafeDowncast(peer, to: Peer.self)
    }

    private func slot(for peer: Peer) -> Int32 {
        let id = ObjectIdentifier(peer)
        if let owner = slots[id] { return owner }
        let owner: Int32
        if let reused = freeSlots.popLast() {
            owner = reused
            peers[Int(owner)] = peer
        } else {
            owner = Int32(peers.count)
            peers.append(peer)
            _ = trie.addOwner()
        }
        slots[id] = owner
        return owner
    }

    /// Drops a peer that owns nothing any more, so that the table does not keep it alive.
    private func releaseIfEmpty(_ owner: Int32) {
        guard trie.prefixCount(owner: owner) == 0, let peer = peers[Int(owner)] else { return }
        // The peer's deinit may run here; keep it out of the unchecked access to `peers`.
        withExtendedLifetime(peer) {
            slots[ObjectIdentifier(peer)] = nil
            peers[Int(owner)] = nil
            freeSlots.append(owner)
        }
    }
}
