import Synchronization

/// Why packets were dropped, counted (the kernel counts the same into rx/tx errors; these are
/// finer, for diagnosis).
public final class Counters: Sendable {
    public enum Reason: Int, CaseIterable, Sendable {
        case noBuffer, noRoute, noEndpoint, queueFull, malformed, tooLarge, unknownSession, authenticationFailed, rejected, sendFailed
    }

    private let counts = InlineArray<10, Atomic<UInt64>> { _ in Atomic<UInt64>(0) }

    func count(_ reason: Reason, _ n: UInt64 = 1) { counts[reason.rawValue].wrappingAdd(n, ordering: .relaxed) }

    public subscript(_ reason: Reason) -> UInt64 { counts[reason.rawValue].load(ordering: .relaxed) }

    /// "noBuffer=0 noRoute=0 … sendFailed=0": every count, zero or not, in the order of `Reason`
    /// (what SIGUSR1 prints: a reader can tell a zero from a reason it does not know).
    public var report: String {
        Reason.allCases.map { "\($0)=\(self[$0])" }.joined(separator: " ")
    }

    /// "noBuffer=3 queueFull=1 …", the non-zero counts.
    public var summary: String {
        let parts = Reason.allCases.compactMap { reason -> String? in
            let n = self[reason]
            return n == 0 ? nil : "\(reason)=\(n)"
        }
        return parts.isEmpty ? "no drops" : parts.joined(separator: " ")
    }
}
