/// Per-source admission of handshake initiations while under load, as the kernel's ratelimiter.c:
/// a token bucket per IPv4 address and per IPv6 /64 (one host usually owns a whole /64, so finer
/// keys would let it dodge the limit), refilled at WireGuard.packetsPerSecondPerSource with room
/// for WireGuard.packetsBurstPerSource.
///
/// A value type so that it can live inside a `Mutex` and be mutated in place. Copying it is legal
/// but the copy's first `allow` duplicates the whole table, so keep exactly one.
///
/// Memory is fixed at init: the table is sized for `maxEntries` and never grows or rehashes, and
/// a source that is new while the table is full is refused rather than evicting a known one, so a
/// flood of spoofed sources cannot push out real peers or make us allocate. Sources idle for more
/// than a second carry no state worth keeping (their bucket would be full again), so they are
/// swept at most once a second. The default of 8192 entries is what the kernel picks on a
/// 128 MiB router, and costs about 640 KiB.
public struct RateLimiter: Sendable {
    /// Sources tracked at once unless `init` says otherwise.
    public static let defaultMaxEntries = 8192

    private static let second: UInt64 = 1_000_000_000
    private static let packetCost = second / UInt64(WireGuard.packetsPerSecondPerSource)
    private static let tokenMax = packetCost * UInt64(WireGuard.packetsBurstPerSource)

    /// An IPv4 address or the first 64 bits of an IPv6 one. Swift's Hasher is seeded per process,
    /// which is what keeps an attacker from choosing sources that all land in one bucket.
    private struct Source: Hashable {
        var bits: UInt64
        var isV6: Bool

        init(_ address: IPAddress) {
            switch address {
            case .v4(let a): bits = UInt64(a.value); isV6 = false
            case .v6(let a): bits = a.high; isV6 = true
            }
        }
    }

    /// Tokens are nanoseconds of credit: a packet costs 1/20 s and credit accrues with time.
    private struct Bucket {
        var tokens: UInt64
        var lastSeen: UInt64

        mutating func take(now: UInt64) -> Bool {
            let earned = now > lastSeen ? now - lastSeen : 0
            let available = min(RateLimiter.tokenMax, tokens + min(earned, RateLimiter.tokenMax))
            lastSeen = now
            guard available >= RateLimiter.packetCost else {
                tokens = available
                return false
            }
            tokens = available - RateLimiter.packetCost
            return true
        }
    }

    /// The most sources tracked at once.
    public let maxEntries: Int
    private var buckets: [Source: Bucket]
    /// Scratch for the sweep, preallocated so that sweeping never allocates.
    private var expired: [Source]
    private var lastSweep: UInt64?

    /// A limiter tracking at most `maxEntries` sources, with all of its memory allocated now.
    public init(maxEntries: Int = RateLimiter.defaultMaxEntries) {
        precondition(maxEntries > 0, "a rate limiter needs room for at least one source")
        self.maxEntries = maxEntries
        buckets = Dictionary(minimumCapacity: maxEntries)
        expired = []
        expired.reserveCapacity(maxEntries)
    }

    /// Sources currently tracked.
    public var count: Int { buckets.count }

    /// Whether one more packet from `source` may be processed at `now`.
    public mutating func allow(_ source: IPAddress, now: Instant) -> Bool {
        sweepIfDue(now: now.nanoseconds)
        let key = Source(source)
        if let index = buckets.index(forKey: key) {
            return buckets.values[index].take(now: now.nanoseconds)
        }
        guard buckets.count < maxEntries else { return false }
        // A new source starts full and pays for this packet, leaving burst − 1.
        buckets[key] = Bucket(tokens: Self.tokenMax - Self.packetCost, lastSeen: now.nanoseconds)
        return true
    }

    private mutating func sweepIfDue(now: UInt64) {
        if let last = lastSweep, now >= last, now - last < Self.second { return }
        lastSweep = now
        for (key, bucket) in buckets where now > bucket.lastSeen && now - bucket.lastSeen > Self.second {
            expired.append(key)
        }
        for key in expired { buckets.removeValue(forKey: key) }
        expired.removeAll(keepingCapacity: true)
    }
}
