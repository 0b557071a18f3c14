import Glibc
package import Protocol

/// The two clocks the protocol is fed: monotonic time that keeps counting through suspend
/// (CLOCK_BOOTTIME, so keys still expire on a router that slept), and the wall clock.
package enum Clock {
    package static func now() -> Instant {
        var t = timespec()
        clock_gettime(CLOCK_BOOTTIME, &t)
        return Instant(nanoseconds: UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec))
    }

    package static func wall() -> WallTime {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        return WallTime(seconds: UInt64(t.tv_sec), nanoseconds: UInt32(t.tv_nsec))
    }
}
