/// An element of GF(2^255 − 19) in five 51-bit limbs, for the fixed-base multiplication that makes
/// X25519 public keys (Curve25519Base.swift). 64-bit targets only: each limb product is one
/// 64×64→128 multiplication there, and a 32-bit CPU would pay a library call for it.
///
/// Products come out "reduced": each limb below 2^52, the value not necessarily below p. Sums and
/// differences are left uncarried (the bounds are at each operator); `bytes` gives the canonical
/// form. Everything is constant time: no branch and no memory index depends on a value. The
/// arithmetic wraps (&+, &*): the bounds keep every sum far from 2^64 and 2^128, and an overflow
/// check is a branch per addition (it made the multiplication half as fast).
#if _pointerBitWidth(_64)
struct FieldElement {
    var l0, l1, l2, l3, l4: UInt64

    static let mask: UInt64 = (1 << 51) &- 1
    static let zero = FieldElement(0, 0, 0, 0, 0)
    static let one = FieldElement(1, 0, 0, 0, 0)

    init(_ l0: UInt64, _ l1: UInt64, _ l2: UInt64, _ l3: UInt64, _ l4: UInt64) {
        (self.l0, self.l1, self.l2, self.l3, self.l4) = (l0, l1, l2, l3, l4)
    }

    /// Carries each limb's excess into the next, the top one's back into the first times 19
    /// (2^255 ≡ 19): the product sums of `*` and `squared` (each below 2^125). Leaves every limb
    /// below 2^52: a "reduced" element.
    static func reduced(_ r0: UInt128, _ r1: UInt128, _ r2: UInt128, _ r3: UInt128, _ r4: UInt128) -> FieldElement {
        let r1 = r1 &+ r0 >> 51, r2 = r2 &+ r1 >> 51, r3 = r3 &+ r2 >> 51, r4 = r4 &+ r3 >> 51
        let l0 = UInt128(UInt64(truncatingIfNeeded: r0) & mask) &+ (r4 >> 51) &* 19
        return FieldElement(UInt64(truncatingIfNeeded: l0) & mask,
                            (UInt64(truncatingIfNeeded: r1) & mask) &+ UInt64(truncatingIfNeeded: l0 >> 51),
                            UInt64(truncatingIfNeeded: r2) & mask, UInt64(truncatingIfNeeded: r3) & mask,
                            UInt64(truncatingIfNeeded: r4) & mask)
    }

    /// The same for limbs that fit 64 bits, before the final reduction in `bytes`.
    var carried: FieldElement {
        let l1 = self.l1 &+ l0 >> 51, l2 = self.l2 &+ l1 >> 51, l3 = self.l3 &+ l2 >> 51, l4 = self.l4 &+ l3 >> 51
        let first = (l0 & FieldElement.mask) &+ (l4 >> 51) &* 19
        return FieldElement(first & FieldElement.mask, (l1 & FieldElement.mask) &+ first >> 51, l2 & FieldElement.mask,
                            l3 & FieldElement.mask, l4 & FieldElement.mask)
    }

    /// Sums and differences are not carried: a product takes limbs up to 2^56 (its sums stay
    /// below 2^125), and the curve formulas never chain more than two of them before one.
    static func + (a: FieldElement, b: FieldElement) -> FieldElement {
        FieldElement(a.l0 &+ b.l0, a.l1 &+ b.l1, a.l2 &+ b.l2, a.l3 &+ b.l3, a.l4 &+ b.l4)
    }

    /// a − b as a + 8p − b: no limb goes below zero for a `b` below 2^54 (a reduced element, or
    /// the sum of two).
    static func - (a: FieldElement, b: FieldElement) -> FieldElement {
        let p8low: UInt64 = 0x3F_FFFF_FFFF_FF68, p8: UInt64 = 0x3F_FFFF_FFFF_FFF8
        return FieldElement(a.l0 &+ p8low &- b.l0, a.l1 &+ p8 &- b.l1, a.l2 &+ p8 &- b.l2,
                            a.l3 &+ p8 &- b.l3, a.l4 &+ p8 &- b.l4)
    }

    static prefix func - (a: FieldElement) -> FieldElement { zero - a }

    static func * (a: FieldElement, b: FieldElement) -> FieldElement {
        @inline(__always) func m(_ x: UInt64, _ y: UInt64) -> UInt128 { UInt128(x) &* UInt128(y) }
        // Limb products past the fifth wrap around times 19.
        let b1 = 19 &* b.l1, b2 = 19 &* b.l2, b3 = 19 &* b.l3, b4 = 19 &* b.l4
        let r0 = m(a.l0, b.l0) &+ m(a.l1, b4) &+ m(a.l2, b3) &+ m(a.l3, b2) &+ m(a.l4, b1)
        let r1 = m(a.l0, b.l1) &+ m(a.l1, b.l0) &+ m(a.l2, b4) &+ m(a.l3, b3) &+ m(a.l4, b2)
        let r2 = m(a.l0, b.l2) &+ m(a.l1, b.l1) &+ m(a.l2, b.l0) &+ m(a.l3, b4) &+ m(a.l4, b3)
        let r3 = m(a.l0, b.l3) &+ m(a.l1, b.l2) &+ m(a.l2, b.l1) &+ m(a.l3, b.l0) &+ m(a.l4, b4)
        let r4 = m(a.l0, b.l4) &+ m(a.l1, b.l3) &+ m(a.l2, b.l2) &+ m(a.l3, b.l1) &+ m(a.l4, b.l0)
        return FieldElement.reduced(r0, r1, r2, r3, r4)
    }

    var squared: FieldElement {
        @inline(__always) func m(_ x: UInt64, _ y: UInt64) -> UInt128 { UInt128(x) &* UInt128(y) }
        let d0 = 2 &* l0, d1 = 2 &* l1, d3 = 19 &* l3, d4 = 19 &* l4
        let r0 = m(l0, l0) &+ m(d1, d4) &+ m(2 &* l2, d3)
        let r1 = m(d0, l1) &+ m(2 &* l2, d4) &+ m(l3, d3)
        let r2 = m(d0, l2) &+ m(l1, l1) &+ m(2 &* l3, d4)
        let r3 = m(d0, l3) &+ m(d1, l2) &+ m(l4, d4)
        let r4 = m(d0, l4) &+ m(d1, l3) &+ m(l2, l2)
        return FieldElement.reduced(r0, r1, r2, r3, r4)
    }

    /// Out of line: the inversion's ten chains would otherwise each inline a squaring (1.3 KB of
    /// the firmware image's budget) for no measurable time.
    @inline(never)
    func squared(times n: Int) -> FieldElement {
        var x = self
        for _ in 0..<n { x = x.squared }
        return x
    }

    /// self^(p − 2) = 1/self (0 for 0), by a fixed chain of 254 squarings and 11 multiplications.
    var inverse: FieldElement {
        let z2 = squared
        let z9 = z2.squared(times: 2) * self
        let z11 = z9 * z2
        let z5 = z11.squared * z9                 // self^(2^5 − 1)
        let z10 = z5.squared(times: 5) * z5       // and so on: self^(2^n − 1)
        let z20 = z10.squared(times: 10) * z10
        let z40 = z20.squared(times: 20) * z20
        let z50 = z40.squared(times: 10) * z10
        let z100 = z50.squared(times: 50) * z50
        let z200 = z100.squared(times: 100) * z100
        let z250 = z200.squared(times: 50) * z50
        return z250.squared(times: 5) * z11       // self^(2^255 − 21)
    }

    /// `b` where `mask` is all ones, self where it is zero.
    mutating func select(_ b: FieldElement, mask: UInt64) {
        l0 ^= mask & (l0 ^ b.l0); l1 ^= mask & (l1 ^ b.l1); l2 ^= mask & (l2 ^ b.l2)
        l3 ^= mask & (l3 ^ b.l3); l4 ^= mask & (l4 ^ b.l4)
    }

    /// The canonical little-endian encoding (the value reduced below p).
    var bytes: Bytes32 {
        var t = carried
        // q = 1 exactly when t ≥ p, i.e. when t + 19 carries out of bit 255.
        var q = (t.l0 &+ 19) >> 51
        q = (t.l1 &+ q) >> 51
        q = (t.l2 &+ q) >> 51
        q = (t.l3 &+ q) >> 51
        q = (t.l4 &+ q) >> 51
        t.l0 &+= 19 &* q
        t.l1 &+= t.l0 >> 51; t.l0 &= FieldElement.mask
        t.l2 &+= t.l1 >> 51; t.l1 &= FieldElement.mask
        t.l3 &+= t.l2 >> 51; t.l2 &= FieldElement.mask
        t.l4 &+= t.l3 >> 51; t.l3 &= FieldElement.mask
        t.l4 &= FieldElement.mask
        let w0 = t.l0 | t.l1 << 51, w1 = t.l1 >> 13 | t.l2 << 38
        let w2 = t.l2 >> 26 | t.l3 << 25, w3 = t.l3 >> 39 | t.l4 << 12
        var out = Bytes32()
        out.withUnsafeMutableBytes { o in
            o.storeBytes(of: w0.littleEndian, toByteOffset: 0, as: UInt64.self)
            o.storeBytes(of: w1.littleEndian, toByteOffset: 8, as: UInt64.self)
            o.storeBytes(of: w2.littleEndian, toByteOffset: 16, as: UInt64.self)
            o.storeBytes(of: w3.littleEndian, toByteOffset: 24, as: UInt64.self)
        }
        return out
    }
}
#endif
