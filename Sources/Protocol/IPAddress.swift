// IP addresses as the data plane sees them: fixed-size values, read straight from packet headers,
// parsed and printed exactly as glibc's inet_pton and inet_ntop do, so that what `wg` and the
// kernel print round-trips through us unchanged.

/// An IPv4 address; `value` is in host order, so 1.2.3.4 is 0x01020304.
public struct IPv4Address: Hashable, Sendable, CustomStringConvertible {
    /// The address in host order.
    public var value: UInt32

    /// The address whose host-order value is `value`.
    public init(value: UInt32) { self.value = value }

    /// The address `a.b.c.d`.
    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Parses a dotted quad as inet_pton(AF_INET) does: four decimal parts 0–255, no leading zeros.
    public init?(_ text: some StringProtocol) {
        guard let value = Self.parse(text.utf8) else { return nil }
        self.value = value
    }

    /// Reads 4 network-order bytes; nil for any other count.
    public init?(bytes: UnsafeRawBufferPointer) {
        guard bytes.count == 4 else { return nil }
        value = UInt32(bigEndian: bytes.loadUnaligned(as: UInt32.self))
    }

    /// Reads 4 network-order bytes at `pointer`, e.g. a field of an IPv4 header; no alignment needed.
    public init(networkOrder pointer: UnsafeRawPointer) {
        value = UInt32(bigEndian: pointer.loadUnaligned(as: UInt32.self))
    }

    /// Calls `body` with the 4 network-order bytes, kept on the stack.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var bigEndian = value.bigEndian
        return try Swift.withUnsafeBytes(of: &bigEndian, body)
    }

    /// Dotted quad, as inet_ntop prints it.
    public var description: String {
        "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
    }

    /// glibc's inet_pton4 rules. "01" is refused because BSD-derived parsers would read it as
    /// octal, so accepting it would make the same text mean two addresses.
    static func parse(_ text: some Collection<UInt8>) -> UInt32? {
        var value: UInt32 = 0
        var part: UInt32 = 0
        var parts = 0
        var digits = 0
        for byte in text {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if digits > 0 && part == 0 { return nil }
                part = part * 10 + UInt32(byte - UInt8(ascii: "0"))
                guard part <= 255 else { return nil }
                if digits == 0 { parts += 1 }
                digits += 1
            case UInt8(ascii: "."):
                guard digits > 0, parts < 4 else { return nil }
                value = value << 8 | part
                part = 0
                digits = 0
            default:
                return nil
            }
        }
        guard parts == 4, digits > 0 else { return nil }
        return value << 8 | part
    }
}

/// An IPv6 address as two host-order halves: `high` holds the first 8 bytes on the wire.
public struct IPv6Address: Hashable, Sendable, CustomStringConvertible {
    /// The first 8 bytes, in host order.
    public var high: UInt64
    /// The last 8 bytes, in host order.
    public var low: UInt64

    /// The address whose first 8 bytes are `high` and last 8 are `low`, both in host order.
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Parses the RFC 4291 text forms exactly as inet_pton(AF_INET6) does; no scope ids.
    public init?(_ text: some StringProtocol) {
        guard let address = Self.parse(text.utf8) else { return nil }
        self = address
    }

    /// Reads 16 network-order bytes; nil for any other count.
    public init?(bytes: UnsafeRawBufferPointer) {
        guard bytes.count == 16, let base = bytes.baseAddress else { return nil }
        self.init(networkOrder: base)
    }

    /// Reads 16 network-order bytes at `pointer`, e.g. a field of an IPv6 header; no alignment needed.
    public init(networkOrder pointer: UnsafeRawPointer) {
        high = UInt64(bigEndian: pointer.loadUnaligned(as: UInt64.self))
        low = UInt64(bigEndian: pointer.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
    }

    /// Calls `body` with the 16 network-order bytes, kept on the stack.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        // A homogeneous tuple is laid out like a C array: 16 contiguous bytes.
        var bigEndian = (high.bigEndian, low.bigEndian)
        return try Swift.withUnsafeBytes(of: &bigEndian, body)
    }

    /// The 16-bit group at `index` (0 is leftmost in text).
    func group(_ index: Int) -> UInt16 {
        let half = index < 4 ? high : low
        return UInt16(truncatingIfNeeded: half >> (48 - 16 * (index & 3)))
    }

    /// The address as inet_ntop(AF_INET6) prints it.
    public var description: String {
        // glibc's rules, which RFC 5952 mostly agrees with: lowercase hex, and the first longest run
        // of two or more zero groups becomes "::". Where they part, glibc wins because `wg` prints
        // through it: an IPv4-mapped ::ffff:a.b.c.d and an IPv4-compatible ::a.b.c.d keep the tail
        // dotted, the latter only when a.b is not 0.0, so that ::1 stays ::1.
        var runStart = -1, runLength = 0
        var index = 0
        while index < 8 {
            var end = index
            while end < 8 && group(end) == 0 { end += 1 }
            if end - index > runLength {
                runStart = index
                runLength = end - index
            }
            index = end + 1
        }
        if runLength < 2 { runStart = -1 }

        var text = ""
        text.reserveCapacity(39)
        index = 0
        while index < 8 {
            if runStart >= 0 && index >= runStart && index < runStart + runLength {
                if index == runStart { text += ":" }
                index += 1
                continue
            }
            if index != 0 { text += ":" }
            if index == 6 && runStart == 0 && (runLength == 6 || (runLength == 5 && group(5) == 0xFFFF)) {
                text += IPv4Address(value: UInt32(truncatingIfNeeded: low)).description
                return text
            }
            text += String(group(index), radix: 16)
            index += 1
        }
        if runStart >= 0 && runStart + runLength == 8 { text += ":" }
        return text
    }

    /// glibc's inet_pton6 rules, including its quirks: a lone leading or trailing ":" is refused,
    /// "::" may stand for a single group, and a dotted IPv4 tail must fill the last 32 bits.
    static func parse<C: Collection<UInt8>>(_ text: C) -> IPv6Address? {
        var groups: (UInt64, UInt64) = (0, 0)   // shifted in 16 bits at a time, high then low
        var count = 0                            // groups stored so far
        var gapAt = -1                           // where "::" stood, in groups
        var group: UInt64 = 0
        var digits = 0

        var index = text.startIndex
        guard index != text.endIndex else { return nil }
        if text[index] == UInt8(ascii: ":") {
            text.formIndex(after: &index)
            guard index != text.endIndex, text[index] == UInt8(ascii: ":") else { return nil }
        }
        var token = index   // start of the current group, for a dotted tail to re-read

        func store(_ value: UInt64) {
            groups.0 = groups.0 << 16 | groups.1 >> 48
            groups.1 = groups.1 << 16 | value
            count += 1
        }

        while index != text.endIndex {
            let byte = text[index]
            text.formIndex(after: &index)
            if let nibble = hexValue(byte) {
                guard digits < 4 else { return nil }
                group = group << 4 | UInt64(nibble)
                digits += 1
                continue
            }
            if byte == UInt8(ascii: ":") {
                token = index
                if digits == 0 {
                    guard gapAt < 0 else { return nil }
                    gapAt = count
                    continue
                }
                guard index != text.endIndex, count < 8 else { return nil }
                store(group)
                group = 0
                digits = 0
                continue
            }
            guard byte == UInt8(ascii: "."), count <= 6,
                  let v4 = IPv4Address.parse(text[token...]) else { return nil }
            store(UInt64(v4 >> 16))
            store(UInt64(v4 & 0xFFFF))
            digits = 0
            index = text.endIndex
        }
        if digits > 0 {
            guard count < 8 else { return nil }
            store(group)
        }
        if gapAt >= 0 {
            guard count < 8 else { return nil }
            // Groups after the gap are already at the low end; those before it move up past the zeros.
            let tail = count - gapAt
            let tailMask: UInt128 = tail == 0 ? 0 : UInt128.max >> (128 - 16 * tail)
            let all = UInt128(groups.0) << 64 | UInt128(groups.1)
            let head = (all & ~tailMask) << (16 * (8 - count))
            let merged = head | (all & tailMask)
            return IPv6Address(high: UInt64(truncatingIfNeeded: merged >> 64), low: UInt64(truncatingIfNeeded: merged))
        }
        guard count == 8 else { return nil }
        return IPv6Address(high: groups.0, low: groups.1)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// An IPv4 or IPv6 address.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// An IPv4 address.
    case v4(IPv4Address)
    /// An IPv6 address.
    case v6(IPv6Address)

    /// Parses either family as inet_pton would; text with a colon is IPv6.
    public init?(_ text: some StringProtocol) {
        guard let address = Self.parse(text.utf8) else { return nil }
        self = address
    }

    /// Reads 4 or 16 network-order bytes; nil for any other count.
    public init?(bytes: UnsafeRawBufferPointer) {
        switch bytes.count {
        case 4: guard let a = IPv4Address(bytes: bytes) else { return nil }; self = .v4(a)
        case 16: guard let a = IPv6Address(bytes: bytes) else { return nil }; self = .v6(a)
        default: return nil
        }
    }

    /// True for IPv4.
    public var isV4: Bool {
        if case .v4 = self { return true }
        return false
    }

    /// Calls `body` with the 4 or 16 network-order bytes, kept on the stack.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch self {
        case .v4(let a): try a.withUnsafeBytes(body)
        case .v6(let a): try a.withUnsafeBytes(body)
        }
    }

    /// The address as inet_ntop prints it.
    public var description: String {
        switch self {
        case .v4(let a): a.description
        case .v6(let a): a.description
        }
    }

    static func parse<C: Collection<UInt8>>(_ text: C) -> IPAddress? {
        if text.contains(UInt8(ascii: ":")) {
            return IPv6Address.parse(text).map { .v6($0) }
        }
        return IPv4Address.parse(text).map { .v4(IPv4Address(value: $0)) }
    }
}
