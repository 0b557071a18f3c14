/// A point on the monotonic clock, in nanoseconds since an arbitrary origin.
///
/// Protocol code never reads a clock: every function that cares about time takes `now`, so tests
/// drive it with a fake clock and the data plane with CLOCK_MONOTONIC (CLOCK_BOOTTIME on the router,
/// so that a suspended box still expires its keys).
public struct Instant: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var nanoseconds: UInt64

    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    public static let zero = Instant(nanoseconds: 0)

    public static func < (a: Instant, b: Instant) -> Bool { a.nanoseconds < b.nanoseconds }

    public static func + (a: Instant, d: Duration) -> Instant {
        let ns = d.nanosecondsClamped
        return Instant(nanoseconds: ns >= 0 ? a.nanoseconds &+ UInt64(ns) : a.nanoseconds &- min(a.nanoseconds, UInt64(-ns)))
    }

    /// The time from `b` to `a`; negative when `a` is earlier.
    public static func - (a: Instant, b: Instant) -> Duration {
        a >= b ? .nanoseconds(Int64(clamping: a.nanoseconds - b.nanoseconds))
               : .nanoseconds(-Int64(clamping: b.nanoseconds - a.nanoseconds))
    }

    /// True once `lifetime` has passed since `self` (the kernel's wg_birthdate_has_expired).
    public func hasExpired(_ lifetime: Duration, now: Instant) -> Bool {
        now - self >= lifetime
    }

    public var description: String { "\(nanoseconds / 1_000_000_000).\(nanoseconds % 1_000_000_000)s" }
}

extension Duration {
    /// Whole nanoseconds, saturating at the bounds of Int64 (about 292 years).
    public var nanosecondsClamped: Int64 {
        let (s, atto) = components
        let (sNs, over) = s.multipliedReportingOverflow(by: 1_000_000_000)
        if over { return s < 0 ? .min : .max }
        return sNs.addingReportingOverflow(atto / 1_000_000_000).partialValue
    }
}

/// Wall-clock time (Unix epoch), which the protocol needs only for initiation timestamps and for
/// reporting when the last handshake happened. Passed in, like `Instant`.
public struct WallTime: Comparable, Hashable, Sendable {
    public var seconds: UInt64
    public var nanoseconds: UInt32

    public init(seconds: UInt64, nanoseconds: UInt32) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    public static let zero = WallTime(seconds: 0, nanoseconds: 0)

    public static func < (a: WallTime, b: WallTime) -> Bool { (a.seconds, a.nanoseconds) < (b.seconds, b.nanoseconds) }
}
