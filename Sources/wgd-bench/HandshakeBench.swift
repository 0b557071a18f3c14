import Crypto
import Protocol

/// `handshake`: complete Noise IKpsk2 handshakes per second on one thread — initiation created
/// (with mac1), mac1 checked, consumed, response created (with mac1), consumed, and both sessions
/// derived — as a responder under a flood of valid initiations would have to do them. Beside it,
/// the X25519 operations that dominate the cost (four per side).
let handshakeBenchmark = Benchmark(
    name: "handshake",
    summary: "full handshakes per second (both sides), X25519 per second; allocations per handshake"
) { options in
    var bench = HandshakeLoop()
    let measured = measure(seconds: options.seconds, batchSize: HandshakeLoop.batch) {
        timed { for _ in 0..<HandshakeLoop.batch { bench.once() } }
    }
    let rate = Double(measured.operations) / measured.seconds
    report("handshakes, 1 thread: \(Int(rate)) per second (\(fixed(1e6 / rate, places: 1)) µs each, both sides)")

    let secret = SecretKey.random()
    let peer = PrivateKey.generate().publicKey
    var sink = 0
    let dh = measure(seconds: options.seconds / 2, batchSize: 64) {
        timed { for _ in 0..<64 { if X25519.sharedSecret(secret, peer) != nil { sink &+= 1 } } }
    }
    report("X25519 shared secret, 1 thread: \(Int(Double(dh.operations) / dh.seconds)) per second")
    // What each handshake's ephemeral costs: its public key (our fixed-base multiplication) and
    // libcrypto's key object.
    let keys = measure(seconds: options.seconds / 2, batchSize: 64) {
        timed { for _ in 0..<64 { if X25519Key(secret) != nil { sink &+= 1 } } }
    }
    report("X25519 key pairs, 1 thread: \(Int(Double(keys.operations) / keys.seconds)) per second")

    // What a responder under an initiation flood does for every packet before anything else: a
    // keyed BLAKE2s (three compressions). The figure that moves when BLAKE2s does.
    let mac1 = measure(seconds: options.seconds / 2, batchSize: 256) {
        timed { for _ in 0..<256 { if bench.checkMAC1() { sink &+= 1 } } }
    }
    report("mac1 checks, 1 thread: \(Int(Double(mac1.operations) / mac1.seconds)) per second")

    if let count = MallocCounter.reader() {
        let before = count()
        for _ in 0..<1000 { bench.once() }
        let after = count()
        report("heap allocations per handshake (both sides): \(fixed(Double(after - before) / 1000, places: 1)) (handshake path, not the data path)")
    } else {
        report("heap allocations per handshake: \(MallocCounter.unavailable)")
    }
    if bench.failures > 0 || sink == 0 { report("warning: \(bench.failures) handshakes failed") }
}

/// Two fixed identities handshaking over and over; the clock advances 1 s per handshake so that
/// neither the replay nor the flood check refuses a round.
private struct HandshakeLoop: ~Copyable {
    static let batch = 16
    let initiator = StaticIdentity(privateKey: .generate())
    let responder = StaticIdentity(privateKey: .generate())
    let aead = ChaCha20Poly1305()
    var initiatorSide: Handshake
    var responderSide: Handshake
    var initiatorCookies: CookieMaker
    var responderCookies: CookieMaker
    var checker: CookieChecker
    var round: UInt64 = 0
    var failures = 0
    var initiation = [UInt8](repeating: 0, count: InitiationLayout.length)
    var response = [UInt8](repeating: 0, count: ResponseLayout.length)
    let source = Endpoint(address: .v4(IPv4Address(192, 0, 2, 1)), port: 51820)

    init() {
        initiatorSide = Handshake(remoteStatic: responder.publicKey, presharedKey: nil, identity: initiator)
        responderSide = Handshake(remoteStatic: initiator.publicKey, presharedKey: nil, identity: responder)
        initiatorCookies = CookieMaker(remoteStatic: responder.publicKey)
        responderCookies = CookieMaker(remoteStatic: initiator.publicKey)
        checker = CookieChecker(publicKey: responder.publicKey)
    }

    /// Checks the mac1 of the last initiation sent (valid after a first `once()`).
    mutating func checkMAC1() -> Bool {
        let now = Instant(nanoseconds: round * 1_000_000_000)
        return initiation.withUnsafeBytes { checker.validate($0, source: source, checkCookie: false, now: now) == .validMAC1 }
    }

    mutating func once() {
        round += 1
        let now = Instant(nanoseconds: round * 1_000_000_000)
        do {
            try initiation.withUnsafeMutableBytes { packet in
                try initiatorSide.createInitiation(into: packet, identity: initiator,
                                                   timestamp: TAI64N(unixSeconds: 1_700_000_000 + round, nanoseconds: 0),
                                                   localIndex: UInt32(truncatingIfNeeded: round), ephemeral: .random(), using: aead)
                initiatorCookies.addMACs(to: packet, now: now)
            }
            try initiation.withUnsafeBytes { packet in
                guard checker.validate(packet, source: source, checkCookie: false, now: now) == .validMAC1 else { throw HandshakeError.decryptionFailed }
                let pending = try Handshake.beginConsumingInitiation(packet, identity: responder, using: aead)
                try responderSide.consumeInitiation(pending, packet, now: now, using: aead)
            }
            try response.withUnsafeMutableBytes { packet in
                try responderSide.createResponse(into: packet, localIndex: UInt32(truncatingIfNeeded: ~round), ephemeral: .random(), using: aead)
                responderCookies.addMACs(to: packet, now: now)
            }
            try response.withUnsafeBytes { packet in
                try initiatorSide.consumeResponse(packet, identity: initiator, using: aead)
            }
            guard initiatorSide.beginSession(now: now) != nil, responderSide.beginSession(now: now) != nil else { throw HandshakeError.unexpectedState }
        } catch {
            failures += 1
        }
    }
}
