/// Keys as text: base64 (44 characters, `wg genkey` and config files) and lowercase hex
/// (64 characters, the UAPI). Decoders accept exactly one encoding of exactly 32 bytes.
public enum KeyEncoding {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let hexDigits = Array("0123456789abcdef".utf8)

    public static func base64(_ key: Bytes32) -> String { key.withUnsafeBytes { base64($0) } }

    /// Encodes straight into the string's storage: for a secret, the string is the only copy made.
    public static func base64(_ bytes: UnsafeRawBufferPointer) -> String {
        String(unsafeUninitializedCapacity: (bytes.count + 2) / 3 * 4) { out in
            var i = 0, n = 0
            while i < bytes.count {
                let b0 = UInt32(bytes[i])
                let b1 = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0
                let b2 = i + 2 < bytes.count ? UInt32(bytes[i + 2]) : 0
                let triple = b0 << 16 | b1 << 8 | b2
                out[n] = alphabet[Int(triple >> 18 & 63)]
                out[n + 1] = alphabet[Int(triple >> 12 & 63)]
                out[n + 2] = i + 1 < bytes.count ? alphabet[Int(triple >> 6 & 63)] : UInt8(ascii: "=")
                out[n + 3] = i + 2 < bytes.count ? alphabet[Int(triple & 63)] : UInt8(ascii: "=")
                i += 3
                n += 4
            }
            return n
        }
    }

    /// Exactly 44 characters with one `=`, and the unused low bits of the last symbol zero (so
    /// that each key has exactly one spelling, as `wg` insists). For public keys.
    public static func fromBase64(_ text: some StringProtocol) -> Bytes32? {
        var out = Bytes32()
        return out.withUnsafeMutableBytes { decodeBase64(text.utf8, into: $0) } ? out : nil
    }

    /// The same, decoded straight into a secret's slot: no other copy of the key is made.
    public static func secretFromBase64(_ utf8: some Collection<UInt8>) -> SecretKey? {
        var out = SecretKey()
        guard out.withUnsafeMutableBytes({ decodeBase64(utf8, into: $0) }) else { return nil }
        return out
    }

    public static func hex(_ key: Bytes32) -> String { key.withUnsafeBytes { hex($0) } }

    /// Encodes straight into the string's storage, as `base64`.
    public static func hex(_ bytes: UnsafeRawBufferPointer) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            for (i, b) in bytes.enumerated() {
                out[2 * i] = hexDigits[Int(b >> 4)]
                out[2 * i + 1] = hexDigits[Int(b & 15)]
            }
            return bytes.count * 2
        }
    }

    /// Exactly 64 hex digits (either case). For public keys.
    public static func fromHex(_ text: some StringProtocol) -> Bytes32? {
        var out = Bytes32()
        return out.withUnsafeMutableBytes { decodeHex(text.utf8, into: $0) } ? out : nil
    }

    /// The same, decoded straight into a secret's slot.
    public static func secretFromHex(_ utf8: some Collection<UInt8>) -> SecretKey? {
        var out = SecretKey()
        guard out.withUnsafeMutableBytes({ decodeHex(utf8, into: $0) }) else { return nil }
        return out
    }

    // The decoders read the text in place (no array of it) and write each byte to `out` once.

    private static func decodeBase64(_ chars: some Collection<UInt8>, into out: UnsafeMutableRawBufferPointer) -> Bool {
        guard chars.count == 44 else { return false }
        var acc: UInt32 = 0, bits = 0, n = 0
        for (i, c) in chars.enumerated() {
            if i == 43 { return c == UInt8(ascii: "=") && n == 32 && acc & ((1 << UInt32(bits)) - 1) == 0 }
            guard let v = base64Value(c) else { return false }
            acc = acc << 6 | v
            bits += 6
            if bits >= 8 {
                bits -= 8
                out[n] = UInt8(truncatingIfNeeded: acc >> UInt32(bits))
                n += 1
            }
        }
        return false
    }

    private static func decodeHex(_ chars: some Collection<UInt8>, into out: UnsafeMutableRawBufferPointer) -> Bool {
        guard chars.count == 64 else { return false }
        var high: UInt8?
        for (i, c) in chars.enumerated() {
            guard let v = hexValue(c) else { return false }
            if let h = high { out[i / 2] = h << 4 | v; high = nil } else { high = v }
        }
        return true
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
