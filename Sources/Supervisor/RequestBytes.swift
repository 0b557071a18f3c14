import Synchronization

/// The request bytes that the UAPI server's sets hold together, under a limit. Each connection
/// reads its set whole (parsed, about 24 bytes per line) before it waits for the set lock, so
/// without a shared limit 32 connections could hold 32 large requests at once; with it they hold
/// one request's worth in all, and a set that would go over is refused while the others go on.
final class RequestBytes: Sendable {
    let limit: Int
    private let inUse = Atomic<Int>(0)

    init(limit: Int) { self.limit = limit }

    /// Takes `count` more bytes if they fit under the limit; false (taking nothing) otherwise.
    func reserve(_ count: Int) -> Bool {
        var current = inUse.load(ordering: .relaxed)
        while true {
            guard count <= limit - current else { return false }
            let (exchanged, original) = inUse.compareExchange(expected: current, desired: current + count, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
    }

    func release(_ count: Int) { inUse.subtract(count, ordering: .relaxed) }

    var held: Int { inUse.load(ordering: .relaxed) }
}
