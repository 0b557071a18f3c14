import Testing
@testable import Protocol

/// Padding.paddedLength (whitepaper §5.4.6): zero-pad to a multiple of 16, but never past the MTU;
/// a packet over the MTU is padded as its last MTU-sized unit would be (the kernel's
/// calculate_skb_padding), and MTU 0 means no cap.
@Suite("Padding")
struct PaddingTests {
    @Test(arguments: [
        (0, 0), (1, 16), (15, 16), (16, 16), (17, 32), (31, 32), (32, 32), (33, 48),
        (20, 32), (40, 48), (60, 64), (1_392, 1_392), (1_393, 1_408), (1_408, 1_408), (1_409, 1_420),
    ] as [(Int, Int)])
    func roundsUpToSixteenUnderTheDefaultMTU(length: Int, padded: Int) {
        #expect(Padding.paddedLength(length, mtu: 1_420) == padded)
    }

    @Test func neverPadsPastTheMTU() {
        // 1420 is not a multiple of 16: rounding 1419 up would give 1424.
        #expect(Padding.paddedLength(1_419, mtu: 1_420) == 1_420)
        #expect(Padding.paddedLength(1_420, mtu: 1_420) == 1_420)
        #expect(Padding.paddedLength(1_279, mtu: 1_280) == 1_280)
        #expect(Padding.paddedLength(1_280, mtu: 1_280) == 1_280)
        #expect(Padding.paddedLength(1_499, mtu: 1_500) == 1_500)
        #expect(Padding.paddedLength(1_488, mtu: 1_500) == 1_488)
        #expect(Padding.paddedLength(1_489, mtu: 1_500) == 1_500)
        #expect(Padding.paddedLength(1_473, mtu: 1_500) == 1_488)
    }

    @Test func aPacketOverTheMTUIsPaddedAsItsLastUnit() {
        #expect(Padding.paddedLength(1_421, mtu: 1_420) == 1_436)     // last unit 1 → 16
        #expect(Padding.paddedLength(1_500, mtu: 1_420) == 1_500)     // last unit 80, already aligned
        #expect(Padding.paddedLength(65_535, mtu: 1_420) == 65_544)   // last unit 215 → 224
        #expect(Padding.paddedLength(2_840, mtu: 1_420) == 2_840)     // whole units: nothing
        #expect(Padding.paddedLength(100, mtu: 68) == 100)            // last unit 32, aligned
    }

    @Test func noMTUMeansNoCap() {
        #expect(Padding.paddedLength(0, mtu: 0) == 0)
        #expect(Padding.paddedLength(1, mtu: 0) == 16)
        #expect(Padding.paddedLength(1_419, mtu: 0) == 1_424)
    }

    @Test(arguments: [68, 576, 1_280, 1_412, 1_420, 1_500, 9_000])
    func everyLengthObeysTheContract(mtu: Int) {
        for length in 0...(mtu + 100) {
            let padded = Padding.paddedLength(length, mtu: mtu)
            #expect(padded >= length, "length \(length) mtu \(mtu)")
            if length > mtu {
                let lastUnit = length % mtu
                #expect(padded == length + min(mtu, (lastUnit + 15) / 16 * 16) - lastUnit, "length \(length) mtu \(mtu)")
            } else if length == mtu {
                #expect(padded == length, "length \(length) mtu \(mtu)")
            } else {
                #expect(padded <= mtu, "length \(length) mtu \(mtu)")
                #expect(padded % 16 == 0 || padded == mtu, "length \(length) mtu \(mtu)")
                // The least such length: no more than 15 bytes of padding, and no whole block.
                #expect(padded - length < 16, "length \(length) mtu \(mtu)")
                #expect(padded == min((length + 15) / 16 * 16, mtu), "length \(length) mtu \(mtu)")
            }
        }
    }

    @Test func usesTheProtocolsMultiple() {
        #expect(WireGuard.paddingMultiple == 16)
        #expect(WireGuard.defaultMTU == 1_420)
    }
}
