/// BLAKE2s (RFC 7693): WireGuard's hash, MAC (keyed, 16-byte output) and the HMAC behind its KDF.
///
/// Written in Swift rather than taken from libcrypto because OpenSSL's EVP digest has no keyed
/// BLAKE2s with a 16-byte output, and its EVP_MAC route allocates per call. The state is inline,
/// so hashing never touches the heap.
public struct BLAKE2s: Sendable {
    public static let blockLength = 64
    public static let maxOutputLength = 32
    public static let maxKeyLength = 32

    private var h: InlineArray<8, UInt32>
    private var block: InlineArray<64, UInt8> = .init(repeating: 0)
    private var blockFill = 0
    private var counter: UInt64 = 0
    private let outputLength: Int
    private let secret: Bool

    private static let iv: InlineArray<8, UInt32> = [
        0x6A09_E667, 0xBB67_AE85, 0x3C6E_F372, 0xA54F_F53A,
        0x510E_527F, 0x9B05_688C, 0x1F83_D9AB, 0x5BE0_CD19,
    ]

    private static let sigma: InlineArray<160, UInt8> = [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
        14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3,
        11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4,
        7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8,
        9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13,
        2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9,
        12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11,
        13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10,
        6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5,
        10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0,
    ]

    /// `key` may be empty (plain hash) or up to 32 bytes (keyed: a MAC). `secret: false` only when
    /// key and input are both public (mac1): then the stack the rounds used is left as it is.
    public init(outputLength: Int = 32, key: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
                secret: Bool = true) {
        precondition((1...32).contains(outputLength) && key.count <= 32, "BLAKE2s: bad output or key length")
        self.outputLength = outputLength
        self.secret = secret
        h = BLAKE2s.iv
        h[0] ^= 0x0101_0000 ^ (UInt32(key.count) << 8) ^ UInt32(outputLength)
        if key.count > 0 {
            update(key)
            blockFill = 64  // a key fills a whole zero-padded block
        }
    }

    public mutating func update(_ input: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < input.count {
            // The last block is compressed only in finalize (with the final flag), so a full
            // block waits here until more input proves it is not the last.
            if blockFill == 64 {
                counter &+= 64
                compress(final: false)
                blockFill = 0
            }
            let take = min(64 - blockFill, input.count - offset)
            withUnsafeMutableBytes(of: &block) { block in
                (block.baseAddress! + blockFill).copyMemory(from: input.baseAddress! + offset, byteCount: take)
            }
            blockFill += take
            offset += take
        }
    }

    /// Writes `outputLength` bytes to `output` (which must have room for them).
    public mutating func finalize(into output: UnsafeMutableRawBufferPointer) {
        precondition(output.count >= outputLength)
        counter &+= UInt64(blockFill)
        withUnsafeMutableBytes(of: &block) { block in
            _ = (block.baseAddress! + blockFill).initializeMemory(as: UInt8.self, repeating: 0, count: 64 - blockFill)
        }
        compress(final: true)
        withUnsafeBytes(of: &h) { h in
            for i in 0..<outputLength {
                output[i] = UInt8(truncatingIfNeeded: h.load(fromByteOffset: i & ~3, as: UInt32.self) >> (8 * UInt32(i & 3)))
            }
        }
        // Leave nothing of a keyed state behind: the state is usually a local that dies here, so
        // plain stores would be dead stores the optimizer may drop.
        Zeroize.clear(&block)
        Zeroize.clear(&h)
    }

    /// The working vector and message words are as secret as the state and the input, and the
    /// optimizer keeps them in registers and spill slots, never in a buffer one could clear; so
    /// `rounds` gets a frame of its own and the stack it used is cleared as soon as it returns.
    /// (Cleansing v and m as locals would pin them to memory through all ten rounds: half speed.)
    private mutating func compress(final: Bool) {
        rounds(final: final)
        if secret { Zeroize.clearStack(kib: BLAKE2s.roundsStackKiB) }
    }

    /// Bounds the stack `rounds` uses: 384 bytes optimized on x86_64 (objdump); unoptimized
    /// frames, with the InlineArray accessors they call, are ten times that.
    #if DEBUG
    private static let roundsStackKiB = 16
    #else
    private static let roundsStackKiB = 1
    #endif

    @inline(never)
    private mutating func rounds(final: Bool) {
        // The message words and the schedule through unchecked pointers: the InlineArray
        // subscripts checked both indices on each of the 160 message loads (a third of the time).
        var sigma = BLAKE2s.sigma
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 16) { m in
            withUnsafeBytes(of: &block) { block in
                for i in 0..<16 { m[i] = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
            }
            withUnsafeBytes(of: &sigma) { sg in mix(m, sg, final: final) }
        }
    }

    @inline(__always)
    private mutating func mix(_ m: UnsafeMutableBufferPointer<UInt32>, _ sg: UnsafeRawBufferPointer, final: Bool) {
        var v = InlineArray<16, UInt32>(repeating: 0)
        for i in 0..<8 { v[i] = h[i]; v[i + 8] = BLAKE2s.iv[i] }
        v[12] ^= UInt32(truncatingIfNeeded: counter)
        v[13] ^= UInt32(truncatingIfNeeded: counter >> 32)
        if final { v[14] = ~v[14] }
        for round in 0..<10 {
            let s = round * 16
            func g(_ a: Int, _ b: Int, _ c: Int, _ d: Int, _ x: UInt32, _ y: UInt32) {
                v[a] = v[a] &+ v[b] &+ x; v[d] = (v[d] ^ v[a]).rotatedRight(16)
                v[c] = v[c] &+ v[d];      v[b] = (v[b] ^ v[c]).rotatedRight(12)
                v[a] = v[a] &+ v[b] &+ y; v[d] = (v[d] ^ v[a]).rotatedRight(8)
                v[c] = v[c] &+ v[d];      v[b] = (v[b] ^ v[c]).rotatedRight(7)
            }
            func w(_ k: Int) -> UInt32 { m[Int(sg[s + k])] }
            g(0, 4, 8, 12, w(0), w(1))
            g(1, 5, 9, 13, w(2), w(3))
            g(2, 6, 10, 14, w(4), w(5))
            g(3, 7, 11, 15, w(6), w(7))
            g(0, 5, 10, 15, w(8), w(9))
            g(1, 6, 11, 12, w(10), w(11))
            g(2, 7, 8, 13, w(12), w(13))
            g(3, 4, 9, 14, w(14), w(15))
        }
        for i in 0..<8 { h[i] ^= v[i] ^ v[i + 8] }
    }
}

extension BLAKE2s {
    /// One-shot hash of the concatenation of `parts`.
    public static func hash(_ parts: UnsafeRawBufferPointer..., outputLength: Int = 32,
                            key: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
                            secret: Bool = true, into output: UnsafeMutableRawBufferPointer) {
        var state = BLAKE2s(outputLength: outputLength, key: key, secret: secret)
        for part in parts { state.update(part) }
        state.finalize(into: output)
    }
}

extension UInt32 {
    @inline(__always) fileprivate func rotatedRight(_ n: UInt32) -> UInt32 { (self >> n) | (self << (32 - n)) }
}
