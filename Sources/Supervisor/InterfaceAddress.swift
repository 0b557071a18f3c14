public import Protocol

/// An address the interface itself holds, with its subnet: "192.0.2.1/24", "fd00::1/64". Unlike
/// an `IPPrefix` (an allowed-IPs block), the host bits are the point and are kept.
public struct InterfaceAddress: Hashable, Sendable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: UInt8

    /// nil past 32 bits for IPv4 or 128 for IPv6.
    public init?(address: IPAddress, prefixLength: Int) {
        guard prefixLength >= 0, prefixLength <= (address.isV4 ? 32 : 128) else { return nil }
        self.address = address
        self.prefixLength = UInt8(prefixLength)
    }

    /// "address/length", the length in plain decimal (no sign, no leading zero), as `ip addr` takes it.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPAddress(parts[0]),
              let length = Self.parseLength(parts[1].utf8) else { return nil }
        self.init(address: address, prefixLength: length)
    }

    /// The subnet the address is in (host bits cleared): the route the kernel adds for it.
    public var subnet: IPPrefix { IPPrefix(address: address, length: Int(prefixLength))! }

    public var description: String { "\(address)/\(prefixLength)" }

    private static func parseLength(_ text: some Collection<UInt8>) -> Int? {
        guard (1...3).contains(text.count), text.first != UInt8(ascii: "0") || text.count == 1 else { return nil }
        var value = 0
        for byte in text {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }
}
