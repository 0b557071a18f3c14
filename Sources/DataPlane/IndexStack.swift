/// A stack of Int32 indices with all its room reserved at start: the free lists of the buffer
/// and job pools, which must not allocate when a packet takes or returns a slot.
struct IndexStack: ~Copyable {
    private let slots: UnsafeMutablePointer<Int32>
    private(set) var depth = 0

    /// Empty, with room for `capacity` indices.
    init(capacity: Int) { slots = .allocate(capacity: capacity) }

    /// Holding 0..<count, 0 on top (so the lowest indices, the first pages, are used first).
    init(holdingAllBelow count: Int) {
        slots = .allocate(capacity: count)
        for i in 0..<count { slots[i] = Int32(count - 1 - i) }
        depth = count
    }

    deinit { slots.deallocate() }

    mutating func pop() -> Int32? {
        guard depth > 0 else { return nil }
        depth -= 1
        return slots[depth]
    }

    mutating func push(_ index: Int32) {
        slots[depth] = index
        depth += 1
    }
}
