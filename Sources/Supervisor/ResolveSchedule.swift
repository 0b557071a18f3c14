public import Protocol

/// When to resolve one peer's host name next. Pure: every time is passed in (the monotonic
/// clock the data plane's instants come from), so tests drive it with a fake clock.
///
/// - At start: at once.
/// - After a failure: 1 s later, doubling up to 60 s. Every failure is retried, EAI_NONAME too:
///   `wg` gives up on a name that does not exist because it runs once, but a daemon at boot may
///   ask a forwarder that is still starting, and a dynamic-DNS name may get its record later.
/// - After a success: once the peer's last handshake is older than 135 s, or it has none, and at
///   most every 30 s. 135 s is REKEY_AFTER_TIME + REKEY_TIMEOUT + KEEPALIVE_TIMEOUT
///   (120 + 5 + 10): the oldest a working session's handshake gets, and what wireguard-tools'
///   reresolve-dns.sh waits for (its README runs it about every 30 s).
/// - A fresh handshake also holds back retries: the tunnel works, whatever DNS says now.
/// - An answer that differs from the endpoint in use is a change to apply. The one in use is
///   the last answer, or what the data plane reports (a peer that roamed): a stale peer that
///   roamed away from its DNS address is pulled back to it, as reresolve-dns.sh does.
public struct ResolveSchedule: Sendable, Equatable {
    public struct Policy: Sendable, Equatable {
        public var firstRetry: Duration = .seconds(1)
        public var maximumRetry: Duration = .seconds(60)
        public var staleHandshake: Duration = WireGuard.rekeyAfterTime + WireGuard.rekeyTimeout + WireGuard.keepaliveTimeout
        public var resolveInterval: Duration = .seconds(30)

        public init() {}
    }

    public let policy: Policy
    /// The earliest time to resolve again.
    public var due: Instant { max(earliest, freshUntil ?? earliest) }
    /// The endpoint in use: the last answer, or what the data plane said it uses.
    public private(set) var current: Endpoint?
    /// Failures since the last success (or the start).
    public private(set) var failures = 0

    /// Not before this, whatever the handshake: the start, the back-off, the interval.
    private var earliest: Instant
    private var retry: Duration
    /// Until when the last handshake counts as fresh; nil while there has been none.
    private var freshUntil: Instant?

    public init(now: Instant, policy: Policy = Policy()) {
        self.policy = policy
        earliest = now
        retry = policy.firstRetry
    }

    public func isDue(now: Instant) -> Bool { now >= due }

    /// The name resolved to `endpoint` at `now`: returns it when it differs from the one in use.
    public mutating func resolved(_ endpoint: Endpoint, now: Instant) -> Endpoint? {
        failures = 0
        retry = policy.firstRetry
        earliest = now + policy.resolveInterval
        defer { current = endpoint }
        return endpoint == current ? nil : endpoint
    }

    /// The name did not resolve at `now`.
    public mutating func failed(now: Instant) {
        failures += 1
        earliest = now + retry
        retry = min(retry * 2, policy.maximumRetry)
    }

    /// What the data plane reports: the peer's last handshake (nil: none yet) and, when it
    /// knows one, the endpoint it sends to now.
    public mutating func observe(lastHandshake: Instant?, endpoint: Endpoint?) {
        freshUntil = lastHandshake.map { $0 + policy.staleHandshake }
        if let endpoint { current = endpoint }
    }
}
