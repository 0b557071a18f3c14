import Testing
import Protocol

/// RateLimiter: the kernel's token bucket per IPv4 address and IPv6 /64, a table that never grows,
/// and idle sources swept at most once a second.
@Suite("RateLimiter")
struct RateLimiterTests {
    /// #expect cannot call a mutating method on a local, so the tests hold the limiter by reference.
    private final class Limiter {
        var limiter: RateLimiter
        init(maxEntries: Int = RateLimiter.defaultMaxEntries) { limiter = RateLimiter(maxEntries: maxEntries) }
        func allow(_ source: IPAddress, now: Instant) -> Bool { limiter.allow(source, now: now) }
        var count: Int { limiter.count }
        var maxEntries: Int { limiter.maxEntries }
    }

    static let start = Instant(nanoseconds: 1_000_000_000_000)
    static let interval = Duration.seconds(1) / WireGuard.packetsPerSecondPerSource
    static let burst = WireGuard.packetsBurstPerSource

    static func v4(_ text: String) -> IPAddress { IPAddress(text)! }

    @Test func burstThenRefused() {
        let limiter = Limiter()
        let source = Self.v4("192.0.2.1")
        for i in 0..<Self.burst {
            #expect(limiter.allow(source, now: Self.start), "packet \(i) of the burst")
        }
        #expect(!limiter.allow(source, now: Self.start))
        #expect(!limiter.allow(source, now: Self.start))
        #expect(limiter.count == 1)
    }

    @Test func refillsAtTheConfiguredRate() {
        let limiter = Limiter()
        let source = Self.v4("192.0.2.1")
        for _ in 0..<Self.burst { #expect(limiter.allow(source, now: Self.start)) }
        #expect(!limiter.allow(source, now: Self.start))

        // Just short of one packet's worth earns nothing; the full interval earns exactly one.
        #expect(!limiter.allow(source, now: Self.start + (Self.interval - .nanoseconds(1))))
        #expect(limiter.allow(source, now: Self.start + Self.interval))
        #expect(!limiter.allow(source, now: Self.start + Self.interval))

        // Sustained: one packet per interval passes, a second in the same interval does not.
        var now = Self.start + Self.interval
        for _ in 0..<100 {
            now = now + Self.interval
            #expect(limiter.allow(source, now: now))
            #expect(!limiter.allow(source, now: now + .milliseconds(1)))
        }
        // From a full bucket, attempts every millisecond for a second get the burst plus what
        // 999 ms earn: 5 + 19.
        var passed = 0
        let from = now + .seconds(10)
        for ms in 0..<1000 where limiter.allow(source, now: from + .milliseconds(ms)) { passed += 1 }
        #expect(passed == WireGuard.packetsPerSecondPerSource + Self.burst - 1)
    }

    @Test func creditIsCappedAtTheBurst() {
        let limiter = Limiter()
        let source = Self.v4("192.0.2.1")
        #expect(limiter.allow(source, now: Self.start))
        let later = Self.start + .milliseconds(900)   // long enough to earn far more than the burst
        for _ in 0..<Self.burst { #expect(limiter.allow(source, now: later)) }
        #expect(!limiter.allow(source, now: later))
    }

    @Test func sourcesAreIndependent() {
        let limiter = Limiter()
        let a = Self.v4("198.51.100.1"), b = Self.v4("198.51.100.2")
        for _ in 0..<Self.burst { #expect(limiter.allow(a, now: Self.start)) }
        #expect(!limiter.allow(a, now: Self.start))
        for _ in 0..<Self.burst { #expect(limiter.allow(b, now: Self.start)) }
        #expect(!limiter.allow(b, now: Self.start))
        #expect(limiter.count == 2)
    }

    @Test func ipv6SourcesShareABucketPerSlash64() {
        let limiter = Limiter()
        for i in 0..<Self.burst {
            #expect(limiter.allow(IPAddress("2001:db8:1:2::\(i + 1)")!, now: Self.start))
        }
        #expect(!limiter.allow(IPAddress("2001:db8:1:2:ffff:ffff:ffff:ffff")!, now: Self.start), "same /64")
        #expect(limiter.allow(IPAddress("2001:db8:1:3::1")!, now: Self.start), "neighbouring /64")
        #expect(limiter.count == 2)
    }

    @Test func familiesDoNotCollide() {
        // 0.0.0.1 as a 64-bit key must not be the /64 ::1 falls in, nor 0:0:0:1::.
        let limiter = Limiter()
        for _ in 0..<Self.burst { #expect(limiter.allow(IPAddress("0.0.0.1")!, now: Self.start)) }
        #expect(limiter.allow(IPAddress("0:0:0:1::")!, now: Self.start))
        #expect(limiter.allow(IPAddress("::1")!, now: Self.start))
        #expect(limiter.count == 3)
    }

    @Test func idleSourcesAreCollected() {
        let limiter = Limiter()
        for i in 0..<50 { #expect(limiter.allow(Self.v4("10.0.0.\(i)"), now: Self.start)) }
        #expect(limiter.count == 50)
        // Still fresh a second later: idle for exactly one second is not more than one second.
        #expect(limiter.allow(Self.v4("10.0.1.1"), now: Self.start + .seconds(1)))
        #expect(limiter.count == 51)
        // The next sweep is due a second after the last one, and takes every source idle > 1 s.
        #expect(limiter.allow(Self.v4("10.0.1.2"), now: Self.start + .milliseconds(1500)))
        #expect(limiter.count == 52, "no sweep within a second of the last")
        #expect(limiter.allow(Self.v4("10.0.0.7"), now: Self.start + .milliseconds(2001)))
        #expect(limiter.count == 2, "only 10.0.1.2 (idle 0.5 s) survives, then 10.0.0.7 comes back as new")
    }

    @Test func returningSourceStartsFresh() {
        let limiter = Limiter()
        let source = Self.v4("203.0.113.9")
        for _ in 0..<Self.burst { #expect(limiter.allow(source, now: Self.start)) }
        #expect(!limiter.allow(source, now: Self.start))
        let later = Self.start + .seconds(5)
        for _ in 0..<Self.burst { #expect(limiter.allow(source, now: later)) }
        #expect(!limiter.allow(source, now: later))
        #expect(limiter.count == 1)
    }

    @Test func fullTableRefusesNewSourcesButServesKnownOnes() {
        let limiter = Limiter(maxEntries: 4)
        #expect(limiter.maxEntries == 4)
        for i in 0..<4 { #expect(limiter.allow(Self.v4("10.0.0.\(i)"), now: Self.start)) }
        #expect(limiter.count == 4)
        #expect(!limiter.allow(Self.v4("10.0.0.200"), now: Self.start), "new source while full")
        #expect(!limiter.allow(IPAddress("fd00::1")!, now: Self.start), "new source while full")
        #expect(limiter.count == 4)
        #expect(limiter.allow(Self.v4("10.0.0.2"), now: Self.start), "known source keeps its bucket")
        // Once the known sources go idle and are swept, new ones get in again.
        let later = Self.start + .seconds(3)
        #expect(limiter.allow(Self.v4("10.0.0.200"), now: later))
        #expect(limiter.count == 1)
    }

    @Test func defaultCapacity() {
        let limiter = Limiter()
        #expect(limiter.maxEntries == RateLimiter.defaultMaxEntries)
        #expect(limiter.count == 0)
    }

    @Test func manySourcesUnderChurnStayBounded() {
        let limiter = Limiter(maxEntries: 1000)
        var now = Self.start
        var refused = 0
        for round in 0..<20 {
            for i in 0..<1500 {
                let address = IPAddress.v4(IPv4Address(value: UInt32(round * 1500 + i)))
                if !limiter.allow(address, now: now) { refused += 1 }
            }
            #expect(limiter.count <= 1000)
            now = now + .milliseconds(1100)
        }
        #expect(refused == 20 * 500, "each round fills the table, then refuses the rest")
    }
}
