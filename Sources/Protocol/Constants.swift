/// The protocol's numbers, in one place (the whitepaper §6 and the kernel's messages.h).
public enum WireGuard {
    public static let rekeyAfterMessages: UInt64 = 1 << 60
    public static let rejectAfterMessages: UInt64 = UInt64.max - (1 << 13)  // 2^64 − 2^13 − 1
    public static let rekeyAfterTime: Duration = .seconds(120)
    public static let rejectAfterTime: Duration = .seconds(180)
    public static let rekeyAttemptTime: Duration = .seconds(90)
    public static let rekeyTimeout: Duration = .seconds(5)
    /// Added to every REKEY_TIMEOUT-based timer so that peers do not retry in lockstep.
    public static let rekeyTimeoutJitterMax: Duration = .milliseconds(333)
    public static let keepaliveTimeout: Duration = .seconds(10)
    /// MAX_TIMER_HANDSHAKES (REKEY_ATTEMPT_TIME / REKEY_TIMEOUT): the retransmit timer gives up
    /// when the retry count exceeds it, i.e. after 19 retries, 20 initiations in all.
    public static let maxHandshakeAttempts = 18
    /// An initiator re-handshakes when it receives on a keypair this old, before it expires.
    public static let rekeyOnReceiveAge: Duration = .seconds(165)

    public static let cookieSecretLifetime: Duration = .seconds(120)
    /// A sender stops using a cookie this long before the responder rotates the secret under it.
    public static let cookieSecretLatency: Duration = .seconds(5)
    /// Initiations consumed from one peer: at most one per this interval (50/s).
    public static let initiationsMinInterval: Duration = .milliseconds(20)

    public static let replayWindowBits = 8192
    public static let maxStagedPackets = 128
    public static let maxQueuedPackets = 1024
    public static let maxQueuedHandshakes = 4096
    /// "Under load" lasts this long after the handshake queue was last 1/8 full.
    public static let underLoadAfterTime: Duration = .seconds(1)

    public static let packetsPerSecondPerSource = 20
    public static let packetsBurstPerSource = 5

    public static let paddingMultiple = 16
    public static let defaultMTU = 1420
    public static let defaultListenPort: UInt16 = 51820
}
