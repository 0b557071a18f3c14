/// Keys as text: base64 (44 characters, `wg genkey` and config files) and lowercase hex
/// (64 characters, the UAPI). Decoders accept exactly one encoding of exactly 32 bytes.
public enum KeyEncoding {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let hexDigits = Array("0123456789abcdef".utf8)

    public static func base64(_ key: Bytes32) -> String { key.withUnsafeBytes { base64($0) } }

    public static func base64(_ bytes: UnsafeRawBufferPointer) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let b0 = UInt32(bytes[i])
            let b1 = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0
            let b2 = i + 2 < bytes.count ? UInt32(bytes[i + 2]) : 0
            let triple = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(triple >> 18 & 63)])
            out.append(alphabet[Int(triple >> 12 & 63)])
            out.append(i + 1 < bytes.count ? alphabet[Int(triple >> 6 & 63)] : UInt8(ascii: "="))
            out.append(i + 2 < bytes.count ? alphabet[Int(triple & 63)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Exactly 44 characters with one `=`, and the unused low bits of the last symbol zero (so
    /// that each key has exactly one spelling, as `wg` insists).
    public static func fromBase64(_ text: some StringProtocol) -> Bytes32? {
        let chars = Array(text.utf8)
        guard chars.count == 44, chars[43] == UInt8(ascii: "=") else { return nil }
        var out = Bytes32()
        let ok = out.withUnsafeMutableBytes { out -> Bool in
            var acc: UInt32 = 0, bits = 0, n = 0
            for c in chars[0..<43] {
                guard let v = base64Value(c) else { return false }
                acc = acc << 6 | v
                bits += 6
                if bits >= 8 {
                    bits -= 8
                    out[n] = UInt8(truncatingIfNeeded: acc >> UInt32(bits))
                    n += 1
                }
            }
            return n == 32 && acc & ((1 << UInt32(bits)) - 1) == 0
        }
        return ok ? out : nil
    }

    public static func hex(_ key: Bytes32) -> String { key.withUnsafeBytes { hex($0) } }

    public static func hex(_ bytes: UnsafeRawBufferPointer) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(hexDigits[Int(b >> 4)])
            out.append(hexDigits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Exactly 64 hex digits (either case).
    public static func fromHex(_ text: some StringProtocol) -> Bytes32? {
        let chars = Array(text.utf8)
        guard chars.count == 64 else { return nil }
        var out = Bytes32()
        let ok = out.withUnsafeMutableBytes { out -> Bool in
            for i in 0..<32 {
                guard let hi = hexValue(chars[2 * i]), let lo = hexValue(chars[2 * i + 1]) else { return false }
                out[i] = hi << 4 | lo
            }
            return true
        }
        return ok ? out : nil
    }

    private static func base64Value(_ c: UInt8) -> UInt32? {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): UInt32(c - UInt8(ascii: "A"))
        case UInt8(ascii: "a")...UInt8(ascii: "z"): UInt32(c - UInt8(ascii: "a") + 26)
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(c - UInt8(ascii: "0") + 52)
        case UInt8(ascii: "+"): 62
        case UInt8(ascii: "/"): 63
        default: nil
        }
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
