import Crypto
import Testing

/// TAI64N timestamps: 12 bytes big endian, label 2^62 + 10 + Unix seconds, then nanoseconds.
@Suite struct TAI64NTests {
    static func bytes(_ t: TAI64N) -> [UInt8] {
        var out = [UInt8](repeating: 0xEE, count: 12)
        out.withUnsafeMutableBytes { t.write(to: $0) }
        return out
    }

    @Test func knownEncoding() {
        #expect(TAI64N.unixEpochLabel == 0x4000_0000_0000_000A)
        #expect(TAI64N.byteCount == 12)
        // Unix 1700000000 = 0x6553f100; 123456789 ns = 0x075bcd15.
        let exact = TAI64N(seconds: TAI64N.unixEpochLabel + 1_700_000_000, nanoseconds: 123_456_789)
        #expect(hexString(Self.bytes(exact)) == "400000006553f10a075bcd15")
        #expect(hexString(Self.bytes(.zero)) == "000000000000000000000000")
    }

    /// From the wall clock, nanoseconds are rounded down to a multiple of 2^24.
    @Test func wallClockRounding() {
        #expect(TAI64N.precisionMask == 0xFF00_0000)
        let rounded = TAI64N(unixSeconds: 1_700_000_000, nanoseconds: 123_456_789)
        #expect(rounded.seconds == 0x4000_0000_6553_F10A)
        #expect(rounded.nanoseconds == 0x0700_0000)
        #expect(rounded.nanoseconds % (1 << 24) == 0)
        #expect(hexString(Self.bytes(rounded)) == "400000006553f10a07000000")
        #expect(TAI64N(unixSeconds: 0, nanoseconds: (1 << 24) - 1).nanoseconds == 0)
        #expect(TAI64N(unixSeconds: 0, nanoseconds: 999_999_999).nanoseconds == 0x3B00_0000)
        #expect(TAI64N(unixSeconds: 0, nanoseconds: 0).seconds == TAI64N.unixEpochLabel)
    }

    @Test func ordering() {
        let base = TAI64N(seconds: 0x4000_0000_6553_F10A, nanoseconds: 500)
        #expect(base < TAI64N(seconds: base.seconds, nanoseconds: 501))
        #expect(base < TAI64N(seconds: base.seconds + 1, nanoseconds: 0))
        // Seconds dominate nanoseconds.
        #expect(TAI64N(seconds: base.seconds - 1, nanoseconds: 999_999_999) < base)
        #expect(!(base < base))
        #expect(base == TAI64N(seconds: base.seconds, nanoseconds: 500))
        #expect(base != TAI64N(seconds: base.seconds, nanoseconds: 499))
        #expect(TAI64N.zero < base)
        // Rounded wall-clock times 17 ms apart still increase.
        #expect(TAI64N(unixSeconds: 10, nanoseconds: 1_000_000) < TAI64N(unixSeconds: 10, nanoseconds: 18_000_000))
        // The byte encoding sorts the same way (big endian), as a peer comparing bytes would see.
        let times = [TAI64N.zero, TAI64N(seconds: 1, nanoseconds: 0), TAI64N(seconds: 1, nanoseconds: 0x0100_0000),
                     TAI64N(seconds: 0x100, nanoseconds: 0), base, TAI64N(unixSeconds: 1_700_000_001, nanoseconds: 0)]
        for (a, b) in zip(times, times.dropFirst()) {
            #expect(a < b)
            #expect(Self.bytes(a).lexicographicallyPrecedes(Self.bytes(b)))
        }
    }

    @Test func roundTripThroughBytes() {
        for t in [TAI64N.zero, TAI64N(seconds: UInt64.max, nanoseconds: UInt32.max),
                  TAI64N(seconds: 0x0102_0304_0506_0708, nanoseconds: 0x090A_0B0C),
                  TAI64N(unixSeconds: 1_700_000_000, nanoseconds: 123_456_789)] {
            let encoded = Self.bytes(t)
            // Read from an unaligned offset inside a larger buffer, as inside a packet.
            let packet = [0x99] + encoded + [0x77]
            let decoded = packet.withUnsafeBytes { TAI64N(bytes: UnsafeRawBufferPointer(rebasing: $0[1..<13])) }
            #expect(decoded == t)
            #expect(decoded.seconds == t.seconds && decoded.nanoseconds == t.nanoseconds)
        }
        let fromBytes = hex("400000006553f10a075bcd15").withUnsafeBytes { TAI64N(bytes: $0) }
        #expect(fromBytes.seconds == 0x4000_0000_6553_F10A && fromBytes.nanoseconds == 123_456_789)
    }
}
