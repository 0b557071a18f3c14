import Testing
import Protocol

/// ReplayWindow: each counter accepted once, the window's edge exactly where the kernel has it, and
/// the same answers as a naive set of everything seen.
@Suite("ReplayWindow")
struct ReplayWindowTests {
    /// #expect cannot call a mutating method on a local, so the tests hold the window by reference.
    private final class Window {
        var window = ReplayWindow()
        func validate(_ counter: UInt64) -> Bool { window.validate(counter) }
        func reset() { window.reset() }
    }

    /// Counters behind the newest that the window still judges: WireGuard.replayWindowBits minus one word.
    static let usable: UInt64 = UInt64(WireGuard.replayWindowBits) - 64

    @Test func windowGeometryMatchesTheConstant() {
        // ReplayWindow keeps its ring inline as 128 words; the constant must still say so.
        #expect(WireGuard.replayWindowBits == 128 * 64)
        #expect(Self.usable == 8128)
    }

    @Test func inOrderCountersPassOnceEach() {
        let window = Window()
        for counter: UInt64 in 0..<20_000 {
            #expect(window.validate(counter))
        }
        for counter: UInt64 in 19_990..<20_000 {
            #expect(!window.validate(counter), "replay of \(counter)")
        }
    }

    @Test func counterZeroIsFreshAndThenAReplay() {
        let window = Window()
        #expect(window.validate(0))
        #expect(!window.validate(0))
        #expect(window.validate(1))
        #expect(!window.validate(1))
    }

    @Test func outOfOrderWithinTheWindowPassesOnce() {
        let window = Window()
        #expect(window.validate(1000))
        for counter: UInt64 in stride(from: 999, through: 0, by: -3) {
            #expect(window.validate(counter))
            #expect(!window.validate(counter))
        }
        #expect(window.validate(1001))
        #expect(window.validate(998))
        #expect(!window.validate(999))
    }

    @Test func edgeOfTheWindow() {
        let newest: UInt64 = 100_000
        let window = Window()
        #expect(window.validate(newest))
        #expect(!window.validate(newest - Self.usable - 1), "one past the edge")
        #expect(window.validate(newest - Self.usable + 2), "just inside the edge")

        // Moving forward by one moves the edge by one: the old edge, never seen, is now outside.
        #expect(window.validate(newest + 1))
        #expect(!window.validate(newest - Self.usable), "was at the edge, now one past it")
        #expect(window.validate(newest + 1 - Self.usable), "exactly at the new edge")
        #expect(!window.validate(newest + 1 - Self.usable))
        #expect(!window.validate(newest - Self.usable + 2), "replay, still inside")
    }

    @Test(arguments: [0, 1, 62, 63, 64, 65, 127, 4095] as [UInt64])
    func edgeHoldsAtEveryBitOffset(newestOffset: UInt64) {
        // The ring clears whole 64-bit words; the edge must not depend on where in a word we stand.
        let newest = 50_000 + newestOffset
        let edge = newest - Self.usable
        let window = Window()
        for counter in (edge - 100)...newest where counter != edge && counter != edge - 1 {
            #expect(window.validate(counter))
        }
        #expect(window.validate(edge), "exactly at the edge, never seen")
        #expect(!window.validate(edge), "and then a replay")
        #expect(!window.validate(edge - 1), "one past the edge, never seen")
        #expect(!window.validate(edge + 1), "replay just inside")

        let fresh = Window()
        #expect(fresh.validate(newest))
        #expect(!fresh.validate(edge - 1))
        #expect(fresh.validate(edge))
    }

    @Test func firstCounterNeedNotBeZero() {
        let window = Window()
        #expect(window.validate(Self.usable + 5))
        #expect(window.validate(5))
        #expect(!window.validate(4))
    }

    @Test func bigJumpsForwardForgetTheOldWindow() {
        let window = Window()
        for counter: UInt64 in 0..<300 { #expect(window.validate(counter)) }
        let far: UInt64 = 1 << 40
        #expect(window.validate(far))
        #expect(!window.validate(299), "far behind now")
        #expect(window.validate(far - 1))
        #expect(window.validate(far - Self.usable))
        // A jump of exactly one ring must clear every word, including those that held old counters.
        let ring = UInt64(WireGuard.replayWindowBits)
        #expect(window.validate(far + ring))
        #expect(window.validate(far + ring - Self.usable))
        #expect(!window.validate(far + ring - Self.usable - 1))
        for counter in (far + ring - 64)..<(far + ring) { #expect(window.validate(counter)) }
        // A jump of less than a ring keeps what is still in the window.
        #expect(window.validate(far + ring + 100))
        #expect(!window.validate(far + ring - 1))
        #expect(window.validate(far + ring - Self.usable + 100))
    }

    @Test func countersNearTheLimit() {
        let limit = WireGuard.rejectAfterMessages
        let window = Window()
        #expect(!window.validate(limit))
        #expect(!window.validate(limit + 1))
        #expect(!window.validate(.max))
        #expect(window.validate(limit - 1))
        #expect(!window.validate(limit - 1))
        #expect(window.validate(limit - 2))
        #expect(window.validate(limit - 1 - Self.usable))
        #expect(!window.validate(limit - 2 - Self.usable))
        #expect(!window.validate(limit))
        #expect(!window.validate(0))
    }

    @Test func resetForgetsEverything() {
        let window = Window()
        #expect(window.validate(10_000))
        #expect(window.validate(5_000))
        #expect(!window.validate(7), "too old")
        window.reset()
        #expect(window.validate(7))
        #expect(window.validate(0))
        #expect(window.validate(5_000))
        #expect(window.validate(10_000))
    }

    /// The window's meaning without its mechanics: every counter ever accepted, and the newest.
    private struct NaiveWindow {
        var seen = Set<UInt64>()
        var newest: UInt64?

        mutating func validate(_ counter: UInt64) -> Bool {
            guard counter < WireGuard.rejectAfterMessages, !seen.contains(counter) else { return false }
            if let newest, counter < newest, newest - counter > ReplayWindowTests.usable { return false }
            seen.insert(counter)
            newest = max(newest ?? counter, counter)
            return true
        }
    }

    @Test(arguments: [11, 12, 13, 14] as [UInt64])
    func matchesNaiveModel(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        let window = Window()
        var model = NaiveWindow()
        var base: UInt64 = seed == 14 ? WireGuard.rejectAfterMessages - 30_000 : 0
        var mismatches = 0
        for _ in 0..<20_000 {
            // Mostly near the newest (reordering, duplicates, the edge), sometimes a jump ahead.
            let newest = model.newest ?? base
            let counter: UInt64
            switch Int.random(in: 0..<100, using: &rng) {
            case 0..<60:
                counter = newest &+ UInt64.random(in: 0...40, using: &rng) &- 20
            case 60..<80:
                counter = newest &- Self.usable &+ UInt64.random(in: 0...6, using: &rng) &- 3
            case 80..<95:
                counter = newest &- UInt64.random(in: 0...Self.usable + 200, using: &rng)
            default:
                base = newest &+ UInt64.random(in: 0...20_000, using: &rng)
                counter = base
            }
            if window.validate(counter) != model.validate(counter) { mismatches += 1 }
        }
        #expect(mismatches == 0, "seed \(seed)")
    }
}
