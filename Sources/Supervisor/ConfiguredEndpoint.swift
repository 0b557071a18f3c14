public import Protocol

/// A peer's endpoint as the state file gives it: an address, or a host name that the supervisor
/// resolves (never the data plane, which has no DNS and should have none), as a router with
/// dynamic-DNS peers needs.
public enum ConfiguredEndpoint: Hashable, Sendable, CustomStringConvertible {
    case address(Endpoint)
    case host(String, port: UInt16)

    /// "IPv4:port", "[IPv6]:port" or "host:port", with a port from 1 to 65535 (port 0 reaches
    /// nobody) and a host name as RFC 1123 has it.
    public init?(_ text: some StringProtocol) {
        if let endpoint = Endpoint(text) {
            guard endpoint.port != 0 else { return nil }
            self = .address(endpoint)
            return
        }
        // An IPv6 address needs brackets, and a bracket never starts a name.
        guard text.first != "[", let colon = text.lastIndex(of: ":") else { return nil }
        let host = String(text[..<colon])
        guard Self.isHostName(host), let port = Self.parsePort(text[text.index(after: colon)...]) else { return nil }
        self = .host(host, port: port)
    }

    public var description: String {
        switch self {
        case .address(let endpoint): endpoint.description
        case .host(let host, let port): "\(host):\(port)"
        }
    }

    /// RFC 1123 (section 2.1): dot-separated labels of letters, digits and hyphens, 1 to 63
    /// characters, no hyphen first or last, 253 characters in all. The last label must not be
    /// all digits (RFC 3696, section 2), so "10.0.0.256" is a bad address rather than a name. No
    /// trailing dot: the file has one spelling per name.
    static func isHostName(_ host: String) -> Bool {
        guard (1...253).contains(host.utf8.count) else { return false }
        let labels = host.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        for label in labels {
            guard (1...63).contains(label.count), label.first != UInt8(ascii: "-"), label.last != UInt8(ascii: "-"),
                  label.allSatisfy({ isLetterOrDigit($0) || $0 == UInt8(ascii: "-") }) else { return false }
        }
        return !labels.last!.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    private static func isLetterOrDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// 1 to 65535 in plain decimal.
    private static func parsePort(_ text: some StringProtocol) -> UInt16? {
        guard text.first != "0", text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
        return UInt16(text)
    }
}
