import Crypto
import Glibc

/// `crypto`: ChaCha20-Poly1305 as the data plane uses it — one reusable context, key in a
/// SecretKey, in place over packet buffers, WireGuard nonces (counter), no AAD.
///
/// GB/s = payload bytes through seal or open per second, 1 GB = 1e9 bytes; a seal+open pair counts
/// its bytes twice (both operations process them), so it is comparable with the seal and open
/// figures and reads as one core's capacity for mixed inbound and outbound traffic. Each figure is
/// the best of 5 rounds (see `measure`).
let cryptoBenchmark = Benchmark(
    name: "crypto",
    summary: "ChaCha20-Poly1305 seal/open GB/s at 1420 B and 64 B, one thread; heap allocations"
) { options in
    let key = SecretKey.random()
    // The arena slot does not move for the key's life: one pointer, taken outside every loop.
    key.withUnsafeBytes { keyBytes in
        let aead = ChaCha20Poly1305()
        var check = OpenCheck()
        for size in [1420, 64] {
            throughput(size: size, aead: aead, key: keyBytes.baseAddress!, seconds: options.seconds, check: &check)
        }
        allocations(aead: aead, key: keyBytes.baseAddress!, check: &check)
        if check.failures > 0 || check.checksum != check.expected {
            report("warning: \(check.failures) of \(check.opens) opens failed or gave wrong plaintext")
        }
    }
}

/// Uses every `open` result, so that nothing can be optimised away, and checks it.
private struct OpenCheck {
    var opens = 0
    var failures = 0
    var checksum: UInt64 = 0
    var expected: UInt64 = 0

    mutating func record(_ ok: Bool, _ message: UnsafeMutableRawBufferPointer) {
        opens += 1
        if !ok { failures += 1 }
        checksum &+= UInt64(message[message.count - 1])
        expected &+= UInt64(PacketBatch.pattern(message.count - 1))
    }
}

/// Packets in one 64-byte-aligned buffer, each message followed by its 16-byte tag.
private struct PacketBatch: ~Copyable {
    /// Enough that reading the CPU clock once per batch costs well under 1% (256 × 1472 B = 368 KiB).
    static let count = 256
    let size: Int
    let stride: Int
    let base: UnsafeMutableRawPointer

    static func pattern(_ index: Int) -> UInt8 { UInt8(truncatingIfNeeded: index &* 31 &+ 7) }

    init(size: Int) {
        self.size = size
        stride = (size + ChaCha20Poly1305.tagLength + 63) & ~63
        var memory: UnsafeMutableRawPointer?
        guard posix_memalign(&memory, 64, stride * Self.count) == 0, let memory else { fatalError("out of memory") }
        base = memory
        refill()
    }

    /// Puts the plaintext pattern back (sealing alone leaves ciphertext of ciphertext).
    func refill() {
        for packet in 0..<Self.count {
            for index in 0..<size { base.storeBytes(of: Self.pattern(index), toByteOffset: packet * stride + index, as: UInt8.self) }
        }
    }

    deinit { free(base) }

    func message(_ packet: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: base + packet * stride, count: size)
    }

    func tag(_ packet: Int) -> UnsafeMutableRawPointer { base + packet * stride + size }
}

private func throughput(size: Int, aead: borrowing ChaCha20Poly1305, key: UnsafeRawPointer, seconds: Double,
                        check: inout OpenCheck) {
    let packets = PacketBatch(size: size)
    let batch = PacketBatch.count
    var counter: UInt64 = 0

    func sealAll() {
        for packet in 0..<batch {
            aead.seal(key: key, counter: counter &+ UInt64(packet), message: packets.message(packet), tag: packets.tag(packet))
        }
        counter &+= UInt64(batch)
    }
    /// Opens what the last sealAll sealed: the plaintext comes back.
    func openAll() {
        let first = counter &- UInt64(batch)
        for packet in 0..<batch {
            let ok = aead.open(key: key, counter: first &+ UInt64(packet), message: packets.message(packet), tag: packets.tag(packet))
            check.record(ok, packets.message(packet))
        }
    }
    func pairs() {
        for packet in 0..<batch {
            aead.seal(key: key, counter: counter, message: packets.message(packet), tag: packets.tag(packet))
            let ok = aead.open(key: key, counter: counter, message: packets.message(packet), tag: packets.tag(packet))
            check.record(ok, packets.message(packet))
            counter &+= 1
        }
    }

    // Warm-up: clock frequency, caches, branch predictors, OpenSSL's one-time initialisation.
    _ = measure(seconds: min(0.2, seconds / 4), rounds: 1, batchSize: batch) { timed { pairs() } }

    let seal = measure(seconds: seconds, batchSize: batch) { timed { sealAll() } }
    packets.refill()
    // Each batch is resealed untimed, so that every timed open authenticates and decrypts.
    let open = measure(seconds: seconds, batchSize: batch) { sealAll(); return timed { openAll() } }
    let both = measure(seconds: seconds, batchSize: batch) { timed { pairs() } }

    report("seal+open \(size) B, 1 thread: \(gigabytesPerSecond(bytes: 2 * size * both.operations, seconds: both.seconds)) GB/s"
        + " (seal \(gigabytesPerSecond(bytes: size * seal.operations, seconds: seal.seconds)) GB/s,"
        + " open \(gigabytesPerSecond(bytes: size * open.operations, seconds: open.seconds)) GB/s)")
    func nanoseconds(_ run: (operations: Int, seconds: Double)) -> String {
        fixed(run.seconds * 1e9 / Double(run.operations), places: 0)
    }
    report("  per packet at \(size) B: seal \(nanoseconds(seal)) ns, open \(nanoseconds(open)) ns, seal+open \(nanoseconds(both)) ns")
}

/// Heap allocations over a million seal+open pairs at 1420 B, after a warm-up, so that one-time
/// lazy initialisation (in OpenSSL or the Swift runtime) is not counted. Expected: 0.
private func allocations(aead: borrowing ChaCha20Poly1305, key: UnsafeRawPointer, check: inout OpenCheck) {
    let label = "heap allocations over 1000000 seal+open: "
    guard let mallocCount = MallocCounter.reader() else {
        report(label + MallocCounter.unavailable)
        return
    }
    let packets = PacketBatch(size: 1420)
    let message = packets.message(0), tag = packets.tag(0)
    func pair(_ counter: UInt64) {
        aead.seal(key: key, counter: counter, message: message, tag: tag)
        check.record(aead.open(key: key, counter: counter, message: message, tag: tag), message)
    }
    for counter in 0..<UInt64(16) { pair(counter) }
    let before = mallocCount()
    for counter in 16..<UInt64(1_000_016) { pair(counter) }
    let after = mallocCount()
    report(label + String(after &- before))
}
