/// The allowed-IPs trie's node storage: fixed-size pages that copies of a trie share until one of
/// them writes to a page (copy-on-write per page, not per table).
///
/// One trie is the configuration's record of who owns which prefix, the working copy a `set`
/// edits, and the data plane's routing table, all at once. A set that adds one prefix to a
/// configuration of 400,000 copies the few pages it writes (40 KiB each), not 32 MB of nodes;
/// and storage grows a page at a time, so it never holds an old and a new array while growing.
///
/// Sendable because a page is written only through a value that holds the sole reference to
/// it: pages that more than one value (or thread) can see are only ever read.
struct NodePages: @unchecked Sendable {
    static let shift = 10
    /// Nodes per page: 32 KiB of nodes and 8 KiB of links.
    static let pageSize = 1 << shift
    private static let mask = pageSize - 1

    private var pages: ContiguousArray<NodePage> = []
    /// `pages[i].nodes`, apart so that a lookup walks plain pointers and touches no reference count.
    private var bases: ContiguousArray<UnsafeMutablePointer<PrefixTrie.Node>> = []
    /// Nodes handed out so far, in use or freed.
    private(set) var count = 0

    var capacity: Int { pages.count * Self.pageSize }

    subscript(node index: Int32) -> PrefixTrie.Node {
        get { bases[Int(index) >> Self.shift][Int(index) & Self.mask] }
        set { bases[writablePage(index)][Int(index) & Self.mask] = newValue }
    }

    subscript(link index: Int32) -> PrefixTrie.Link {
        get { pages[Int(index) >> Self.shift].links[Int(index) & Self.mask] }
        set { pages[writablePage(index)].links[Int(index) & Self.mask] = newValue }
    }

    /// Pages this store and `other` hold in common (not copies: the same memory).
    func sharedPages(with other: NodePages) -> Int {
        zip(pages, other.pages).reduce(0) { $0 + ($1.0 === $1.1 ? 1 : 0) }
    }

    var pageCount: Int { pages.count }

    /// The page holding `index`.
    static func page(of index: Int32) -> Int { Int(index) >> shift }

    /// Whether another store shares page `page`: writing to it would copy it.
    mutating func isShared(page: Int) -> Bool { !isKnownUniquelyReferenced(&pages[page]) }

    /// A new node at the end (with an empty link), adding a page when the last one is full.
    mutating func append(_ node: PrefixTrie.Node) -> Int32 {
        if count == capacity {
            let page = NodePage()
            pages.append(page)
            bases.append(page.nodes)
        }
        let index = Int32(count)
        count += 1
        self[node: index] = node
        self[link: index] = PrefixTrie.Link()
        return index
    }

    /// Runs `body` with a reader over the nodes: the lookup path, which must not allocate.
    @inline(__always)
    func withReader<R>(_ body: (Reader) -> R) -> R {
        bases.withUnsafeBufferPointer { body(Reader(bases: $0)) }
    }

    struct Reader {
        let bases: UnsafeBufferPointer<UnsafeMutablePointer<PrefixTrie.Node>>

        @inline(__always)
        subscript(index: Int32) -> PrefixTrie.Node { bases[Int(index) >> NodePages.shift][Int(index) & NodePages.mask] }
    }

    /// The page holding `index`, copied first if another value shares it.
    private mutating func writablePage(_ index: Int32) -> Int {
        let page = Int(index) >> Self.shift
        if !isKnownUniquelyReferenced(&pages[page]) {
            pages[page] = NodePage(copying: pages[page])
            bases[page] = pages[page].nodes
        }
        return page
    }
}

/// One page: `pageSize` nodes and their links in a single allocation, always fully initialized
/// (nodes and links are plain values, so a copy is a memcpy).
final class NodePage {
    let nodes: UnsafeMutablePointer<PrefixTrie.Node>
    let links: UnsafeMutablePointer<PrefixTrie.Link>
    private let memory: UnsafeMutableRawPointer

    private static let nodeBytes = NodePages.pageSize * MemoryLayout<PrefixTrie.Node>.stride
    private static let bytes = nodeBytes + NodePages.pageSize * MemoryLayout<PrefixTrie.Link>.stride

    init() {
        memory = UnsafeMutableRawPointer.allocate(byteCount: Self.bytes, alignment: MemoryLayout<PrefixTrie.Node>.alignment)
        nodes = memory.initializeMemory(as: PrefixTrie.Node.self, repeating: PrefixTrie.Node(key: 0, cidr: 0, bits: 0),
                                        count: NodePages.pageSize)
        links = (memory + Self.nodeBytes).initializeMemory(as: PrefixTrie.Link.self, repeating: PrefixTrie.Link(),
                                                           count: NodePages.pageSize)
    }

    init(copying other: NodePage) {
        memory = UnsafeMutableRawPointer.allocate(byteCount: Self.bytes, alignment: MemoryLayout<PrefixTrie.Node>.alignment)
        memory.copyMemory(from: other.memory, byteCount: Self.bytes)
        nodes = memory.bindMemory(to: PrefixTrie.Node.self, capacity: NodePages.pageSize)
        links = (memory + Self.nodeBytes).bindMemory(to: PrefixTrie.Link.self, capacity: NodePages.pageSize)
    }

    deinit { memory.deallocate() }
}
