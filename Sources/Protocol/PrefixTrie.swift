/// The tries of both families over one node store, with owners as small integers (slots) and
/// each owner's prefixes in a list, oldest first (the kernel's per-peer allowedips_list).
///
/// Same shape as the kernel's allowedips.c: a binary radix trie per family with path compression,
/// so a lookup visits at most one node per distinct prefix length on its path. Nodes are 32 bytes
/// addressed by 32-bit indices, two to a cache line; a lookup touches no reference count and
/// never allocates. A copy shares the node pages until it writes to one (NodePages).
///
/// Invariants: a node without an owner (a branch point) has exactly two children; a node's key has
/// every bit past its `cidr` cleared; a child's cidr is greater than its parent's and it agrees
/// with its parent on the parent's first `cidr` bits.
struct PrefixTrie: Sendable {
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

    struct OwnerList {
        var head: Int32 = -1
        var tail: Int32 = -1
        var count = 0
    }

    private var store = NodePages()
    private var freeHead: Int32 = -1
    private var freeCount = 0
    private var root4: Int32 = -1
    private var root6: Int32 = -1
    private var lists: ContiguousArray<OwnerList> = []
    private(set) var prefixCount = 0

    var nodeCount: Int { store.count - freeCount }
    var nodeCapacity: Int { store.capacity }
    var ownerCount: Int { lists.count }

    /// Node pages in all, and those shared with `other` (a copy of this trie, or this one a copy
    /// of it): what a copy costs, for tests and figures.
    var pageCount: Int { store.pageCount }
    func sharedPages(with other: PrefixTrie) -> Int { store.sharedPages(with: other.store) }

    /// A new owner slot, owning nothing.
    mutating func addOwner() -> Int32 {
        lists.append(OwnerList())
        return Int32(lists.count - 1)
    }

    func prefixCount(owner: Int32) -> Int { lists[Int(owner)].count }

    // MARK: Prefixes

    /// Gives `prefix` to `owner`, returning its previous owner (-1 if none). As in the kernel, a
    /// prefix re-added goes to the tail of its owner's list even when the owner is unchanged.
    mutating func insert(_ prefix: IPPrefix, owner: Int32) -> Int32 {
        let (key, bits) = Self.key(prefix.address)
        return insert(key, cidr: prefix.length, bits: bits, owner: owner)
    }

    /// Removes `prefix` if `owner` holds it.
    mutating func remove(_ prefix: IPPrefix, owner: Int32) -> Bool {
        let (key, bits) = Self.key(prefix.address)
        let path = find(key & Self.mask(prefix.length), cidr: prefix.length, bits: bits)
        guard path.node >= 0, store[node: path.node].owner == owner else { return false }
        detach(path)
        compactIfSparse()
        return true
    }

    /// The owner of exactly `prefix` (not of a prefix covering it), or -1.
    func owner(of prefix: IPPrefix) -> Int32 {
        let (key, bits) = Self.key(prefix.address)
        let node = find(key & Self.mask(prefix.length), cidr: prefix.length, bits: bits).node
        return node >= 0 ? store[node: node].owner : -1
    }

    /// Addresses as left-aligned 128-bit keys, so that both families share one trie.
    static func key(_ address: IPAddress) -> (UInt128, UInt8) {
        switch address {
        case .v4(let a): (UInt128(a.value) << 96, 32)
        case .v6(let a): (UInt128(a.high) << 64 | UInt128(a.low), 128)
        }
    }

    // MARK: Lookup

    /// The owner of the longest prefix containing `key`, or -1.
    @inline(__always)
    func lookup(_ key: UInt128, bits: UInt8) -> Int32 {
        store.withReader { nodes in
            var found: Int32 = -1
            var index = bits == 32 ? root4 : root6
            while index >= 0 {
                let node = nodes[index]
                guard Self.matches(node, key) else { break }
                if node.owner >= 0 { found = node.owner }
                if node.cidr == bits { break }
                index = Self.bit(key, at: node.cidr) == 0 ? node.child0 : node.child1
            }
            return found
        }
    }

    // MARK: Owners' lists

    /// The first node of `owner`'s list (-1 when empty); walk on with `next(after:)`.
    func first(owner: Int32) -> Int32 { lists[Int(owner)].head }

    func next(after node: Int32) -> Int32 { store[link: node].next }

    /// The prefix a node holds.
    func prefix(at index: Int32) -> IPPrefix {
        let node = store[node: index]
        let address: IPAddress = node.bits == 32
            ? .v4(IPv4Address(value: UInt32(truncatingIfNeeded: node.key >> 96)))
            : .v6(IPv6Address(high: UInt64(truncatingIfNeeded: node.key >> 64), low: UInt64(truncatingIfNeeded: node.key)))
        return IPPrefix(masked: address, length: node.cidr)
    }

    func prefixes(owner: Int32) -> [IPPrefix] {
        var result: [IPPrefix] = []
        result.reserveCapacity(lists[Int(owner)].count)
        var index = first(owner: owner)
        while index >= 0 {
            result.append(prefix(at: index))
            index = next(after: index)
        }
        return result
    }

    // MARK: Insertion

    mutating func insert(_ key: UInt128, cidr: UInt8, bits: UInt8, owner: Int32) -> Int32 {
        let key = key & Self.mask(cidr)
        var parent: Int32 = -1
        var index = root(bits)
        while index >= 0 {
            let node = store[node: index]
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
        let down = store[node: index]
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

    /// Removes every prefix `owner` holds. Removed in place, they cost a copy of each page holding
    /// one of them that another trie shares (a set's working copy shares all of them with the
    /// data plane); rebuilt, the rest of the table costs fresh pages. Whichever is less is done:
    /// so removing a peer with most of the prefixes, or with prefixes spread over every page, never
    /// costs a copy of the whole table.
    mutating func removeAll(owner: Int32) {
        let count = lists[Int(owner)].count
        guard count > 0 else { return }
        let restPages = nodeCount * (prefixCount - count) / prefixCount / NodePages.pageSize
        if restPages < sharedPages(holding: owner) {
            self = rebuilt(without: owner)
            return
        }
        var index = lists[Int(owner)].head
        while index >= 0 {
            let node = store[node: index]
            let next = store[link: index].next
            detach(find(node.key, cidr: node.cidr, bits: node.bits))
            index = next
        }
        compactIfSparse()
    }

    /// How many pages holding `owner`'s nodes another trie shares.
    private mutating func sharedPages(holding owner: Int32) -> Int {
        var seen = [Bool](repeating: false, count: store.pageCount)
        var shared = 0
        var index = lists[Int(owner)].head
        while index >= 0 {
            let page = NodePages.page(of: index)
            if !seen[page] {
                seen[page] = true
                if store.isShared(page: page) { shared += 1 }
            }
            index = store[link: index].next
        }
        return shared
    }

    /// The same owners and lists without `excluded`'s prefixes, in fresh storage.
    private func rebuilt(without excluded: Int32) -> PrefixTrie {
        var fresh = PrefixTrie()
        fresh.lists = ContiguousArray(repeating: OwnerList(), count: lists.count)
        for owner in lists.indices where owner != Int(excluded) {
            var index = lists[owner].head
            while index >= 0 {
                let node = store[node: index]
                _ = fresh.insert(node.key, cidr: node.cidr, bits: node.bits, owner: Int32(owner))
                index = store[link: index].next
            }
        }
        return fresh
    }

    /// The node holding exactly this prefix (-1 if none) and its parent and grandparent, which
    /// removal needs to unlink it; nodes have no parent pointers, to keep them small.
    private func find(_ key: UInt128, cidr: UInt8, bits: UInt8) -> (node: Int32, parent: Int32, grandparent: Int32) {
        var grandparent: Int32 = -1, parent: Int32 = -1
        var index = root(bits)
        while index >= 0 {
            let node = store[node: index]
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
        let node = store[node: path.node]
        if node.child0 >= 0 && node.child1 >= 0 { return }
        let only = node.child0 >= 0 ? node.child0 : node.child1
        replaceChild(of: path.parent, toward: node.key, bits: node.bits, with: only)
        release(path.node)
        guard only < 0, path.parent >= 0 else { return }
        let parent = store[node: path.parent]
        guard parent.owner < 0 else { return }
        let other = parent.child0 >= 0 ? parent.child0 : parent.child1
        replaceChild(of: path.grandparent, toward: parent.key, bits: parent.bits, with: other)
        release(path.parent)
    }

    // MARK: Ownership

    /// Moves a node to the tail of `owner`'s list (or off every list for -1).
    private mutating func setOwner(_ index: Int32, _ owner: Int32) {
        let old = store[node: index].owner
        if old >= 0 {
            unlink(index, from: old)
        } else if owner >= 0 {
            prefixCount += 1
        }
        if owner < 0 {
            if old >= 0 { prefixCount -= 1 }
            store[node: index].owner = -1
            return
        }
        store[node: index].owner = owner
        let tail = lists[Int(owner)].tail
        store[link: index] = Link(previous: tail, next: -1)
        if tail >= 0 {
            store[link: tail].next = index
        } else {
            lists[Int(owner)].head = index
        }
        lists[Int(owner)].tail = index
        lists[Int(owner)].count += 1
    }

    private mutating func unlink(_ index: Int32, from owner: Int32) {
        let link = store[link: index]
        if link.previous >= 0 { store[link: link.previous].next = link.next } else { lists[Int(owner)].head = link.next }
        if link.next >= 0 { store[link: link.next].previous = link.previous } else { lists[Int(owner)].tail = link.previous }
        store[link: index] = Link()
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
        } else if Self.bit(key, at: store[node: parent].cidr) == 0 {
            store[node: parent].child0 = child
        } else {
            store[node: parent].child1 = child
        }
    }

    private mutating func attach(_ child: Int32, under parent: Int32) {
        replaceChild(of: parent, toward: store[node: child].key, bits: store[node: parent].bits, with: child)
    }

    // MARK: Node storage

    private mutating func allocate(_ key: UInt128, cidr: UInt8, bits: UInt8) -> Int32 {
        let node = Node(key: key, cidr: cidr, bits: bits)
        guard freeHead >= 0 else { return store.append(node) }
        let index = freeHead
        freeHead = store[node: index].owner
        freeCount -= 1
        store[node: index] = node
        return index
    }

    private mutating func release(_ index: Int32) {
        store[node: index] = Node(key: 0, owner: freeHead, cidr: 0, bits: 0)
        freeHead = index
        freeCount += 1
    }

    /// Freed nodes are reused first, so churn never grows the store; when removals leave it mostly
    /// empty it is rebuilt at its live size, which returns the memory and puts nodes back in
    /// depth-first order for the cache. Triggered at a quarter full so the rebuild is amortized.
    private mutating func compactIfSparse() {
        if freeCount == store.count {
            store = NodePages()
            freeHead = -1
            freeCount = 0
            return
        }
        guard store.count >= 1024, freeCount > store.count / 4 * 3 else { return }

        var newIndex = ContiguousArray<Int32>(repeating: -1, count: store.count)
        var packed = NodePages()
        var stack: [Int32] = [root6, root4]
        while let index = stack.popLast() {
            guard index >= 0 else { continue }
            let node = store[node: index]
            newIndex[Int(index)] = packed.append(node)
            packed[link: newIndex[Int(index)]] = store[link: index]
            stack.append(node.child1)
            stack.append(node.child0)
        }
        func renumber(_ index: Int32) -> Int32 { index < 0 ? -1 : newIndex[Int(index)] }
        for i in 0..<Int32(packed.count) {
            var node = packed[node: i]
            node.child0 = renumber(node.child0)
            node.child1 = renumber(node.child1)
            packed[node: i] = node
            var link = packed[link: i]
            link.previous = renumber(link.previous)
            link.next = renumber(link.next)
            packed[link: i] = link
        }
        for i in lists.indices {
            lists[i].head = renumber(lists[i].head)
            lists[i].tail = renumber(lists[i].tail)
        }
        root4 = renumber(root4)
        root6 = renumber(root6)
        store = packed
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
