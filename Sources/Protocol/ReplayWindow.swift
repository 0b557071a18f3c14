/// Anti-replay for one keypair's receive counters: the RFC 6479 sliding window.
///
/// The window is a ring of 128 words (WireGuard.replayWindowBits bits). Moving forward clears whole
/// words instead of shifting bits, so a jump costs at most 128 stores; the price is that the word
/// holding the newest counter may be partly in the future, leaving 8192 − 64 = 8128 counters
/// usable behind the newest. Everything lives inline: `validate` runs per packet and never allocates.
public struct ReplayWindow: Sendable {
    private static let wordCount = 128
    private static let windowSize = UInt64(WireGuard.replayWindowBits - 64)

    /// One past the greatest counter accepted, so that 0 can mean "nothing yet" and counter 0
    /// needs no special case.
    private var next: UInt64 = 0
    private var words = InlineArray<128, UInt64>(repeating: 0)

    /// An empty window: every counter below WireGuard.rejectAfterMessages is fresh.
    public init() {}

    /// True exactly once per fresh counter; false for a replay, a counter behind the window, or one too high.
    public mutating func validate(_ counter: UInt64) -> Bool {
        // From WireGuard.rejectAfterMessages on the keypair is retired, well before its counter wraps.
        guard counter < WireGuard.rejectAfterMessages else { return false }
        let position = counter + 1
        if position + Self.windowSize < next { return false }

        let word = position >> 6
        if position > next {
            let newestWord = next >> 6
            let stale = min(word - newestWord, UInt64(Self.wordCount))
            var i: UInt64 = 1
            while i <= stale {
                words[Self.slot(newestWord + i)] = 0
                i += 1
            }
            next = position
        }
        let slot = Self.slot(word)
        let bit: UInt64 = 1 << (position & 63)
        guard words[slot] & bit == 0 else { return false }
        words[slot] |= bit
        return true
    }

    /// Forgets every counter, as for a fresh keypair.
    public mutating func reset() {
        self = ReplayWindow()
    }

    private static func slot(_ word: UInt64) -> Int {
        Int(truncatingIfNeeded: word) & (wordCount - 1)
    }
}
