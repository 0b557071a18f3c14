import Glibc

/// The heap allocation counter of scripts/malloc-counter.c, when this process runs with it
/// preloaded (scripts/bench does that): `wgd_malloc_count()` counts every malloc, calloc, realloc,
/// posix_memalign, aligned_alloc, memalign, valloc and pvalloc call so far, in every thread.
enum MallocCounter {
    private typealias Count = @convention(c) () -> UInt64

    /// The current count, or nil without the preloaded library. Look it up once before the
    /// region you measure and call it on both sides: the lookup itself may allocate.
    static func reader() -> (() -> UInt64)? {
        // RTLD_DEFAULT is ((void *)0) in glibc, a macro Swift does not import.
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "wgd_malloc_count") else { return nil }
        let count = unsafeBitCast(symbol, to: Count.self)
        return { count() }
    }

    static let unavailable = "unavailable (run under scripts/bench, which preloads the counter)"
}
