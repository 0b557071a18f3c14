public import Crypto
import Synchronization

/// One session's transport keys (whitepaper §5.4.5) and what guards their use: a sending counter
/// that never repeats, a replay window for receiving, and a birthdate for their lifetime.
///
/// Shared by reference between the peer's slots, the index table and the workers encrypting or
/// decrypting with it in parallel; the keys are immutable, the counter atomic, the window locked.
public final class Keypair: Sendable {
    public let localIndex: UInt32
    public let remoteIndex: UInt32
    public let isInitiator: Bool
    public let birthdate: Instant
    let sendingKey: SecretKey
    let receivingKey: SecretKey
    private let sendingCounter = Atomic<UInt64>(0)
    private let replay = Mutex(ReplayWindow())
    /// Cleared when our private key changes or the session is torn down: stops sending at once
    /// even on workers still holding a reference.
    private let valid = Atomic<Bool>(true)

    init(sending: consuming SecretKey, receiving: consuming SecretKey, localIndex: UInt32, remoteIndex: UInt32,
         isInitiator: Bool, birthdate: Instant) {
        sendingKey = sending
        receivingKey = receiving
        self.localIndex = localIndex
        self.remoteIndex = remoteIndex
        self.isInitiator = isInitiator
        self.birthdate = birthdate
    }

    public var isValid: Bool { valid.load(ordering: .acquiring) }

    public func invalidate() { valid.store(false, ordering: .releasing) }

    /// Messages sent so far (the next nonce).
    public var sentMessages: UInt64 { sendingCounter.load(ordering: .relaxed) }

    /// Reserves the nonce for one outgoing message, or nil when this keypair must not send any
    /// more: too old (REJECT_AFTER_TIME), nonces exhausted (REJECT_AFTER_MESSAGES) or invalidated.
    public func reserveNonce(now: Instant) -> UInt64? {
        guard isValid, !birthdate.hasExpired(WireGuard.rejectAfterTime, now: now) else { return nil }
        let counter = sendingCounter.wrappingAdd(1, ordering: .relaxed).oldValue
        guard counter < WireGuard.rejectAfterMessages else {
            // Park the counter at the limit so that it can never wrap back to fresh nonces.
            sendingCounter.store(WireGuard.rejectAfterMessages, ordering: .relaxed)
            return nil
        }
        return counter
    }

    /// Whether a packet under this keypair may still be received (the window check comes after
    /// decryption, in `acceptCounter`).
    public func canReceive(now: Instant) -> Bool {
        isValid && !birthdate.hasExpired(WireGuard.rejectAfterTime, now: now)
    }

    /// Marks `counter` as received; false for a replay or a counter too old for the window.
    /// Only call it after the packet authenticated, or a forger could burn counters.
    public func acceptCounter(_ counter: UInt64) -> Bool {
        replay.withLock { $0.validate(counter) }
    }

    /// Encrypts a data message in place. `packet` starts with room for the 16-byte header; the
    /// padded plaintext follows it, and 16 bytes after that are free for the tag.
    public func seal(_ packet: UnsafeMutableRawBufferPointer, plaintextLength: Int, counter: UInt64,
                     using aead: borrowing ChaCha20Poly1305) {
        precondition(packet.count >= DataLayout.headerLength + plaintextLength + DataLayout.tagLength)
        Messages.writeType(.data, to: packet)
        Messages.store32(remoteIndex, packet, DataLayout.receiver)
        packet.storeBytes(of: counter.littleEndian, toByteOffset: DataLayout.counter, as: UInt64.self)
        let body = UnsafeMutableRawBufferPointer(rebasing: packet[DataLayout.headerLength..<DataLayout.headerLength + plaintextLength])
        sendingKey.withUnsafeBytes { key in
            aead.seal(key: key.baseAddress!, counter: counter, message: body,
                      tag: packet.baseAddress! + DataLayout.headerLength + plaintextLength)
        }
    }

    /// Decrypts a data message in place; returns the plaintext's length (still padded), or nil if
    /// it does not authenticate. The counter is returned for `acceptCounter`.
    public func open(_ packet: UnsafeMutableRawBufferPointer, using aead: borrowing ChaCha20Poly1305) -> (counter: UInt64, length: Int)? {
        guard packet.count >= DataLayout.minimumLength else { return nil }
        let counter = UInt64(littleEndian: packet.loadUnaligned(fromByteOffset: DataLayout.counter, as: UInt64.self))
        let length = packet.count - DataLayout.minimumLength
        let body = UnsafeMutableRawBufferPointer(rebasing: packet[DataLayout.headerLength..<DataLayout.headerLength + length])
        let ok = receivingKey.withUnsafeBytes { key in
            aead.open(key: key.baseAddress!, counter: counter, message: body, tag: packet.baseAddress! + DataLayout.headerLength + length)
        }
        return ok ? (counter, length) : nil
    }
}

/// A peer's three keypair slots and their rotation (the kernel's noise_keypairs):
/// - current: what we send with;
/// - previous: kept so that packets in flight under the last session still decrypt;
/// - next: a responder's fresh session, unusable for sending until the initiator proves it has it
///   by sending data under it (key confirmation), which promotes it to current.
public struct KeypairSlots: Sendable {
    public private(set) var current: Keypair?
    public private(set) var previous: Keypair?
    public private(set) var next: Keypair?

    public init() {}

    /// Installs a new session. Returns the keypairs that dropped out (their indices must be freed).
    public mutating func add(_ keypair: Keypair) -> [Keypair] {
        var dropped: [Keypair] = []
        if keypair.isInitiator {
            // The response confirmed the key: use it now. A pending next (unconfirmed) keypair is
            // demoted to previous rather than thrown away, as the kernel does, to stay robust.
            if let pending = next {
                next = nil
                if let current { dropped.append(current) }
                if let previous { dropped.append(previous) }
                previous = pending
            } else {
                if let previous { dropped.append(previous) }
                previous = current
            }
            current = keypair
        } else {
            if let next { dropped.append(next) }
            if let previous { dropped.append(previous) }
            next = keypair
            previous = nil
        }
        return dropped
    }

    /// Called for every authenticated data packet: if it came under `next`, the initiator has
    /// confirmed that session, so rotate next → current → previous. Returns the dropped keypair.
    public mutating func receivedWith(_ keypair: Keypair) -> (rotated: Bool, dropped: Keypair?) {
        guard let next, next === keypair else { return (false, nil) }
        let dropped = previous
        previous = current
        current = next
        self.next = nil
        return (true, dropped)
    }

    /// Every keypair, for teardown (private key change, zeroing key material, peer removal).
    public mutating func removeAll() -> [Keypair] {
        let all = [current, previous, next].compactMap { $0 }
        for keypair in all { keypair.invalidate() }
        current = nil; previous = nil; next = nil
        return all
    }
}
