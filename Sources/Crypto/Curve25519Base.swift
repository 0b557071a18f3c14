/// X25519 public keys by fixed-base multiplication on the birationally equivalent Edwards curve
/// (−x² + y² = 1 + d·x²·y²), with a table of multiples of the base point made once per process.
///
/// Why our own: every handshake makes an ephemeral key, and libcrypto 3.0 derives its public key
/// with 32-bit limbs (about 22 µs here), a quarter of the responder's X25519 time. Here it takes
/// 14 µs (a fifth of that is the inversion), and libcrypto takes the key pair as given (X25519Key). The DH itself stays
/// libcrypto's (its x86-64 ladder is assembly). 64-bit targets only, as Field25519.
///
/// Constant time: the scalar's digits choose table entries by masks over the whole row, never by
/// index or branch.
#if _pointerBitWidth(_64)
enum Curve25519Base {
    /// The u-coordinate of clamp(scalar)·B, little-endian: RFC 7748's X25519(scalar, 9).
    static func publicKey(_ scalar: UnsafeRawBufferPointer) -> Bytes32 {
        precondition(scalar.count == 32)
        let u = uCoordinate(scalar)
        // The digits and the points on the way are as good as the scalar, and live in no buffer
        // one could clear: clear the stack they used (as BLAKE2s does).
        Zeroize.clearStack(kib: stackKiB)
        return u
    }

    #if DEBUG
    private static let stackKiB = 16
    #else
    private static let stackKiB = 2
    #endif

    @inline(never)
    private static func uCoordinate(_ scalar: UnsafeRawBufferPointer) -> Bytes32 {
        let h = multiply(digits(scalar))
        // u = (1 + y)/(1 − y) with y = Y/Z. Z = Y only for the neutral point, which no clamped
        // scalar gives (a multiple of 8 below 2^255 is never one of the group order's).
        return ((h.z + h.y) * (h.z - h.y).inverse).bytes
    }

    /// The clamped scalar in 64 signed radix-16 digits, each in −8...8: Σ e[i]·16^i.
    private static func digits(_ scalar: UnsafeRawBufferPointer) -> InlineArray<64, Int8> {
        var e = InlineArray<64, Int8>(repeating: 0)
        for i in 0..<32 {
            var byte = scalar[i]
            if i == 0 { byte &= 248 }
            if i == 31 { byte = (byte & 127) | 64 }
            e[2 * i] = Int8(byte & 15)
            e[2 * i + 1] = Int8(byte >> 4)
        }
        var carry: Int8 = 0
        for i in 0..<63 {
            e[i] += carry
            carry = (e[i] + 8) >> 4
            e[i] -= carry << 4
        }
        e[63] += carry
        return e
    }

    /// Σ e[i]·16^i·B, as Σ over the odd digits times 16 plus the even ones, so that one table row
    /// (multiples of 256^k·B) serves both digits of byte k.
    private static func multiply(_ e: InlineArray<64, Int8>) -> EdwardsPoint {
        let table = BaseTable.shared
        var h = EdwardsPoint.neutral
        for i in stride(from: 1, to: 64, by: 2) { h = h + table.select(row: i / 2, digit: e[i]) }
        h = h.doubled.doubled.doubled.doubled
        for i in stride(from: 0, to: 64, by: 2) { h = h + table.select(row: i / 2, digit: e[i]) }
        return h
    }
}

/// A point in extended coordinates (X : Y : Z : T), x = X/Z, y = Y/Z, x·y = T/Z.
struct EdwardsPoint {
    var x, y, z, t: FieldElement

    static let neutral = EdwardsPoint(x: .zero, y: .one, z: .one, t: .zero)

    /// 2d, d = −121665/121666.
    static let d2 = FieldElement(0x69B9_426B_2F159, 0x3505_0762_ADD7A, 0x3CF4_4C00_38052, 0x6738_CC74_07977, 0x2406_D9DC_56DFF)

    /// The base point: y = 4/5, x even.
    static let base: EdwardsPoint = {
        let x = FieldElement(0x62D6_08F2_5D51A, 0x412A_4B4F_6592A, 0x75B7_171A_4B31D, 0x1FF6_0527_118FE, 0x2169_36D3_CD6E5)
        let y = FieldElement(0x6666_6666_66658, 0x4CCC_CCCC_CCCCC, 0x1999_9999_99999, 0x3333_3333_33333, 0x6666_6666_66666)
        return EdwardsPoint(x: x, y: y, z: .one, t: x * y)
    }()

    /// Adds an affine point in its precomputed form (Hisil–Wong–Carter–Dawson, a = −1, Z₂ = 1).
    static func + (p: EdwardsPoint, q: AffineNiels) -> EdwardsPoint {
        let a = (p.y - p.x) * q.yMinusX
        let b = (p.y + p.x) * q.yPlusX
        let c = p.t * q.xy2d
        let d = p.z + p.z
        let e = b - a, f = d - c, g = d + c, h = b + a
        return EdwardsPoint(x: e * f, y: g * h, z: f * g, t: e * h)
    }

    /// 2·self (the same authors' doubling, a = −1; T is not read).
    var doubled: EdwardsPoint {
        let a = x.squared, b = y.squared
        let c = z.squared + z.squared
        let e = (x + y).squared - a - b
        let g = b - a
        let f = g - c
        let h = -(a + b)
        return EdwardsPoint(x: e * f, y: g * h, z: f * g, t: e * h)
    }

    /// The affine form the additions take: one inversion. Made only for the table, once.
    @inline(never)
    var niels: AffineNiels {
        let inverse = z.inverse
        let ax = x * inverse, ay = y * inverse
        return AffineNiels(yPlusX: ay + ax, yMinusX: ay - ax, xy2d: ax * ay * EdwardsPoint.d2)
    }
}

/// An affine point as (y + x, y − x, 2d·x·y): what a mixed addition needs, with nothing to divide.
struct AffineNiels {
    var yPlusX, yMinusX, xy2d: FieldElement

    static let neutral = AffineNiels(yPlusX: .one, yMinusX: .one, xy2d: .zero)

    /// −self: (x, y) → (−x, y).
    var negated: AffineNiels { AffineNiels(yPlusX: yMinusX, yMinusX: yPlusX, xy2d: -xy2d) }

    mutating func select(_ other: AffineNiels, mask: UInt64) {
        yPlusX.select(other.yPlusX, mask: mask)
        yMinusX.select(other.yMinusX, mask: mask)
        xy2d.select(other.xy2d, mask: mask)
    }
}

/// Row k holds j·256^k·B for j = 1...8 (32 rows, 30 KiB), made at first use: 256 additions and
/// inversions, a few milliseconds once, rather than 30 KiB more in the firmware image.
final class BaseTable: @unchecked Sendable {
    static let shared = BaseTable()

    /// Written only while the shared table is made (once, under the runtime's lazy-global lock).
    private let entries: UnsafeMutablePointer<AffineNiels>

    private init() {
        entries = .allocate(capacity: 32 * 8)
        var rowBase = EdwardsPoint.base
        for row in 0..<32 {
            let first = rowBase.niels
            var multiple = rowBase
            entries[8 * row] = first
            for j in 1..<8 {
                multiple = multiple + first
                entries[8 * row + j] = multiple.niels
            }
            for _ in 0..<8 { rowBase = rowBase.doubled }
        }
    }

    /// digit·256^row·B for a digit in −8...8, reading all eight entries of the row.
    func select(row: Int, digit: Int8) -> AffineNiels {
        let negative = UInt8(bitPattern: digit) >> 7
        let magnitude = UInt8(bitPattern: digit) ^ (0 &- negative)
        let absolute = magnitude &+ negative          // |digit|, from two's complement
        var chosen = AffineNiels.neutral
        for j in 0..<8 {
            chosen.select(entries[8 * row + j], mask: BaseTable.equalMask(absolute, UInt8(j + 1)))
        }
        chosen.select(chosen.negated, mask: 0 &- UInt64(negative))
        return chosen
    }

    /// All ones if a == b, else zero, without a branch.
    private static func equalMask(_ a: UInt8, _ b: UInt8) -> UInt64 {
        let difference = UInt64(a ^ b)                // 0...255
        return (difference &- 1) >> 63 &* UInt64.max  // top bit set only when difference was 0
    }
}
#endif
