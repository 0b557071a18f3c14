/// An address block in CIDR form, such as an allowed-IPs entry.
///
/// Host bits are always cleared, because `wg` and the kernel store 10.1.2.3/8 as 10.0.0.0/8: two
/// spellings of one block must compare equal and land on one trie node.
public struct IPPrefix: Hashable, Sendable, CustomStringConvertible {
    /// The first address of the block (host bits cleared).
    public let address: IPAddress
    /// Leading bits that are fixed: 0...32 for IPv4, 0...128 for IPv6.
    public let length: UInt8

    /// The block of `length` leading bits of `address`, host bits cleared; nil past 32 or 128 bits.
    public init?(address: IPAddress, length: Int) {
        guard length >= 0, length <= address.bitWidth else { return nil }
        self.init(masked: address.masked(to: UInt8(length)), length: UInt8(length))
    }

    /// Parses "a.b.c.d/n" or "x::y/n": the slash and a plain decimal length are required.
    public init?(_ text: some StringProtocol) {
        let utf8 = text.utf8
        guard let slash = utf8.firstIndex(of: UInt8(ascii: "/")),
              let address = IPAddress.parse(utf8[..<slash]),
              let length = Self.parseLength(utf8[utf8.index(after: slash)...], max: address.bitWidth)
        else { return nil }
        self.init(address: address, length: length)
    }

    /// For callers that already hold a masked address, such as the trie reading its nodes back.
    init(masked address: IPAddress, length: UInt8) {
        self.address = address
        self.length = length
    }

    /// "address/length", as `wg` prints allowed IPs.
    public var description: String { "\(address)/\(length)" }

    /// True when `address` is of the same family and its first `length` bits match.
    public func contains(_ address: IPAddress) -> Bool {
        address.isV4 == self.address.isV4 && address.masked(to: length) == self.address
    }

    /// A sign or a leading zero would let two strings name one prefix, so neither is taken.
    private static func parseLength(_ text: some Collection<UInt8>, max: Int) -> Int? {
        guard (1...3).contains(text.count), text.first != UInt8(ascii: "0") || text.count == 1 else { return nil }
        var value = 0
        for byte in text {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value <= max ? value : nil
    }
}

extension IPAddress {
    /// 32 or 128.
    var bitWidth: Int { isV4 ? 32 : 128 }

    /// The address with every bit past the first `length` cleared.
    func masked(to length: UInt8) -> IPAddress {
        switch self {
        case .v4(let a):
            // Smart shifts give 0 for a shift of 32, which is what /0 needs.
            return .v4(IPv4Address(value: a.value & (UInt32.max << (32 - Int(length)))))
        case .v6(let a):
            let n = Int(length)
            let highMask = n >= 64 ? UInt64.max : UInt64.max << (64 - n)
            let lowMask = n <= 64 ? 0 : UInt64.max << (128 - n)
            return .v6(IPv6Address(high: a.high & highMask, low: a.low & lowMask))
        }
    }
}
