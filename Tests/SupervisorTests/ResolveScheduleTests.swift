import Protocol
import Testing
@testable import Supervisor

/// ResolveSchedule with a fake clock: seconds from an arbitrary start.
@Suite("Resolve schedule")
struct ResolveScheduleTests {
    static let start = Instant(nanoseconds: 1_000_000_000_000)
    static func at(_ seconds: Int) -> Instant { start + .seconds(seconds) }
    static func seconds(_ instant: Instant) -> Int { Int((instant - start).nanosecondsClamped / 1_000_000_000) }
    static let dns = Endpoint("198.51.100.7:51820")!
    static let moved = Endpoint("198.51.100.8:51820")!

    @Test func dueAtOnceAtStart() {
        let schedule = ResolveSchedule(now: Self.at(0))
        #expect(schedule.isDue(now: Self.at(0)))
        #expect(schedule.current == nil && schedule.failures == 0)
    }

    @Test func failuresBackOffFromOneSecondDoublingToSixty() {
        var schedule = ResolveSchedule(now: Self.at(0))
        var now = 0
        var waits: [Int] = []
        for _ in 0..<9 {
            schedule.failed(now: Self.at(now))
            let due = Self.seconds(schedule.due)
            waits.append(due - now)
            #expect(!schedule.isDue(now: Self.at(due - 1)) && schedule.isDue(now: Self.at(due)))
            now = due
        }
        #expect(waits == [1, 2, 4, 8, 16, 32, 60, 60, 60])
        #expect(schedule.failures == 9)
    }

    @Test func aSuccessResetsTheBackOff() {
        var schedule = ResolveSchedule(now: Self.at(0))
        for now in [0, 1, 3] { schedule.failed(now: Self.at(now)) }
        #expect(schedule.resolved(Self.dns, now: Self.at(7)) == Self.dns)
        #expect(schedule.failures == 0)
        schedule.failed(now: Self.at(100))
        #expect(Self.seconds(schedule.due) == 101)
    }

    @Test func withoutAHandshakeItResolvesEveryThirtySeconds() {
        var schedule = ResolveSchedule(now: Self.at(0))
        #expect(schedule.resolved(Self.dns, now: Self.at(0)) == Self.dns)
        #expect(Self.seconds(schedule.due) == 30)
        schedule.observe(lastHandshake: nil, endpoint: nil)
        #expect(Self.seconds(schedule.due) == 30)
    }

    @Test func aFreshHandshakeWaitsUntilItIsStale() {
        var schedule = ResolveSchedule(now: Self.at(0))
        _ = schedule.resolved(Self.dns, now: Self.at(0))
        schedule.observe(lastHandshake: Self.at(5), endpoint: nil)
        #expect(Self.seconds(schedule.due) == 5 + 135)  // REKEY_AFTER_TIME + REKEY_TIMEOUT + KEEPALIVE_TIMEOUT
        // Rekeyed at 125 s: stale at 260 s.
        schedule.observe(lastHandshake: Self.at(125), endpoint: nil)
        #expect(Self.seconds(schedule.due) == 260)
        #expect(!schedule.isDue(now: Self.at(259)) && schedule.isDue(now: Self.at(260)))
    }

    @Test func aStaleHandshakeStillWaitsForTheInterval() {
        var schedule = ResolveSchedule(now: Self.at(0))
        schedule.observe(lastHandshake: Self.at(0), endpoint: nil)
        _ = schedule.resolved(Self.dns, now: Self.at(200))
        #expect(Self.seconds(schedule.due) == 230)
    }

    @Test func aFreshHandshakeHoldsBackRetries() {
        var schedule = ResolveSchedule(now: Self.at(0))
        schedule.failed(now: Self.at(0))
        schedule.observe(lastHandshake: Self.at(0), endpoint: Self.moved)  // the peer reached us
        #expect(Self.seconds(schedule.due) == 135)
    }

    @Test func onlyADifferentAnswerIsAChange() {
        var schedule = ResolveSchedule(now: Self.at(0))
        #expect(schedule.resolved(Self.dns, now: Self.at(0)) == Self.dns)
        #expect(schedule.resolved(Self.dns, now: Self.at(30)) == nil)
        #expect(schedule.resolved(Self.moved, now: Self.at(60)) == Self.moved)
        #expect(schedule.current == Self.moved)
    }

    @Test func aPeerThatRoamedAwayFromItsNameIsPulledBack() {
        var schedule = ResolveSchedule(now: Self.at(0))
        _ = schedule.resolved(Self.dns, now: Self.at(0))
        schedule.observe(lastHandshake: Self.at(10), endpoint: Self.moved)
        #expect(schedule.current == Self.moved)
        #expect(schedule.resolved(Self.dns, now: Self.at(145)) == Self.dns)
    }

    @Test func thePolicyCanBeChanged() {
        var policy = ResolveSchedule.Policy()
        policy.firstRetry = .milliseconds(10)
        policy.maximumRetry = .milliseconds(15)
        var schedule = ResolveSchedule(now: Self.at(0), policy: policy)
        schedule.failed(now: Self.at(0))
        schedule.failed(now: Self.at(1))
        schedule.failed(now: Self.at(2))
        #expect(schedule.due == Self.at(2) + .milliseconds(15))
    }
}
