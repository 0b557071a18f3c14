/// The allowed-IPs table: which peer an inner packet's address belongs to (cryptokey routing).
///
/// Same shape as the kernel's allowedips.c: one binary radix trie per family with path
/// compression, so a lookup visits at most one node per distinct prefix length on its path.
/// Unlike the kernel, nodes live in one flat array addressed by 32-bit indices rather than as
/// separately allocated objects: a lookup then touches no reference counts until it has its answer,
/// never allocates, and walks 32-byte nodes, two to a cache line.
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
        let (key, bits) = Self.key(prefix.address)
        // allowedips.c's add() answers an exact match by setting the peer and list_move_tail()ing
        // the node, also when the peer is unchanged: re-adding a prefix makes it the peer's newest.
        let previous = trie.insert(key, cidr: prefix.length, bits: bits, owner: owner)
        if previous >= 0 && previous != owner { releaseIfEmpty(previous) }
    }

    /// Removes `prefix` only if `peer` owns it. Returns whether it did.
    @discardableResult
    public func remove(_ prefix: IPPrefix, for peer: Peer) -> Bool {
        guard let owner = slots[ObjectIdentifier(peer)] else { return false }
        let (key, bits) = Self.key(prefix.address)
        guard trie.remove(key, cidr: prefix.length, bits: bits, owner: owner) else { return false }
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

    /// Trie nodes in use, prefixes and branch points together: what the table's memory follows.
    package var nodeCount: Int { trie.nodeCount }

    /// Trie node storage reserved, in nodes, including freed nodes awaiting reuse.
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
            trie.addOwner()
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

    /// Addresses as left-aligned 128-bit keys, so that both families share one trie implementation.
    private static func key(_ address: IPAddress) -> (UInt128, UInt8) {
        switch address {
        case .v4(let a): (UInt128(a.value) << 96, 32)
        case .v6(let a): (UInt128(a.high) << 64 | UInt128(a.low), 128)
        }
    }
}

/// The tries of both families over one node pool, with owners as small integers.
///
/// Invariants: a node without an owner (a branch point) has exactly two children; a node's key has
/// every bit past its `cidr` cleared; a child's cidr is greater than its parent's and it agrees
/// with its parent on the parent's first `cidr` bits.
struct PrefixTrie {
    struct Node {
        /// The prefix, left-aligned (IPv4 in the top 32 bits).
        var key: UInt128
        var child0: Int32 = -1
        var child1: Int32 = -1
        /// Owner slot, or -1 for a branch point; on the free list, the next free node.
        var owner: Int32 = -1
        var cidr: UInt8
        /// 32 or 128: the family's full length, where a lookup stops.
        var bits: UInt8
    }

    /// A node's neighbours in its owner's list. Kept apart from `Node` because lookups never read
    /// them, and without them a node is 32 bytes: two to a cache line.
    struct Link {
        var previous: Int32 = -1
        var next: Int32 = -1
    }

    /// Each owner's prefixes, oldest first, as a list threaded through `links` (the kernel's
    /// per-peer allowedips_list).
    struct OwnerList {
        var head: Int32 = -1
        var tail: Int32 = -1
        var count = 0
    }

    private var nodes: ContiguousArray<Node> = []
    private var links: ContiguousArray<Link> = []   // parallel to `nodes`
    private var freeHead: Int32 = -1
    private var freeCount = 0
    private var root4: Int32 = -1
    private var root6: Int32 = -1
    private var lists: ContiguousArray<OwnerList> = []
    private(set) var prefixCount = 0

    var nodeCount: Int { nodes.count - freeCount }
    var nodeCapacity: Int { nodes.count }

    mutating func addOwner() { lists.append(OwnerList()) }

    func prefixCount(owner: Int32) -> Int { lists[Int(owner)].count }

    // MARK: Lookup

    /// The owner of the longest prefix containing `key`, or -1.
    @inline(__always)
    func lookup(_ key: UInt128, bits: UInt8) -> Int32 {
        nodes.withUnsafeBufferPointer { nodes in
            var found: Int32 = -1
            var index = bits == 32 ? root4 : root6
            while index >= 0 {
                let node = nodes[Int(index)]
                guard Self.matches(node, key) else { break }
                if node.owner >= 0 { found = node.owner }
                if node.cidr == bits { break }
                index = Self.bit(key, at: node.cidr) == 0 ? node.child0 : node.child1
            }
            return found
        }
    }

    func prefixes(owner: Int32) -> [IPPrefix] {
        var result: [IPPrefix] = []
        result.reserveCapacity(lists[Int(owner)].count)
        var index = lists[Int(owner)].head
        while index >= 0 {
            let node = nodes[Int(index)]
            let address: IPAddress = node.bits == 32
                ? .v4(IPv4Address(value: UInt32(truncatingIfNeeded: node.key >> 96)))
                : .v6(IPv6Address(high: UInt64(truncatingIfNeeded: node.key >> 64), low: UInt64(truncatingIfNeeded: node.key)))
            result.append(IPPrefix(masked: address, length: node.cidr))
            index = links[Int(index)].next
        }
        return result
    }

    // MARK: Insertion

    /// Gives the prefix to `owner`, returning its previous owner (-1 if none). As in the kernel, a
    /// prefix re-added goes to the tail of its owner's list even when the owner is unchanged.
    mutating func insert(_ key: UInt128, cidr: UInt8, bits: UInt8, owner: Int32) -> Int32 {
        let key = key & Self.mask(cidr)
        var parent: Int32 = -1
        var index = root(bits)
        while index >= 0 {
            let node = nodes[Int(index)]
            guard node.cidr <= cidr, Self.matches(node, key) else { break }
            if node.cidr == cidr {
                let previous = node.owner
                setOwner(index, owner)
                return previous
            }
            parent = index
            index = child(of: node, toward: key)
        }

        let fresh = allocate(key, cidr: cidr, bits: bits)
        setOwner(fresh, owner)
        guard index >= 0 else {
            replaceChild(of: parent, toward: key, bits: bits, with: fresh)
            return -1
        }
        // `index` is where the new prefix would go but is not on its path: either the new prefix
        // covers it, or the two part ways and need a branch point at their first differing bit.
        let down = nodes[Int(index)]
        let common = min(cidr, UInt8((down.key ^ key).leadingZeroBitCount))
        if common == cidr {
            attach(index, under: fresh)
            replaceChild(of: parent, toward: key, bits: bits, with: fresh)
        } else {
            let branch = allocate(key & Self.mask(common), cidr: common, bits: bits)
            attach(index, under: branch)
            attach(fresh, under: branch)
            replaceChild(of: parent, toward: key, bits: bits, with: branch)
        }
        return -1
    }

    // MARK: Removal

    /// Removes the prefix if `owner` holds it.
    mutating func remove(_ key: UInt128, cidr: UInt8, bits: UInt8, owner: Int32) -> Bool {
        let path = find(key & Self.mask(cidr), cidr: cidr, bits: bits)
        guard path.node >= 0, nodes[Int(path.node)].owner == owner else { return false }
        detach(path)
        compactIfSparse()
        return true
    }

    mutating func removeAll(owner: Int32) {
        var index = lists[Int(owner)].head
        while index >= 0 {
            let node = nodes[Int(index)]
            let next = links[Int(index)].next
            detach(find(node.key, cidr: node.cidr, bits: node.bits))
            index = next
        }
        compactIfSparse()
    }

    /// The node holding exactly this prefix (-1 if none) and its parent and grandparent, which
    /// removal needs to unlink it; nodes have no parent pointers, to keep them small.
    private func find(_ key: UInt128, cidr: UInt8, bits: UInt8) -> (node: Int32, parent: Int32, grandparent: Int32) {
        var grandparent: Int32 = -1, parent: Int32 = -1
        var index = root(bits)
        while index >= 0 {
            let node = nodes[Int(index)]
            guard node.cidr <= cidr, Self.matches(node, key) else { break }
            if node.cidr == cidr { return (index, parent, grandparent) }
            grandparent = parent
            parent = index
            index = child(of: node, toward: key)
        }
        return (-1, -1, -1)
    }

    /// Takes the prefix away from its owner and prunes whatever nodes that leaves useless, as the
    /// kernel does: a node with two children stays as a branch point, otherwise it is spliced out,
    /// and a branch point left with one child goes too.
    private mutating func detach(_ path: (node: Int32, parent: Int32, grandparent: Int32)) {
        setOwner(path.node, -1)
        let node = nodes[Int(path.node)]
        if node.child0 >= 0 && node.child1 >= 0 { return }
        let only = node.child0 >= 0 ? node.child0 : node.child1
        replaceChild(of: path.parent, toward: node.key, bits: node.bits, with: only)
        release(path.node)
        guard only < 0, path.parent >= 0 else { return }
        let parent = nodes[Int(path.parent)]
        guard parent.owner < 0 else { return }
        let other = parent.child0 >= 0 ? parent.child0 : parent.child1
        replaceChild(of: path.grandparent, toward: parent.key, bits: parent.bits, with: other)
        release(path.parent)
    }

    // MARK: Owners' lists

    /// Moves a node to the tail of `owner`'s list (or off every list for -1).
    private mutating func setOwner(_ index: Int32, _ owner: Int32) {
        let old = nodes[Int(index)].owner
        if old >= 0 {
            unlink(index, from: old)
        } else if owner >= 0 {
            prefixCount += 1
        }
        if owner < 0 {
            if old >= 0 { prefixCount -= 1 }
            nodes[Int(index)].owner = -1
            return
        }
        nodes[Int(index)].owner = owner
        links[Int(index)] = Link(previous: lists[Int(owner)].tail, next: -1)
        if lists[Int(owner)].tail >= 0 {
            links[Int(lists[Int(owner)].tail)].next = index
        } else {
            lists[Int(owner)].head = index
        }
        lists[Int(owner)].tail = index
        lists[Int(owner)].count += 1
    }

    private mutating func unlink(_ index: Int32, from owner: Int32) {
        let link = links[Int(index)]
        if link.previous >= 0 { links[Int(link.previous)].next = link.next } else { lists[Int(owner)].head = link.next }
        if link.next >= 0 { links[Int(link.next)].previous = link.previous } else { lists[Int(owner)].tail = link.previous }
        links[Int(index)] = Link()
        lists[Int(owner)].count -= 1
    }

    // MARK: Links

    private func root(_ bits: UInt8) -> Int32 { bits == 32 ? root4 : root6 }

    private func child(of node: Node, toward key: UInt128) -> Int32 {
        Self.bit(key, at: node.cidr) == 0 ? node.child0 : node.child1
    }

    /// Points the slot of `parent` on the way to `key` (the family's root if `parent` is -1) at `child`.
    private mutating func replaceChild(of parent: Int32, toward key: UInt128, bits: UInt8, with child: Int32) {
        if parent < 0 {
            if bits == 32 { root4 = child } else { root6 = child }
        } else if Self.bit(key, at: nodes[Int(parent)].cidr) == 0 {
            nodes[Int(parent)].child0 = child
        } else {
            nodes[Int(parent)].child1 = child
        }
    }

    private mutating func attach(_ child: Int32, under parent: Int32) {
        replaceChild(of: parent, toward: nodes[Int(child)].key, bits: nodes[Int(parent)].bits, with: child)
    }

    // MARK: Node storage

    private mutating func allocate(_ key: UInt128, cidr: UInt8, bits: UInt8) -> Int32 {
        let node = Node(key: key, cidr: cidr, bits: bits)
        guard freeHead >= 0 else {
            nodes.append(node)
            links.append(Link())
            return Int32(nodes.count - 1)
        }
        let index = freeHead
        freeHead = nodes[Int(index)].owner
        freeCount -= 1
        nodes[Int(index)] = node
        return index
    }

    private mutating func release(_ index: Int32) {
        nodes[Int(index)] = Node(key: 0, owner: freeHead, cidr: 0, bits: 0)
        freeHead = index
        freeCount += 1
    }

    /// Freed nodes are reused first, so churn never grows the pool; when removals leave it mostly
    /// empty it is rebuilt at its live size, which returns the memory and puts nodes back in
    /// depth-first order for the cache. Triggered at a quarter full so the rebuild is amortized.
    private mutating func compactIfSparse() {
        if freeCount == nodes.count {
            nodes = []
            links = []
            freeHead = -1
            freeCount = 0
            return
        }
        guard nodes.count >= 1024, freeCount > nodes.count / 4 * 3 else { return }

        var newIndex = ContiguousArray<Int32>(repeating: -1, count: nodes.count)
        var packed = ContiguousArray<Node>()
        var packedLinks = ContiguousArray<Link>()
        packed.reserveCapacity(nodes.count - freeCount)
        packedLinks.reserveCapacity(nodes.count - freeCount)
        var stack: [Int32] = [root6, root4]
        while let index = stack.popLast() {
            guard index >= 0 else { continue }
            newIndex[Int(index)] = Int32(packed.count)
            packed.append(nodes[Int(index)])
            packedLinks.append(links[Int(index)])
            stack.append(nodes[Int(index)].child1)
            stack.append(nodes[Int(index)].child0)
        }
        func renumber(_ index: Int32) -> Int32 { index < 0 ? -1 : newIndex[Int(index)] }
        for i in packed.indices {
            packed[i].child0 = renumber(packed[i].child0)
            packed[i].child1 = renumber(packed[i].child1)
            packedLinks[i].previous = renumber(packedLinks[i].previous)
            packedLinks[i].next = renumber(packedLinks[i].next)
        }
        for i in lists.indices {
            lists[i].head = renumber(lists[i].head)
            lists[i].tail = renumber(lists[i].tail)
        }
        root4 = renumber(root4)
        root6 = renumber(root6)
        nodes = packed
        links = packedLinks
        freeHead = -1
        freeCount = 0
    }

    // MARK: Bits

    /// Whether `key` lies in `node`'s prefix: it agrees with the node's key on the first cidr bits.
    @inline(__always)
    private static func matches(_ node: Node, _ key: UInt128) -> Bool {
        (node.key ^ key).leadingZeroBitCount >= Int(node.cidr)
    }

    /// Bit `index` of `key`, counting from the most significant; `index` is below 128.
    @inline(__always)
    private static func bit(_ key: UInt128, at index: UInt8) -> Int {
        Int(truncatingIfNeeded: (key &<< UInt128(index)) >> 127)
    }

    /// The first `length` bits set.
    private static func mask(_ length: UInt8) -> UInt128 {
        length == 0 ? 0 : UInt128.max << (128 - Int(length))
    }
}
