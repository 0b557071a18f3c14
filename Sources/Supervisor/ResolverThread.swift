public import Crypto
import DataPlane
public import Protocol
import Synchronization
public import System

/// A peer whose endpoint the state file gives by host name.
public struct HostEndpointPeer: Hashable, Sendable, CustomStringConvertible {
    public let interface: String
    public let peer: PublicKey

    public init(interface: String, peer: PublicKey) {
        self.interface = interface
        self.peer = peer
    }

    public var description: String { "\(interface) peer \(peer)" }
}

/// What to resolve for one peer: `host:port` from the state file.
public struct HostEndpoint: Hashable, Sendable {
    public let peer: HostEndpointPeer
    public let host: String
    public let port: UInt16

    public init(peer: HostEndpointPeer, host: String, port: UInt16) {
        self.peer = peer
        self.host = host
        self.port = port
    }
}

/// The supervisor's resolver: one thread that resolves each host-name endpoint when its
/// `ResolveSchedule` says so, and reports the answers that change a peer's endpoint.
/// - `set(_:)` gives the whole list (at start and after every change of the state file): a peer
///   whose host and port stay keeps its schedule; a new or renamed one is resolved at once.
/// - `observe(_:lastHandshake:endpoint:)` passes on what the data plane reports of a peer.
/// - `onChange(peer, endpoint)` runs on the resolver thread, never after `stop()` has returned;
///   apply the endpoint there, and do not call `stop()` from it. Lookups run one at a time and
///   outside the lock: a slow DNS server delays the other lookups, never `set` or `observe`.
/// - `log` hears of a peer's first failure after a success (not of every retry), and of its
///   recovery.
/// - `stop()` returns at once; the thread ends when its current lookup does (getaddrinfo cannot
///   be interrupted).
public final class ResolverThread: Sendable {
    public typealias Resolve = @Sendable (String, UInt16) throws(ResolveError) -> Endpoint

    private struct Entry {
        let host: String
        let port: UInt16
        var schedule: ResolveSchedule
    }

    private struct State {
        var entries: [HostEndpointPeer: Entry] = [:]
        var stopping = false
    }

    private enum Step {
        case sleep(milliseconds: Int32)
        case resolve(HostEndpointPeer, host: String, port: UInt16)
    }

    private let state = Mutex(State())
    /// True once stopped; held while a callback runs, so that `stop()` waits for it.
    private let stopped = Mutex(false)
    private let wake: WakePipe
    private let policy: ResolveSchedule.Policy
    private let resolve: Resolve
    private let clock: @Sendable () -> Instant
    private let log: @Sendable (String) -> Void
    private let onChange: @Sendable (HostEndpointPeer, Endpoint) -> Void

    /// `clock` (for tests) defaults to the data plane's, CLOCK_BOOTTIME, the clock of the
    /// handshake times `observe` takes.
    public init(policy: ResolveSchedule.Policy = .init(), resolve: @escaping Resolve = EndpointResolver.resolve(host:port:),
                clock: (@Sendable () -> Instant)? = nil, log: @escaping @Sendable (String) -> Void = { _ in },
                onChange: @escaping @Sendable (HostEndpointPeer, Endpoint) -> Void) throws(Errno) {
        wake = try WakePipe()
        self.policy = policy
        self.resolve = resolve
        self.clock = clock ?? { Clock.now() }
        self.log = log
        self.onChange = onChange
    }

    public func start() throws(Errno) {
        try Threads.spawn(name: "wgd-resolve") { self.run() }
    }

    public func set(_ endpoints: [HostEndpoint]) {
        let now = clock()
        let policy = policy
        state.withLock { state in
            var entries: [HostEndpointPeer: Entry] = [:]
            for wanted in endpoints {
                if let kept = state.entries[wanted.peer], kept.host == wanted.host, kept.port == wanted.port {
                    entries[wanted.peer] = kept
                } else {
                    entries[wanted.peer] = Entry(host: wanted.host, port: wanted.port, schedule: ResolveSchedule(now: now, policy: policy))
                }
            }
            state.entries = entries
        }
        wake.signal()
    }

    /// `lastHandshake` on the data plane's monotonic clock (nil: none yet); `endpoint`: the one
    /// the data plane sends to now, when it knows one.
    public func observe(_ peer: HostEndpointPeer, lastHandshake: Instant?, endpoint: Endpoint?) {
        state.withLock { $0.entries[peer]?.schedule.observe(lastHandshake: lastHandshake, endpoint: endpoint) }
        wake.signal()
    }

    public func stop() {
        state.withLock { $0.stopping = true }
        stopped.withLock { $0 = true }
        wake.signal()
    }

    private func run() {
        while let step = nextStep() {
            switch step {
            case .sleep(let milliseconds): sleep(milliseconds)
            case .resolve(let peer, let host, let port): lookUp(peer, host: host, port: port)
            }
        }
    }

    /// The peer due first, or how long until it is; nil once stopping.
    private func nextStep() -> Step? {
        let now = clock()
        return state.withLock { state -> Step? in
            if state.stopping { return nil }
            guard let first = state.entries.min(by: { $0.value.schedule.due < $1.value.schedule.due }) else { return .sleep(milliseconds: -1) }
            if first.value.schedule.isDue(now: now) { return .resolve(first.key, host: first.value.host, port: first.value.port) }
            let wait = (first.value.schedule.due - now).nanosecondsClamped / 1_000_000 + 1
            return .sleep(milliseconds: Int32(clamping: wait))
        }
    }

    /// Until `milliseconds` pass (-1: forever) or `set`, `observe` or `stop` wakes us.
    private func sleep(_ milliseconds: Int32) {
        var poll = PollSet()
        poll.add(wake.pollable)
        _ = try? poll.wait(milliseconds: milliseconds)
        wake.drain()
    }

    private func lookUp(_ peer: HostEndpointPeer, host: String, port: UInt16) {
        let result: Result<Endpoint, ResolveError>
        do { result = .success(try resolve(host, port)) } catch { result = .failure(error) }
        let now = clock()
        // nil: the peer went, or got another name, while we asked: the answer is no longer wanted.
        let outcome = state.withLock { state -> (change: Endpoint?, failedBefore: Int, failures: Int)? in
            guard var entry = state.entries[peer], entry.host == host, entry.port == port else { return nil }
            let failedBefore = entry.schedule.failures
            var change: Endpoint?
            switch result {
            case .success(let endpoint): change = entry.schedule.resolved(endpoint, now: now)
            case .failure: entry.schedule.failed(now: now)
            }
            state.entries[peer] = entry
            return (change, failedBefore, entry.schedule.failures)
        }
        guard let outcome else { return }
        switch result {
        case .failure(let error) where outcome.failures == 1: log("\(peer): \(error); trying again with back-off")
        case .success(let endpoint) where outcome.failedBefore > 0: log("\(peer): \(host) resolved to \(endpoint) after \(outcome.failedBefore) failures")
        default: break
        }
        if let change = outcome.change { deliver(peer, change) }
    }

    private func deliver(_ peer: HostEndpointPeer, _ endpoint: Endpoint) {
        stopped.withLock { stopped in if !stopped { onChange(peer, endpoint) } }
    }
}
