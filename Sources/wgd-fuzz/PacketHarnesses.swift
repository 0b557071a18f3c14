import Crypto
import Protocol

// The packet harnesses drive the pure Device engine as the data plane does, with fixed static
// keys and a fixed clock. The handshake's ephemeral keys still come from the system RNG.
//
// mac1 is the fuzzer's wall: a mutated handshake message fails it and never reaches Noise. So
// the handshake harnesses take the input as a delta, XORed onto a real message, and then
// recompute mac1 (mac2 stays zero: no cookie, not under load). An all-zero input is the real
// message and completes the handshake; every other input is a mutation of it that the Noise
// code must refuse or survive.
//
// One input's outcome never depends on the inputs before it. A handshake costs a dozen X25519
// multiplications, so the devices are made afresh only for an input that may change them: one
// whose authenticated fields are those of the real message. Any other input must be refused
// without a change (which the harness checks), so those share one stage made once: about ten
// times fewer multiplications per input.

private let now = Instant(nanoseconds: 1_000_000_000)
private let wallClock = WallTime(seconds: 1_700_000_000, nanoseconds: 0)

private func fixedKey(_ seed: UInt8) -> PrivateKey {
    let bytes = (0..<32).map { UInt8(truncatingIfNeeded: Int(seed) &* 29 &+ $0 &* 7) }
    return bytes.withUnsafeBytes { PrivateKey(copying: $0) }
}
private let keyA = fixedKey(1), keyB = fixedKey(2)
private let endpointA = Endpoint("198.51.100.1:51820")!, endpointB = Endpoint("198.51.100.2:51820")!

/// Two devices, each the other's peer: a owns 192.0.2.1 and fd00::1, b 192.0.2.2 and fd00::2.
private final class Pair {
    let a = Device(), b = Device()
    let aead = ChaCha20Poly1305()

    init() {
        Self.configure(a, own: keyA, peer: keyB.publicKey, endpoint: endpointB, inner: ["192.0.2.2/32", "fd00::2/128"])
        Self.configure(b, own: keyB, peer: keyA.publicKey, endpoint: endpointA, inner: ["192.0.2.1/32", "fd00::1/128"])
    }

    private static func configure(_ device: Device<NoRuntime>, own: PrivateKey, peer: PublicKey, endpoint: Endpoint,
                                  inner: [String]) {
        var config = DeviceConfig()
        config.setPrivateKey(own)
        _ = config.addPeer(peer)
        config.updatePeer(peer) { $0.endpoint = endpoint }
        for prefix in inner { config.addAllowedIP(IPPrefix(prefix)!, to: peer) }
        _ = device.apply(config, now: now)
    }

    /// a's initiation to b.
    func initiation() -> [UInt8] {
        var packet = [UInt8](repeating: 0, count: InitiationLayout.length)
        let made = packet.withUnsafeMutableBytes {
            a.createInitiation(for: a.peer(keyB.publicKey)!, into: $0, isRetry: false, now: now, wallClock: wallClock, using: aead)
        }
        check(made, "a fresh device refused to create an initiation")
        return packet
    }

    /// `packet` handed to `device` from `source`; the outcome and the reply bytes.
    func receive(_ packet: inout [UInt8], at device: Device<NoRuntime>, from source: Endpoint) -> (ReceiveOutcome<NoRuntime>, [UInt8]) {
        var reply = [UInt8](repeating: 0, count: InitiationLayout.length)
        let outcome = packet.withUnsafeMutableBytes { p in
            reply.withUnsafeMutableBytes { r in
                device.receive(p, from: source, underLoad: false, reply: r, now: now, wallClock: wallClock, using: aead)
            }
        }
        if case .reply(let length, _) = outcome { return (outcome, Array(reply[0..<length])) }
        return (outcome, [])
    }

    /// The full handshake a → b; a then has its session.
    func handshake() {
        var initiation = initiation()
        let (_, response) = receive(&initiation, at: b, from: endpointA)
        check(response.count == ResponseLayout.length, "a real initiation got no response")
        var message = response
        guard case .sessionReady = receive(&message, at: a, from: endpointB).0 else { fatalError("invariant: a real response did not complete the handshake") }
    }
}

/// `message` with `delta` XORed on (its length becomes the delta's) and mac1 recomputed for
/// `receiver` when the length is still a handshake message's.
private func mutate(_ message: [UInt8], _ delta: [UInt8], macFor receiver: PublicKey) -> [UInt8] {
    var packet = [UInt8](repeating: 0, count: delta.count)
    for i in 0..<delta.count { packet[i] = (i < message.count ? message[i] : 0) ^ delta[i] }
    if packet.count == message.count {
        var maker = CookieMaker(remoteStatic: receiver)
        packet.withUnsafeMutableBytes { maker.addMACs(to: $0, now: now) }
    }
    return packet
}

/// Whether `delta` changes any byte of `field`.
private func touches(_ delta: [UInt8], _ field: Range<Int>) -> Bool {
    delta[field.clamped(to: 0..<delta.count)].contains { $0 != 0 }
}

/// A stage shared by the inputs that cannot change it (wgd-fuzz runs one input at a time).
nonisolated(unsafe) private var responderStage: (pair: Pair, initiation: [UInt8])?
nonisolated(unsafe) private var initiatorStage: (pair: Pair, response: [UInt8])?

private func freshResponderStage() -> (pair: Pair, initiation: [UInt8]) {
    let pair = Pair()
    return (pair, pair.initiation())
}

/// a, having sent its initiation, and b's real response to it.
private func freshInitiatorStage() -> (pair: Pair, response: [UInt8]) {
    let pair = Pair()
    var initiation = pair.initiation()
    let (_, response) = pair.receive(&initiation, at: pair.b, from: endpointA)
    check(response.count == ResponseLayout.length, "a real initiation got no response")
    return (pair, response)
}

/// Responder: b consumes a mutation of a's real initiation. An empty delta means the message
/// itself, which must be answered. A changed ephemeral, static or timestamp (or another
/// length) must get no answer: b stays as it was, so those inputs share a stage.
func fuzzHandshakeResponder(_ input: [UInt8]) {
    let delta = input.isEmpty ? [UInt8](repeating: 0, count: InitiationLayout.length) : input
    let shared = delta.count != InitiationLayout.length || touches(delta, InitiationLayout.ephemeral..<InitiationLayout.mac1)
    if shared && responderStage == nil { responderStage = freshResponderStage() }
    let (pair, real) = shared ? responderStage! : freshResponderStage()
    var packet = mutate(real, delta, macFor: keyB.publicKey)
    let (outcome, reply) = pair.receive(&packet, at: pair.b, from: endpointA)
    if shared {
        check(reply.isEmpty, "a changed initiation was answered: \(outcome)")
    } else if delta.allSatisfy({ $0 == 0 }) {
        check(reply.count == ResponseLayout.length, "the real initiation was refused: \(outcome)")
    }
}

/// Initiator: a consumes a mutation of b's real response to a's initiation. A changed receiver
/// index, ephemeral or empty payload (or another length) must not complete the handshake: a
/// stays as it was, so those inputs share a stage.
func fuzzHandshakeInitiator(_ input: [UInt8]) {
    let delta = input.isEmpty ? [UInt8](repeating: 0, count: ResponseLayout.length) : input
    let shared = delta.count != ResponseLayout.length || touches(delta, ResponseLayout.receiver..<ResponseLayout.mac1)
    if shared && initiatorStage == nil { initiatorStage = freshInitiatorStage() }
    let (pair, real) = shared ? initiatorStage! : freshInitiatorStage()
    var packet = mutate(real, delta, macFor: keyA.publicKey)
    let outcome = pair.receive(&packet, at: pair.a, from: endpointB).0
    if case .sessionReady = outcome {
        check(!shared, "a changed response completed the handshake")
    } else {
        check(shared || !delta.allSatisfy({ $0 == 0 }), "the real response was refused: \(outcome)")
    }
}

/// The data receive path (decrypt, replay window, inner-packet checks, allowed IPs): after a real
/// handshake a → b, the input is a list of records, each sent by a to b:
///   counter (2 bytes, little-endian) | n (1 byte) | n bytes
/// The bytes are sealed with a's session key under that counter when n < 128 (so the fuzzer
/// gets past Poly1305 and chooses the inner packet and the counter order); when n ≥ 128 the
/// low 7 bits are the length of bytes sent as they are after a data header (forged ciphertext).
func fuzzDataReceive(_ input: [UInt8]) {
    if dataStage == nil { dataStage = freshDataStage() }
    let (pair, keypair) = dataStage!
    // Each input's counters lie above every earlier one's by more than the replay window, so
    // the window b kept from before is, for this input, as good as new.
    dataCounterBase += 1 << 17
    var seen = Set<UInt64>()
    var at = 0
    while at + 3 <= input.count {
        let counter = dataCounterBase + (UInt64(input[at]) | UInt64(input[at + 1]) << 8)
        let forged = input[at + 2] >= 128
        let n = min(Int(input[at + 2] & 0x7f), input.count - at - 3)
        let body = Array(input[(at + 3)..<(at + 3 + n)])
        at += 3 + n
        var packet: [UInt8]
        if forged {
            packet = [UInt8](repeating: 0, count: DataLayout.minimumLength)  // a header and an empty message's tag
            packet.withUnsafeMutableBytes { keypair.seal($0, plaintextLength: 0, counter: counter, using: pair.aead) }
            packet = Array(packet[0..<DataLayout.headerLength]) + body
        } else {
            packet = [UInt8](repeating: 0, count: DataLayout.headerLength + n + DataLayout.tagLength)
            packet.replaceSubrange(DataLayout.headerLength..<DataLayout.headerLength + n, with: body)
            packet.withUnsafeMutableBytes { keypair.seal($0, plaintextLength: n, counter: counter, using: pair.aead) }
        }
        let outcome = pair.receive(&packet, at: pair.b, from: endpointA).0
        switch outcome {
        case .data(_, let range, _):
            check(!forged, "a forged data packet was delivered")
            check(seen.insert(counter).inserted, "counter \(counter) was delivered twice")
            check(range.lowerBound >= DataLayout.headerLength && range.upperBound <= DataLayout.headerLength + n,
                  "delivered range \(range) is outside the plaintext")
        case .keepalive, .rejectedAfterAuthentication:
            check(!forged, "a forged data packet was authenticated")
            check(seen.insert(counter).inserted, "counter \(counter) was accepted twice")
        default:
            break
        }
    }
}

/// The data stage: a and b after a real handshake, and a's sending keypair. Made once (a
/// handshake per input would cost more than the input), so inputs differ from a fresh session
/// only in that b confirmed the keypair with the first input's first packet.
nonisolated(unsafe) private var dataStage: (pair: Pair, keypair: Keypair)?
nonisolated(unsafe) private var dataCounterBase: UInt64 = 0

private func freshDataStage() -> (pair: Pair, keypair: Keypair) {
    let pair = Pair()
    pair.handshake()
    guard let (keypair, _) = pair.a.peer(keyB.publicKey)!.reserveNonce(now: now) else {
        fatalError("invariant: no session after a handshake")
    }
    return (pair, keypair)
}
