/// A peer's UDP address, written as `wg` prints it and the UAPI's `endpoint=` takes it:
/// "1.2.3.4:51820" or "[fd00::1]:51820".
public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    /// The peer's address.
    public var address: IPAddress
    /// The peer's UDP port.
    public var port: UInt16

    /// The endpoint `address`:`port`.
    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    /// Parses "a.b.c.d:port" or "[ipv6]:port", brackets required for IPv6 and refused for IPv4.
    public init?(_ text: some StringProtocol) {
        // Brackets because "fd00::1:80" cannot say where the address ends. No "%scope": an
        // IPAddress has nowhere to keep one, so accepting it would silently drop it.
        let utf8 = text.utf8
        let address: IPAddress
        let hostEnd: String.Index   // the ":" before the port should be here
        if utf8.first == UInt8(ascii: "[") {
            guard let close = utf8.firstIndex(of: UInt8(ascii: "]")),
                  let v6 = IPv6Address.parse(utf8[utf8.index(after: utf8.startIndex)..<close])
            else { return nil }
            address = .v6(v6)
            hostEnd = utf8.index(after: close)
        } else {
            guard let colon = utf8.firstIndex(of: UInt8(ascii: ":")),
                  let v4 = IPv4Address.parse(utf8[..<colon])
            else { return nil }
            address = .v4(IPv4Address(value: v4))
            hostEnd = colon
        }
        guard hostEnd != utf8.endIndex, utf8[hostEnd] == UInt8(ascii: ":"),
              let port = Self.parsePort(utf8[utf8.index(after: hostEnd)...])
        else { return nil }
        self.init(address: address, port: port)
    }

    /// "a.b.c.d:port" or "[ipv6]:port", the form `endpoint=` takes back.
    public var description: String {
        switch address {
        case .v4(let a): "\(a):\(port)"
        case .v6(let a): "[\(a)]:\(port)"
        }
    }

    /// Decimal digits only. Leading zeros are taken, as getaddrinfo (behind `wg`) and
    /// wireguard-go's UAPI both take them.
    private static func parsePort(_ text: some Collection<UInt8>) -> UInt16? {
        guard !text.isEmpty else { return nil }
        var value: UInt32 = 0
        for byte in text {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            value = value * 10 + UInt32(byte - UInt8(ascii: "0"))
            guard value <= UInt32(UInt16.max) else { return nil }
        }
        return UInt16(value)
    }
}
