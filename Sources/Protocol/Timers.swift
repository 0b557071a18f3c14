/// The five per-peer timers (whitepaper §6; the kernel's timers.c), as a pure state machine: events
/// and the current time go in, deadlines are kept, and `expire` says what is due.
///
/// - retransmit handshake: armed when an initiation is sent, REKEY_TIMEOUT + jitter; on expiry
///   retry, or once MAX_TIMER_HANDSHAKES + 1 retries went unanswered (20 initiations, about
///   100 s) give up and drop what is staged.
/// - send keepalive: armed when data is received, KEEPALIVE_TIMEOUT, unless we send something
///   first; so that the peer learns its data arrived.
/// - new handshake: armed when data is sent, KEEPALIVE + REKEY_TIMEOUT + jitter, unless something
///   authenticated arrives first: the peer has gone quiet, so make a new session.
/// - zero key material: armed when a session is derived, 3 × REJECT_AFTER_TIME; wipes every key.
/// - persistent keepalive: re-armed by every authenticated packet sent or received, at the
///   configured interval; keeps NAT and firewall state alive.
///
/// One deadline per timer; the data plane runs all peers' deadlines off one timer mechanism.
public struct PeerTimers: Sendable {
    public struct Actions: OptionSet, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// Send a new initiation as a retry (clear the cached source address first: it may be the
        /// reason we get no answer).
        public static let retransmitInitiation = Actions(rawValue: 1 << 0)
        /// Give up on the handshake: drop the staged packets.
        public static let giveUpHandshake = Actions(rawValue: 1 << 1)
        public static let sendKeepalive = Actions(rawValue: 1 << 2)
        /// Start a new handshake (not a retry), clearing the cached source address.
        public static let newHandshake = Actions(rawValue: 1 << 3)
        public static let wipeKeyMaterial = Actions(rawValue: 1 << 4)
    }

    private var retransmitHandshake: Instant?
    private var sendKeepalive: Instant?
    private var newHandshake: Instant?
    private var zeroKeyMaterial: Instant?
    private var persistentKeepalive: Instant?
    private var needAnotherKeepalive = false

    /// Retries of the current handshake; the first initiation is not counted.
    public private(set) var handshakeAttempts = 0
    /// Seconds, 0 = off.
    public var persistentKeepaliveInterval: UInt16 = 0

    public init() {}

    /// The earliest armed deadline.
    public var nextDeadline: Instant? {
        func earlier(_ a: Instant?, _ b: Instant?) -> Instant? {
            guard let a else { return b }
            guard let b else { return a }
            return min(a, b)
        }
        return earlier(earlier(earlier(retransmitHandshake, sendKeepalive), earlier(newHandshake, zeroKeyMaterial)), persistentKeepalive)
    }

    // MARK: events, named for what happened

    public mutating func dataSent(now: Instant, jitter: Duration) {
        if newHandshake == nil {
            newHandshake = now + WireGuard.keepaliveTimeout + WireGuard.rekeyTimeout + jitter
        }
    }

    public mutating func dataReceived(now: Instant) {
        if sendKeepalive == nil {
            sendKeepalive = now + WireGuard.keepaliveTimeout
        } else {
            needAnotherKeepalive = true
        }
    }

    /// Anything authenticated sent (handshake, data, keepalive) carries the acknowledgement a
    /// keepalive would.
    public mutating func anyAuthenticatedPacketSent() { sendKeepalive = nil }

    /// The peer is alive: no need for a new handshake on its behalf.
    public mutating func anyAuthenticatedPacketReceived() { newHandshake = nil }

    public mutating func anyAuthenticatedPacketTraversal(now: Instant) {
        if persistentKeepaliveInterval > 0 {
            persistentKeepalive = now + .seconds(Int64(persistentKeepaliveInterval))
        }
    }

    /// A handshake is wanted for a reason other than a retry: the retry count starts again.
    public mutating func handshakeRequested(isRetry: Bool) {
        if !isRetry { handshakeAttempts = 0 }
    }

    public mutating func handshakeInitiated(now: Instant, jitter: Duration) {
        retransmitHandshake = now + WireGuard.rekeyTimeout + jitter
    }

    public mutating func handshakeComplete() {
        retransmitHandshake = nil
        handshakeAttempts = 0
    }

    public mutating func sessionDerived(now: Instant) {
        zeroKeyMaterial = now + WireGuard.rejectAfterTime * 3
    }

    /// The interval was set: arm it (the caller also sends a keepalive at once, as wg expects).
    public mutating func persistentKeepaliveChanged(now: Instant) {
        persistentKeepalive = nil
        anyAuthenticatedPacketTraversal(now: now)
    }

    /// The peer is going away or its keys were reset: nothing is due any more.
    public mutating func stopAll() {
        retransmitHandshake = nil; sendKeepalive = nil; newHandshake = nil
        zeroKeyMaterial = nil; persistentKeepalive = nil
        needAnotherKeepalive = false
        handshakeAttempts = 0
    }

    // MARK: expiry

    /// Fires every timer whose deadline has passed and returns what the peer must do.
    public mutating func expire(now: Instant) -> Actions {
        var actions: Actions = []
        if let deadline = retransmitHandshake, deadline <= now {
            retransmitHandshake = nil
            actions.formUnion(expiredRetransmitHandshake(now: now))
        }
        if let deadline = sendKeepalive, deadline <= now {
            sendKeepalive = nil
            actions.insert(.sendKeepalive)
            if needAnotherKeepalive {
                needAnotherKeepalive = false
                sendKeepalive = now + WireGuard.keepaliveTimeout
            }
        }
        if let deadline = newHandshake, deadline <= now {
            newHandshake = nil
            actions.insert(.newHandshake)
        }
        if let deadline = zeroKeyMaterial, deadline <= now {
            zeroKeyMaterial = nil
            actions.insert(.wipeKeyMaterial)
        }
        if let deadline = persistentKeepalive, deadline <= now {
            persistentKeepalive = nil
            if persistentKeepaliveInterval > 0 { actions.insert(.sendKeepalive) }
        }
        return actions
    }

    /// The kernel and wireguard-go both give up once the retry count exceeds
    /// MAX_TIMER_HANDSHAKES, i.e. after MAX + 2 initiations in all (about 90 s of trying).
    private mutating func expiredRetransmitHandshake(now: Instant) -> Actions {
        guard handshakeAttempts > WireGuard.maxHandshakeAttempts else {
            handshakeAttempts += 1
            return .retransmitInitiation
        }
        sendKeepalive = nil
        // Destroy whatever a half-finished exchange left, unless that is already scheduled.
        if zeroKeyMaterial == nil { zeroKeyMaterial = now + WireGuard.rejectAfterTime * 3 }
        return .giveUpHandshake
    }
}

extension PeerTimers {
    /// A jitter in [0, 333 ms) so that peers do not retry in lockstep.
    public static func jitter(using random: inout some RandomNumberGenerator) -> Duration {
        .nanoseconds(Int64.random(in: 0..<WireGuard.rekeyTimeoutJitterMax.nanosecondsClamped, using: &random))
    }
}
